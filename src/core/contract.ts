/**
 * The file contracts, declared once: `schemas/bacschedule.schema.json`,
 * `schemas/bacprofile-header.schema.json` (what each field may hold) and `schemas/bac-rules.json`
 * (how fields relate, the limits and the solver parameters). This module interprets the rule
 * table; `json-schema.ts` interprets the schemas. Python's `bac_runtime.schedule` reads the same
 * three files, so a rule change is one edit to them (plus its test) for both languages.
 *
 * Each rule kind (`maximumFrom`, `increasing`, `disjoint`, `unionContains`, `excludesValue`,
 * `disjointFrom`, `blockIds`, `idMatchesParts`) is implemented once here and once in Python. Rules
 * run after the schema walk and only on values the walk found clean.
 */
import rulesTable from '../../schemas/bac-rules.json';
import headerSchema from '../../schemas/bacprofile-header.schema.json';
import scheduleSchema from '../../schemas/bacschedule.schema.json';
import { checkValue, registerSchema, resolveRef, subschemaAt, type SchemaNode } from './json-schema';
import { childPath, IssueCollector, type NumberLiterals } from './json-validate';

registerSchema('bacschedule.schema.json', scheduleSchema as SchemaNode);

/** Limits that bound the work of validation (from the rule table). */
export const LIMITS: {
  readonly maxSteps: number;
  readonly maxIssues: number;
  readonly maxJsonDepth: number;
  readonly maxScheduleBytes: number;
} = rulesTable.limits;

/** The rule table's solver section (read by `solver-params.ts`). */
export const SOLVER_RULES = rulesTable.solver;

/** A contract: a root schema and its rule-table section. */
type Contract = 'schedule' | 'profileHeader';
const SCHEMAS: Record<Contract, SchemaNode> = {
  schedule: scheduleSchema as SchemaNode,
  profileHeader: headerSchema as SchemaNode,
};

interface Rule {
  readonly id: string;
  readonly kind: string;
  readonly at: string | readonly string[];
  readonly [k: string]: unknown;
}

type Segment = string | '*';
/** `blocks[*].acs` → `['blocks', '*', 'acs']`. */
const segmentsOf = (pattern: string): Segment[] =>
  pattern === ''
    ? []
    : pattern
        .replace(/\[\*\]/g, '.*')
        .split('.')
        .filter((s) => s !== '');

interface Found {
  readonly value: unknown;
  readonly path: string;
}

/** Every value matching `pattern` under `doc` (rooted at `base`). */
function expand(doc: unknown, pattern: string, base: string): Found[] {
  let found: Found[] = [{ value: doc, path: base }];
  for (const s of segmentsOf(pattern)) {
    const next: Found[] = [];
    for (const f of found) {
      if (s === '*') {
        if (Array.isArray(f.value)) f.value.forEach((v, i) => next.push({ value: v, path: childPath(f.path, i) }));
      } else if (typeof f.value === 'object' && f.value !== null && !Array.isArray(f.value)) {
        const o = f.value as Record<string, unknown>;
        if (Object.prototype.hasOwnProperty.call(o, s)) next.push({ value: o[s], path: childPath(f.path, s) });
      }
    }
    found = next;
  }
  return found;
}

const fill = (template: string, values: Record<string, unknown>): string =>
  template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));

const atList = (r: Rule): readonly string[] => (typeof r.at === 'string' ? [r.at] : r.at);

/**
 * Validates a parsed document against a contract: the schema walk, then the cross-field rules.
 * Issues go to `issues` with paths under `base` (`''` for a file, `'header'` for a profile header).
 * O(document size + Σ rule work), each rule linear in what it reads.
 */
