/**
 * A small JSON Schema (draft-07) validator for the keywords our schemas use. It throws on any
 * other keyword, so a schema edit that needs more support fails loudly instead of validating less.
 * (No schema library is a declared dependency; this keeps the test self-contained.)
 */
// Schemas are untyped JSON walked by keyword.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Schema = Record<string, any>;

const SUPPORTED = new Set([
  '$schema',
  '$id',
  '$ref',
  'title',
  'description',
  'definitions',
  'type',
  'const',
  'enum',
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
  'oneOf',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Errors of `value` against `schema` (empty when valid), as `path: message`. */
export function validateJsonSchema(root: Schema, value: unknown): string[] {
  const errors: string[] = [];
  const resolve = (s: Schema): Schema => {
    if (!s.$ref) return s;
    const m = /^#\/definitions\/(.+)$/.exec(s.$ref);
    if (!m || !root.definitions?.[m[1]!]) throw new Error(`unsupported $ref ${s.$ref}`);
    return root.definitions[m[1]!];
  };
  const check = (schema: Schema, v: unknown, path: string): void => {
    for (const k of Object.keys(schema)) if (!SUPPORTED.has(k)) throw new Error(`unsupported keyword ${k} at ${path}`);
    const s = resolve(schema);
    if (s !== schema) return check(s, v, path);
    const t = typeOf(v);
    if (s.type !== undefined) {
      const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
      if (!types.some((x) => x === t || (x === 'number' && t === 'integer')))
        errors.push(`${path}: type ${t}, want ${types}`);
    }
    if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(v)) errors.push(`${path}: not const`);
    if (s.enum && !s.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(v)))
      errors.push(`${path}: not in enum`);
    if (typeof v === 'number') {
      if (s.minimum !== undefined && v < s.minimum) errors.push(`${path}: < minimum`);
      if (s.maximum !== undefined && v > s.maximum) errors.push(`${path}: > maximum`);
    }
    if (typeof v === 'string') {
      if (s.minLength !== undefined && [...v].length < s.minLength) errors.push(`${path}: too short`);
      if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) errors.push(`${path}: pattern`);
    }
    if (Array.isArray(v)) {
      if (s.minItems !== undefined && v.length < s.minItems) errors.push(`${path}: too few items`);
      if (s.uniqueItems && new Set(v.map((x) => JSON.stringify(x))).size !== v.length)
        errors.push(`${path}: duplicates`);
      if (s.items) v.forEach((x, i) => check(s.items, x, `${path}[${i}]`));
    }
    if (t === 'object') {
      const o = v as Record<string, unknown>;
      for (const r of s.required ?? []) if (!(r in o)) errors.push(`${path}.${r}: required`);
      for (const [k, x] of Object.entries(o)) {
        if (s.properties && k in s.properties) check(s.properties[k], x, `${path}.${k}`);
        else if (s.additionalProperties === false) errors.push(`${path}.${k}: additional property`);
      }
    }
    if (s.oneOf) {
      const n = s.oneOf.filter(
        (alt: Schema) => validateJsonSchema({ ...root, ...alt, definitions: root.definitions }, v).length === 0,
      ).length;
      if (n !== 1) errors.push(`${path}: matches ${n} of oneOf`);
    }
  };
  check(root, value, '$');
  return errors;
}

/**
 * The subschema describing `path` (a list of object keys and array markers), following `$ref`,
 * `properties`, `items` and `oneOf`; undefined when the schema does not describe it.
 */
export function subschemaAt(root: Schema, path: readonly (string | number)[]): Schema | undefined {
  const deref = (s: Schema): Schema => (s.$ref ? root.definitions[s.$ref.replace('#/definitions/', '')] : s);
  let candidates: Schema[] = [deref(root)];
  for (const step of path) {
    const next: Schema[] = [];
    const expand = (s: Schema): Schema[] => [s, ...(s.oneOf ?? []).map(deref)];
    for (const s of candidates.flatMap(expand)) {
      if (typeof step === 'number' && s.items) next.push(deref(s.items));
      if (typeof step === 'string' && s.properties?.[step]) next.push(deref(s.properties[step]));
    }
    if (next.length === 0) return undefined;
    candidates = next;
  }
  return candidates[0];
}
