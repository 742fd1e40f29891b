/**
 * A JSON Schema (draft-07) interpreter for the subset our file contracts use, with messages built
 * from the schema: each issue says what is wrong, then what is expected.
 *
 * Keywords: `$ref` (to `#/definitions/…`), `type`, `const`, `properties`, `required`,
 * `additionalProperties: false`, `items`, `minItems`, `uniqueItems`, `minimum`, `maximum`,
 * `minLength`, `pattern`, `format: "date-time"`, `oneOf` (alternatives told apart by type).
 * Annotations for messages: `x-expected` (the "expected …" phrase; `{range}` is replaced by the
 * integer range), `x-noun` ("step 104 is out of range"), `x-wrong` (the "what is wrong" phrase for a
 * `const` of the right type; `{shown}` is the value), `x-empty` (what a `minItems` array should
 * hold). Any other keyword throws, so a schema edit the interpreter does not support fails every
 * test instead of validating less. Python's `bac_runtime.schedule` interprets the same subset.
 */
import { childPath, describeValue, type IssueCollector, type NumberLiterals } from './json-validate';

/** A JSON Schema node, as parsed from the schema file. */
export type SchemaNode = Readonly<Record<string, unknown>>;

/** The keywords this interpreter supports; any other throws (scripts/gen-schema-types.ts accepts the same set). */
export const SCHEMA_KEYWORDS: ReadonlySet<string> = new Set([
  '$schema',
  '$id',
  '$ref',
  '$comment',
  'title',
  'description',
  'definitions',
  'type',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'uniqueItems',
  'minimum',
  'maximum',
  'minLength',
  'pattern',
  'format',
  'oneOf',
  'x-expected',
  'x-noun',
  'x-wrong',
  'x-empty',
]);

/** Largest integer JSON numbers can hold exactly; the implied maximum of every integer field. */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** RFC 3339 date-time, as `format: "date-time"` requires. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** What the walk needs besides the value. */
export interface SchemaWalk {
  /** The document's root schema (for `$ref`). */
  readonly root: SchemaNode;
  readonly issues: IssueCollector;
  /** Number literals that are not integers as written. */
  readonly literals: NumberLiterals;
  /** A tighter maximum for the value at a pattern path (`blocks[*].acs[*]`), from the rule table. */
  readonly maximumAt?: ReadonlyMap<string, number>;
}

/** Schemas other schemas refer to by file name (`bacschedule.schema.json#/definitions/cost`). */
const REGISTRY = new Map<string, SchemaNode>();

/** Makes `schema` reachable from `$ref`s as `<name>#/definitions/…`. */
export function registerSchema(name: string, schema: SchemaNode): void {
  REGISTRY.set(name, schema);
}

/**
 * Follows `$ref` (`#/definitions/x` in `root`, or `<file>#/definitions/x` in a registered
 * schema), keeping the referring node's own annotations.
 */
export function resolveRef(root: SchemaNode, node: SchemaNode): SchemaNode {
  const hit = RESOLVED.get(node);
  if (hit && hit.root === root) return hit.node;
  const resolved = resolveUncached(root, node);
  RESOLVED.set(node, { root, node: resolved });
  return resolved;
}

/** Resolved nodes: a schema walk visits the same few nodes for every block. */
const RESOLVED = new WeakMap<SchemaNode, { root: SchemaNode; node: SchemaNode }>();