export function validateDocument(
  contract: Contract,
  doc: unknown,
  literals: NumberLiterals,
  issues: IssueCollector,
  base = '',
): void {
  const root = SCHEMAS[contract];
  const section = rulesTable[contract];
  const rules = section.rules as readonly Rule[];
  const maximumAt = boundsFrom(root, rules, doc, literals, base);
  const walk = { root, issues, literals, maximumAt };
  // A file of many copies of one block would cost a full walk only to be rejected: stop early.
  for (const rule of rules) if (rule.kind === 'blockIds' && manyDuplicates(rule, doc, issues, base)) return;
  // A wrong format or version makes everything else noise: check those alone first.
  if (section.stopAfter.length > 0 && typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
    const o = doc as Record<string, unknown>;
    for (const k of section.stopAfter) {
      checkValue(walk, subschemaAt(root, [k])!, o[k], { container: o, key: k, path: childPath(base, k), pattern: k });
    }
    if (!issues.clean) return;
  }
  checkValue(walk, root, doc, { container: undefined, key: '', path: base, pattern: base });
  issues.freezeTaint();
  for (const rule of rules) applyRule(rule, doc, issues, base);
}

/**
 * Maxima taken from the document (`maximumFrom`: steps < K, budget ≤ K) when the value they come
 * from is itself valid; keyed by pattern path.
 */
function boundsFrom(
  root: SchemaNode,
  rules: readonly Rule[],
  doc: unknown,
  literals: NumberLiterals,
  base: string,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rules) {
    if (r.kind !== 'maximumFrom') continue;
    const from = String(r.bound);
    const [found] = expand(doc, from, '');
    const node = subschemaAt(root, segmentsOf(from));
    if (!found || !node) continue;
    const probe = new IssueCollector(1);
    const parent = expand(doc, from.split('.').slice(0, -1).join('.'), '')[0]?.value;
    checkValue({ root, issues: probe, literals }, node, found.value, {
      container: parent,
      key: from.split('.').pop()!,
      path: from,
      pattern: from,
    });
    if (!probe.clean) continue;
    for (const p of atList(r)) out.set(base ? `${base}.${p}` : p, (found.value as number) + Number(r.offset));
  }
  return out;
}

function applyRule(rule: Rule, doc: unknown, c: IssueCollector, base: string): void {
  const message = String(rule.message ?? '');
  const clean = (path: string): boolean => c.isClean(path);
  for (const pattern of atList(rule)) {
    for (const { value, path } of expand(doc, pattern, base)) {
      const o = value as Record<string, unknown>;
      const arrays = (fields: readonly string[]): (readonly number[])[] | undefined =>
        fields.every((f) => clean(childPath(path, f)) && Array.isArray(o?.[f]))
          ? fields.map((f) => o[f] as number[])
          : undefined;
      switch (rule.kind) {
        case 'maximumFrom':
          break; // applied during the schema walk
        case 'increasing': {
          if (!Array.isArray(value)) break;
          let prev = -Infinity;
          value.forEach((x: unknown, j) => {
            const at = childPath(path, j);
            if (typeof x !== 'number' || !clean(at)) return;
            if (x < prev) c.add(at, fill(message, { value: x, previous: prev }));
            prev = Math.max(prev, x);
          });
          break;
        }
        case 'disjoint':
        case 'unionContains': {
          const fields = rule.fields as string[];
          const sets = arrays(fields);
          if (!sets) break;
          const owner = new Map<number, string>();
          fields.forEach((f, n) =>
            sets[n]!.forEach((s, j) => {
              const other = owner.get(s);
              if (other === undefined) owner.set(s, f);
              else if (rule.kind === 'disjoint')
                c.add(childPath(childPath(path, f), j), fill(message, { value: s, other }));
            }),
          );
          if (rule.kind === 'unionContains' && !owner.has(rule.value as number)) c.add(path, message);
          break;
        }
        case 'excludesValue': {
          const [list] = arrays([rule.field as string]) ?? [];
          list?.forEach((s, j) => {
            if (s === rule.value)
              c.add(childPath(childPath(path, rule.field as string), j), fill(message, { value: s }));
          });
          break;
        }
        case 'disjointFrom': {
          const from = rule.from as string[];
          const sets = arrays([rule.field as string, ...from]);
          if (!sets) break;
          const owner = new Map<number, string>();
          from.forEach((f, n) => sets[n + 1]!.forEach((s) => owner.has(s) || owner.set(s, f)));
          const except = new Set((rule.except ?? []) as number[]);
          sets[0]!.forEach((s, j) => {
            const other = owner.get(s);
            if (other !== undefined && !except.has(s)) {
              c.add(childPath(childPath(path, rule.field as string), j), fill(message, { value: s, other }));
            }
          });
          break;
        }
        case 'idMatchesParts': {
          const [lf, kf] = rule.parts as [string, string];
          const idPath = childPath(path, rule.idField as string);
          if (![idPath, childPath(path, lf), childPath(path, kf)].every(clean)) break;
          const id = o[rule.idField as string];
          const expected = `${String(o[lf])}.${String(o[kf])}`;
          if (id !== expected) c.add(idPath, fill(message, { id, layer: o[lf], kind: o[kf], expected }));
          break;
        }
        case 'blockIds':
          checkBlockIds(c, value, path, rule.idField as string);
          break;
        default:
          throw new Error(`bac-rules.json: unknown rule kind ${rule.kind} (rule ${rule.id})`);
      }
    }
  }
}

