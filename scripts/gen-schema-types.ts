/**
 * Generates the TypeScript types of the file contracts from their JSON Schemas, so that the
 * `.bacschedule` and `.bacprofile` header types are declared once (in `schemas/`) and the
 * compiler checks every reader and writer against them.
 *
 * `npm run gen:types` writes `src/core/generated/*.types.ts`; test/unit/schema-types.test.ts
 * regenerates in memory and fails when the checked-in files differ, so a schema edit forces a
 * regeneration. Output is formatted with the repository's prettier settings.
 *
 * Interprets the subset of draft-07 the contracts use (see src/core/json-schema.ts): `type`
 * (one or several), `const`, `properties` + `required` (absent → optional), `items`, `oneOf`
 * (a union), `$ref` to `#/definitions/…` in the same file or in another contract, and a
 * `pattern` that is a plain alternation of words (`^(sa|ca|ffn)$` → `'sa' | 'ca' | 'ffn'`).
 * Value constraints (ranges, lengths, other patterns) do not narrow the type; they appear in the
 * JSDoc. Any other keyword throws, so a schema edit this generator does not understand fails
 * the up-to-date test instead of producing a looser type.
 *
 * Names: the root is named in {@link CONTRACTS}; a definition by its key in PascalCase; a nested
 * object by its parent's name plus the property's (`ScheduleFile` + `sampler` → `ScheduleFileSampler`),
 * array items by the property's name without a plural `s` (`blocks` → `…Block`).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { SCHEMA_KEYWORDS } from '../src/core/json-schema';

type Node = Readonly<Record<string, unknown>>;

/** One generated file: its schema, the name of its root type and where it is written. */
export interface ContractTypes {
  readonly schema: string;
  readonly root: string;
  readonly output: string;
}

/** The contracts whose types are generated (schema file → root type → output). */
export const CONTRACTS: readonly ContractTypes[] = [
  { schema: 'bacschedule.schema.json', root: 'ScheduleFile', output: 'bacschedule.types.ts' },
  { schema: 'bacprofile-header.schema.json', root: 'ProfileHeader', output: 'bacprofile-header.types.ts' },
];

const SCHEMA_DIR = 'schemas';
const OUTPUT_DIR = join('src', 'core', 'generated');

const pascal = (s: string): string => s.replace(/(^|[^A-Za-z0-9])([a-z0-9])/g, (_m, _p, c: string) => c.toUpperCase());

/** A pattern of the form `^(a|b|c)$` over plain words: the strings it accepts, else undefined. */
function patternWords(pattern: unknown): string[] | undefined {
  const m = typeof pattern === 'string' ? /^\^\(([A-Za-z0-9_|]+)\)\$$/.exec(pattern) : null;
  return m ? m[1]!.split('|') : undefined;
}