function resolveUncached(root: SchemaNode, node: SchemaNode): SchemaNode {
  for (const k of Object.keys(node)) if (!SCHEMA_KEYWORDS.has(k)) throw new Error(`unsupported schema keyword ${k}`);
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  const m = /^([^#]*)#\/definitions\/([^/]+)$/.exec(ref);
  const file = m?.[1] ? REGISTRY.get(m[1]) : root;
  const target = m ? (file?.definitions as Record<string, SchemaNode> | undefined)?.[m[2]!] : undefined;
  if (!target || !file) throw new Error(`unsupported $ref ${ref}`);
  const { $ref: _ref, ...own } = node;
  return { ...resolveRef(file, target), ...own };
}

/** The subschema at `path` segments (array items for numbers), or undefined. */
export function subschemaAt(root: SchemaNode, segments: readonly (string | number)[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = resolveRef(root, root);
  const step = (n: SchemaNode, s: string | number): SchemaNode | undefined => {
    const next: unknown = typeof s === 'number' ? n.items : (n.properties as Record<string, unknown> | undefined)?.[s];
    if (next && typeof next === 'object') return resolveRef(root, next as SchemaNode);
    // into the alternatives of a oneOf (e.g. a file reference or null)
    for (const alt of (n.oneOf ?? []) as SchemaNode[]) {
      const found = step(resolveRef(root, alt), s);
      if (found) return found;
    }
    return undefined;
  };
  for (const s of segments) {
    if (!node) return undefined;
    node = step(node, s);
  }
  return node;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function matchesType(t: string, v: unknown): boolean {
  switch (t) {
    case 'integer':
    case 'number':
      return typeof v === 'number';
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    default:
      return typeOf(v) === t;
  }
}

const TYPES = new WeakMap<SchemaNode, readonly string[]>();
function typesOf(node: SchemaNode): readonly string[] {
  let t = TYPES.get(node);
  if (!t) {
    t = node.type === undefined ? [] : Array.isArray(node.type) ? (node.type as string[]) : [node.type as string];
    TYPES.set(node, t);
  }
  return t;
}

const TYPE_WORDS: Record<string, string> = {
  boolean: 'true or false',
  string: 'a string',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function rangeText(integer: boolean, min: number | undefined, max: number | undefined): string {
  if (!integer) return min === undefined ? 'a finite number' : `a finite number ≥ ${min}`;
  const lo = min ?? -MAX_SAFE;
  if (max === undefined || max >= MAX_SAFE) return `an integer ≥ ${lo}`;
  return lo === max ? `the integer ${lo}` : `an integer in ${lo}…${max}`;
}

/**
 * Checks `value` (stored at `container[key]`, at `path`; `pattern` is the path with indices as
 * `[*]`) against `node`, reporting every issue. O(size of the value).
 */
export function checkValue(
  walk: SchemaWalk,
  rawNode: SchemaNode,
  value: unknown,
  at: { container: unknown; key: string | number; path: string; pattern: string },
): void {
  const node = resolveRef(walk.root, rawNode);
  const c = walk.issues;
  const { path, pattern } = at;
  const types = typesOf(node);
  const range = (): string => rangeFor(walk, node, pattern);
  const expected = (): string => expectedFor(walk, node, pattern);

  if (node.oneOf) {
    const alts = (node.oneOf as SchemaNode[]).map((a) => resolveRef(walk.root, a));
    const alt = alts.find((a) => (a.type === undefined ? false : matchesType(a.type as string, value)));
    if (!alt) c.add(path, `${describeValue(value)}, expected ${expected()}`);
    else checkValue(walk, { ...alt, ...(node['x-expected'] ? { 'x-expected': node['x-expected'] } : {}) }, value, at);
    return;
  }
  if (node.const !== undefined) {
    if (value !== node.const || walk.literals.notIntegerAsWritten(at.container, at.key) !== undefined) {
      const wrong = node['x-wrong'];
      const what =
        typeof wrong === 'string' && typeof value === typeof node.const
          ? wrong.replace('{shown}', typeof value === 'string' ? JSON.stringify(value) : String(value))
          : describeValue(value);
      c.add(path, `${what}, expected ${expected()}`);
    }
    return;
  }
  if (types.length > 0 && !types.some((t) => matchesType(t, value))) {
    c.add(path, `${describeValue(value)}, expected ${expected()}`);
    return;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      c.add(path, `${describeValue(value)}, expected ${expected()}`);
      return;
    }
    if (types.includes('integer') && !types.includes('number')) {
      const literal = walk.literals.notIntegerAsWritten(at.container, at.key);
      if (!Number.isInteger(value) || literal !== undefined) {
        c.add(path, `${literal ?? value} is not an integer, expected ${expected()}`);
        return;
      }
    }
    const min = node.minimum as number | undefined;
    const max = maximumOf(walk, node, pattern) ?? (types.includes('integer') ? MAX_SAFE : undefined);
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      const noun = typeof node['x-noun'] === 'string' ? `${node['x-noun']} ` : '';
      c.add(path, `${noun}${value} is out of range, expected ${range()}`);
    }
    return;
  }
  if (typeof value === 'string') {
    const minLength = node.minLength as number | undefined;
    const ok =
      (minLength === undefined || value.length >= minLength) &&
      (node.pattern === undefined || patternOf(node.pattern as string).test(value)) &&
      (node.format !== 'date-time' || (DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))));
    if (!ok) c.add(path, `${describeValue(value)}, expected ${expected()}`);
    return;
  }
  if (Array.isArray(value)) {
    checkArray(walk, node, value, at);
    return;
  }
  if (typeof value === 'object' && value !== null) checkObject(walk, node, value as Record<string, unknown>, at);
}

function rangeFor(walk: SchemaWalk, node: SchemaNode, pattern: string): string {
  return rangeText(
    typesOf(node).includes('integer'),
    node.minimum as number | undefined,
    maximumOf(walk, node, pattern),
  );
}

/** The "expected …" phrase of a node. */
function expectedFor(walk: SchemaWalk, node: SchemaNode, pattern: string): string {
  const types = typesOf(node);
  const x = node['x-expected'];
  if (typeof x === 'string') return x.replace('{range}', rangeFor(walk, node, pattern));
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (types.includes('integer') || types.includes('number')) return rangeFor(walk, node, pattern);
  return types.map((t) => TYPE_WORDS[t] ?? t).join(' or ');
}

const PATTERNS = new Map<string, RegExp>();
const patternOf = (p: string): RegExp => {
  let r = PATTERNS.get(p);
  if (!r) PATTERNS.set(p, (r = new RegExp(p, 'u')));
  return r;
};

function maximumOf(walk: SchemaWalk, node: SchemaNode, pattern: string): number | undefined {
  const own = node.maximum as number | undefined;
  const tighter = walk.maximumAt?.get(pattern);
  return tighter === undefined ? own : own === undefined ? tighter : Math.min(own, tighter);
}

function checkArray(
  walk: SchemaWalk,
  node: SchemaNode,
  value: readonly unknown[],
  at: { path: string; pattern: string },
): void {
  const c = walk.issues;
  const expected = (): string => expectedFor(walk, node, at.pattern);
  const minItems = node.minItems as number | undefined;
  if (minItems !== undefined && value.length < minItems) {
    const x = node['x-empty'];
    c.add(
      at.path,
      value.length === 0 && typeof x === 'string'
        ? `is empty, expected ${x}`
        : `has ${value.length} item(s), expected at least ${minItems} (${expected()})`,
    );
  }
  const items = node.items as SchemaNode | undefined;
  const itemNode = items ? resolveRef(walk.root, items) : undefined;
  const noun = typeof itemNode?.['x-noun'] === 'string' ? (itemNode['x-noun'] as string) : 'item';
  const seen = node.uniqueItems ? new Set<unknown>() : undefined;
  const itemPattern = `${at.pattern}[*]`;
  for (let i = 0; i < value.length; i++) {
    const x = value[i];
    const path = `${at.path}[${i}]`;
    if (itemNode) checkValue(walk, itemNode, x, { container: value, key: i, path, pattern: itemPattern });
    if (seen && (x === null || typeof x !== 'object')) {
      if (seen.has(x) && c.isClean(path)) c.add(path, `${noun} ${String(x)} is repeated, expected each ${noun} once`);
      seen.add(x);
    }
  }
}

function checkObject(
  walk: SchemaWalk,
  node: SchemaNode,
  value: Record<string, unknown>,
  at: { path: string; pattern: string },
): void {
  const c = walk.issues;
  const properties = (node.properties ?? {}) as Record<string, SchemaNode>;
  const keys = Object.keys(properties);
  const required = (node.required ?? []) as string[];
  for (const k of keys) {
    if (!Object.prototype.hasOwnProperty.call(value, k)) {
      if (!required.includes(k)) continue;
      c.add(childPath(at.path, k), `is missing, expected ${expectedFor(walk, node, at.pattern)}`);
    }
    const path = childPath(at.path, k);
    checkValue(walk, properties[k]!, value[k], { container: value, key: k, path, pattern: childPath(at.pattern, k) });
  }
  if (node.additionalProperties === false) {
    for (const k of Object.keys(value)) {
      if (!keys.includes(k)) c.add(childPath(at.path, k), `unknown key "${k}", expected only ${keys.join(', ')}`);
    }
  }
}