/** Reports and returns true when more block ids repeat than the issue cap can list. O(blocks). */
function manyDuplicates(rule: Rule, doc: unknown, c: IssueCollector, base: string): boolean {
  const [found] = expand(doc, rule.at as string, base);
  if (!found || !Array.isArray(found.value)) return false;
  const seen = new Set<unknown>();
  let count = 0;
  let first: { id: unknown; at: string } | undefined;
  found.value.forEach((b: unknown, i) => {
    const id = typeof b === 'object' && b !== null ? (b as Record<string, unknown>)[rule.idField as string] : undefined;
    if (typeof id !== 'string') return;
    if (seen.has(id)) {
      count++;
      first ??= { id, at: childPath(childPath(found.path, i), rule.idField as string) };
    } else seen.add(id);
  });
  if (count <= c.max || !first) return false;
  c.add(found.path, fill(rulesTable.blockIds.tooManyDuplicates, { count, total: found.value.length, ...first }));
  return true;
}

const BLOCK_ID = /^(0|[1-9][0-9]{0,5})\.(sa|ca|ffn)$/;

/**
 * Block ids unique, in model order (layer ascending, then sa, ca, ffn) and complete (every kind for
 * every layer 0 … max). Ids the schema walk rejected are skipped, and completeness is then not
 * judged. Missing blocks beyond the issue cap are counted, not listed. O(n + issues).
 */
function checkBlockIds(c: IssueCollector, blocks: unknown, path: string, idKey: string): void {
  if (!Array.isArray(blocks) || blocks.length === 0) return; // the schema walk reported it
  const t = rulesTable.blockIds;
  const seen = new Map<string, number>();
  let prev: { id: string; rank: number } | undefined;
  let maxLayer = -1;
  let complete = true;
  blocks.forEach((b: unknown, i) => {
    const idPath = childPath(childPath(path, i), idKey);
    const id = (b as Record<string, unknown> | null)?.[idKey];
    const m = typeof id === 'string' && c.isClean(idPath) ? BLOCK_ID.exec(id) : null;
    if (!m) {
      complete = false;
      return;
    }
    const layer = Number(m[1]);
    const rank = layer * 3 + t.kinds.indexOf(m[2]!);
    const first = seen.get(m[0]);
    if (first !== undefined) {
      c.add(idPath, fill(t.duplicate, { id: m[0], first: childPath(path, first) }));
      return;
    }
    seen.set(m[0], i);
    if (prev && rank < prev.rank) c.add(idPath, fill(t.order, { id: m[0], previous: prev.id }));
    if (!prev || rank > prev.rank) prev = { id: m[0], rank };
    maxLayer = Math.max(maxLayer, layer);
  });
  if (!complete || maxLayer < 0) return;
  let missing = 3 * (maxLayer + 1) - seen.size;
  for (let layer = 0; layer <= maxLayer && missing > 0 && !c.full; layer++) {
    for (const kind of t.kinds) {
      const id = `${layer}.${kind}`;
      if (!seen.has(id)) {
        c.add(path, fill(t.missing, { id, maxLayer }));
        missing--;
      }
    }
  }
  // Up to a million layers can be claimed: count the rest instead of listing them.
  c.dropped += missing;
}

/** The resolved schema node at `segments` of a contract (for tests and tools). */
export function contractNode(contract: Contract, segments: readonly (string | number)[]): SchemaNode | undefined {
  const root = SCHEMAS[contract];
  const node = subschemaAt(root, segments);
  return node && resolveRef(root, node);
}