/** The JSDoc lines of a node: its description and the value constraints the type cannot carry. */
function docLines(n: Node): string[] {
  const lines: string[] = [];
  if (typeof n.description === 'string') lines.push(n.description);
  const facts: string[] = [];
  if (n.type === 'integer') facts.push('integer');
  if (n.minimum !== undefined && n.maximum !== undefined) facts.push(`${n.minimum} … ${n.maximum}`);
  else if (n.minimum !== undefined) facts.push(`≥ ${n.minimum}`);
  else if (n.maximum !== undefined) facts.push(`≤ ${n.maximum}`);
  if (n.minLength !== undefined) facts.push(n.minLength === 1 ? 'non-empty' : `at least ${n.minLength} characters`);
  if (n.minItems !== undefined) facts.push(n.minItems === 1 ? 'non-empty' : `at least ${n.minItems} items`);
  if (n.uniqueItems === true) facts.push('items unique');
  if (typeof n.pattern === 'string' && !patternWords(n.pattern)) facts.push(`pattern \`${n.pattern}\``);
  if (typeof n.format === 'string') facts.push(`format ${n.format}`);
  if (facts.length > 0) lines.push(`Schema: ${facts.join(', ')}.`);
  return lines.map((l) => l.replace(/\*\//g, '*\\/'));
}

function jsDoc(n: Node, indent: string): string {
  const lines = docLines(n);
  if (lines.length === 0) return '';
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
}

/** Generates one contract's declarations. */
class Generator {
  private readonly declarations: string[] = [];
  private readonly imports = new Map<string, Set<string>>();
  private readonly named = new Set<string>();

  constructor(
    private readonly schemaFile: string,
    private readonly schema: Node,
  ) {}

  /** The whole module text (before formatting). */
  module(root: string): string {
    this.declare(root, this.schema);
    const defs = (this.schema.definitions ?? {}) as Record<string, Node>;
    for (const [key, def] of Object.entries(defs)) this.declare(pascal(key), def);
    const importLines = [...this.imports].map(
      ([file, names]) => `import type { ${[...names].sort().join(', ')} } from './${file}';\n`,
    );
    return [
      `// Generated from schemas/${this.schemaFile} by scripts/gen-schema-types.ts — do not edit;\n` +
        '// run `npm run gen:types` after changing the schema.\n',
      importLines.join(''),
      this.declarations.join('\n'),
    ]
      .filter((s) => s !== '')
      .join('\n');
  }

  /** Declares `name` for `n`: an interface for an object, a type alias for anything else. */
  private declare(name: string, n: Node): void {
    if (this.named.has(name)) throw new Error(`${this.schemaFile}: two types named ${name}`);
    this.named.add(name);
    const doc = jsDoc(n, '');
    if (n.type === 'object' && n.properties !== undefined) {
      this.declarations.push(`${doc}export interface ${name} {\n${this.members(name, n)}}\n`);
    } else {
      this.declarations.push(`${doc}export type ${name} = ${this.typeOf(name, n)};\n`);
    }
  }

  private members(owner: string, n: Node): string {
    if (n.additionalProperties !== false) {
      throw new Error(
        `${this.schemaFile}: ${owner} must say additionalProperties: false (open objects are not generated)`,
      );
    }
    const required = new Set((n.required ?? []) as string[]);
    const props = n.properties as Record<string, Node>;
    for (const r of required) if (!(r in props)) throw new Error(`${this.schemaFile}: ${owner} requires unknown ${r}`);
    return Object.entries(props)
      .map(([key, p]) => {
        const opt = required.has(key) ? '' : '?';
        return `${jsDoc(p, '  ')}  readonly ${key}${opt}: ${this.typeOf(owner + pascal(key), p)};\n`;
      })
      .join('');
  }

  /** The type expression of `n`; nested objects are declared under `name`. */
  private typeOf(name: string, n: Node): string {
    for (const k of Object.keys(n)) {
      // Of the validator's keywords, type, const, properties, required, additionalProperties, items,
      // oneOf and $ref shape the type; the rest only constrain values (one added there that shapes
      // types, say `enum`, must be handled here).
      if (!SCHEMA_KEYWORDS.has(k)) {
        throw new Error(`${this.schemaFile}: keyword ${k} (at ${name}) is not supported by gen-schema-types`);
      }
    }
    if (typeof n.$ref === 'string') return this.ref(n.$ref);
    if ('const' in n) return JSON.stringify(n.const).replace(/^"(.*)"$/, "'$1'");
    if (Array.isArray(n.oneOf)) {
      return (n.oneOf as Node[]).map((alt, i) => this.typeOf(`${name}${i}`, alt)).join(' | ');
    }
    const types = Array.isArray(n.type) ? (n.type as string[]) : [n.type as string];
    return types.map((t) => this.single(name, t, n)).join(' | ');
  }

  private single(name: string, type: string, n: Node): string {
    switch (type) {
      case 'string': {
        const words = patternWords(n.pattern);
        return words ? words.map((w) => `'${w}'`).join(' | ') : 'string';
      }
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'array': {
        const items = n.items as Node | undefined;
        if (!items || Array.isArray(items)) throw new Error(`${this.schemaFile}: ${name} needs one items schema`);
        const item = this.typeOf(name.endsWith('s') ? name.slice(0, -1) : `${name}Item`, items);
        return /^[A-Za-z0-9_]+$/.test(item) ? `readonly ${item}[]` : `readonly (${item})[]`;
      }
      case 'object': {
        if (n.properties === undefined) throw new Error(`${this.schemaFile}: ${name} has no properties`);
        this.declare(name, n);
        return name;
      }
      default:
        throw new Error(`${this.schemaFile}: type ${type} (at ${name}) is not supported by gen-schema-types`);
    }
  }

  /** `#/definitions/x` → `X`; `other.schema.json#/definitions/x` → `X`, imported from its generated file. */
  private ref(ref: string): string {
    const m = /^([^#]*)#\/definitions\/([A-Za-z0-9_]+)$/.exec(ref);
    if (!m) throw new Error(`${this.schemaFile}: $ref ${ref} is not supported by gen-schema-types`);
    const [, file, key] = m as unknown as [string, string, string];
    const name = pascal(key);
    if (file !== '' && file !== this.schemaFile) {
      const target = CONTRACTS.find((c) => c.schema === file);
      if (!target) throw new Error(`${this.schemaFile}: $ref to ${file}, which is not in CONTRACTS`);
      const module = target.output.replace(/\.ts$/, '');
      if (!this.imports.has(module)) this.imports.set(module, new Set());
      this.imports.get(module)!.add(name);
    }
    return name;
  }
}

/** The unformatted module declaring the types of `schema` (read from `schemas/<schemaFile>`), rooted at `root`. */
export function typesModule(schemaFile: string, schema: Node, root: string): string {
  return new Generator(schemaFile, schema).module(root);
}

/** Every generated file (path relative to the repository root → formatted text), from the schemas under `repo`. */
export async function generateSchemaTypes(repo: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const c of CONTRACTS) {
    const schema = JSON.parse(readFileSync(join(repo, SCHEMA_DIR, c.schema), 'utf8')) as Node;
    const path = join(OUTPUT_DIR, c.output);
    const options = (await resolveConfig(join(repo, path))) ?? {};
    out.set(path, await format(typesModule(c.schema, schema, c.root), { ...options, parser: 'typescript' }));
  }
  return out;
}

async function main(): Promise<void> {
  const root = join(__dirname, '..');
  mkdirSync(join(root, OUTPUT_DIR), { recursive: true });
  for (const [path, text] of await generateSchemaTypes(root)) {
    writeFileSync(join(root, path), text);
    console.log(`wrote ${path}`);
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
