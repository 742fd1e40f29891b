/**
 * Seeded generators of malformed `.bacschedule` (JSON text) and `.bacprofile` (binary) files, by
 * mutating valid fixtures: truncation, byte flips, wrong types, huge strings, deep nesting,
 * duplicate keys, NaN/Infinity, bogus numbers, non-UTF-8 bytes, lying header lengths. Each
 * mutant is labelled, so a failing case names how it was made.
 */
import { seededRandom } from './rng';

/** One generated input. */
export interface Mutant {
  /** How it was made, e.g. `set blocks[2].acs = "x"…`. */
  readonly label: string;
  readonly bytes: Uint8Array;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const enc = new TextEncoder();

/** A seeded random source with the helpers the mutations need. */
class Dice {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

/** Flips 1–4 random bits of `b[lo, hi)` in place; returns how many. */
function flipBits(b: Uint8Array, lo: number, hi: number, d: Dice): number {
  const flips = 1 + d.int(4);
  for (let f = 0; f < flips; f++) {
    const at = lo + d.int(hi - lo);
    b[at] = b[at]! ^ (1 << d.int(8));
  }
  return flips;
}

/** Replacement values: wrong types, extremes and oddities. Strings of raw JSON (kept as text). */
const RAW_VALUES = [
  'null',
  'true',
  '""',
  '"x"',
  '[]',
  '{}',
  '-1',
  '0',
  '-0',
  '1.5',
  '1e400',
  '-1e400',
  '1e-400',
  '3.0000000000000001',
  '99.99999999999999999',
  '9007199254740993',
  '123456789012345678901234567890',
  'NaN',
  'Infinity',
  '-Infinity',
  '0x10',
  '[0, 0, 0]',
  '[-1]',
  '[1e9]',
  '["0"]',
  '[null]',
  '{"": 1}',
  '"\\u0000"',
  '"\\ud800"',
  '"../../../../etc/passwd"',
];

/** A huge or deep value, as raw JSON text (built on demand: they are large). */
function bigValue(d: Dice): string {
  switch (d.int(5)) {
    case 0:
      return JSON.stringify('s'.repeat(100_000 + d.int(900_000)));
    case 1:
      return '['.repeat(5000 + d.int(50_000)); // unterminated deep nesting
    case 2: {
      const depth = 2000 + d.int(20_000);
      return `${'['.repeat(depth)}0${']'.repeat(depth)}`;
    }
    case 3:
      return `[${Array.from({ length: 50_000 + d.int(100_000) }, (_, i) => i % 7).join(',')}]`;
    default:
      return `{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`;
  }
}

/** Every path (as key lists) into `v`, up to a few hundred. */
function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (out.length > 400 || v === null || typeof v !== 'object') return out;
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

const pathLabel = (p: (string | number)[]): string =>
  p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');

/**
 * JSON text of `doc` with the value at `path` replaced by raw text `raw` (or the key deleted when
 * `raw` is undefined). Serialises with a placeholder so the raw text may be invalid JSON.
 */
function withRaw(doc: Json, path: (string | number)[], raw: string | undefined): string {
  const MARK = '"\u0001BAC_MUTANT\u0001"';
  if (path.length === 0) return raw ?? '';
  const copy = JSON.parse(JSON.stringify(doc)) as Json;
  let parent = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (raw === undefined) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
    return JSON.stringify(copy, null, 2);
  }
  parent[last] = '\u0001BAC_MUTANT\u0001';
  return JSON.stringify(copy, null, 2).replace(MARK, () => raw);
}

/** Mutations of JSON text `text` (parsed as `doc`); `count` of them, seeded. */
export function mutateJson(text: string, count: number, seed: number): Mutant[] {
  const d = new Dice(seed);
  const doc = JSON.parse(text) as Json;
  const all = paths(doc);
  const bytes = enc.encode(text);
  const out: Mutant[] = [];
  for (let i = 0; i < count; i++) {
    const p = d.pick(all);
    const where = pathLabel(p) || '(root)';
    const kind = d.int(12);
    if (kind === 0) {
      const at = d.int(bytes.length);
      out.push({ label: `truncated at byte ${at}`, bytes: bytes.slice(0, at) });
    } else if (kind === 1) {
      const b = bytes.slice();
      const flips = flipBits(b, 0, b.length, d);
      out.push({ label: `${flips} bit flip(s)`, bytes: b });
    } else if (kind === 2) {
      const b = bytes.slice();
      b[d.int(b.length)] = d.pick([0x00, 0x80, 0xc3, 0xff, 0xfe]);
      out.push({ label: 'a non-UTF-8 / control byte', bytes: b });
    } else if (kind === 3) {
      out.push({ label: `delete ${where}`, bytes: enc.encode(withRaw(doc, p, undefined)) });
    } else if (kind === 4) {
      const big = bigValue(d);
      out.push({
        label: `set ${where} = <${big.length} chars of ${big.slice(0, 12)}…>`,
        bytes: enc.encode(withRaw(doc, p, big)),
      });
    } else if (kind === 5) {
      // duplicate key: the object at `where` (or the root) gets its first key again
      const t = JSON.stringify(doc, null, 2);
      const at = t.indexOf('{');
      const firstKey = Object.keys(doc as object)[0]!;
      const dup = `${t.slice(0, at + 1)}\n  ${JSON.stringify(firstKey)}: ${d.pick(RAW_VALUES)},${t.slice(at + 1)}`;
      out.push({ label: `duplicate key ${firstKey}`, bytes: enc.encode(dup) });
    } else if (kind === 6) {
      const key = d.int(4) === 0 ? 'k'.repeat(200_000 + d.int(800_000)) : `unknown${d.int(100)}`;
      const t = JSON.stringify(doc, null, 2);
      out.push({
        label: `unknown key of ${key.length} chars`,
        bytes: enc.encode(`{${JSON.stringify(key)}: 1, ${t.slice(1)}`),
      });
    } else if (kind === 7) {
      out.push({ label: 'BOM + text', bytes: new Uint8Array([0xef, 0xbb, 0xbf, ...bytes]) });
    } else if (kind === 8) {
      out.push({ label: 'empty file', bytes: new Uint8Array(0) });
    } else {
      const raw = d.pick(RAW_VALUES);
      out.push({ label: `set ${where} = ${raw}`, bytes: enc.encode(withRaw(doc, p, raw)) });
    }
  }
  return out;
}

const align4 = (n: number): number => (n + 3) & ~3;

/** A `.bacprofile` with header JSON `header` and the payload of `original`. */
function withHeader(original: Uint8Array, header: Uint8Array): Uint8Array {
  const view = new DataView(original.buffer, original.byteOffset, original.byteLength);
  const payload = original.subarray(align4(16 + view.getUint32(12, true)));
  const out = new Uint8Array(align4(16 + header.length) + payload.length);
  out.set(original.subarray(0, 12), 0);
  new DataView(out.buffer).setUint32(12, header.length, true);
  out.set(header, 16);
  out.set(payload, align4(16 + header.length));
  return out;
}

/** Mutations of a valid `.bacprofile`: its binary frame and its JSON header. */
export function mutateProfile(original: Uint8Array, count: number, seed: number): Mutant[] {
  const d = new Dice(seed);
  const view = new DataView(original.buffer, original.byteOffset, original.byteLength);
  const headerLength = view.getUint32(12, true);
  const headerText = new TextDecoder().decode(original.subarray(16, 16 + headerLength));
  const headerMutants = mutateJson(headerText, count, seed ^ 0x5eed);
  const out: Mutant[] = [];
  for (let i = 0; i < count; i++) {
    const kind = d.int(6);
    if (kind === 0) {
      const at = d.int(original.length);
      out.push({ label: `truncated at byte ${at}`, bytes: original.slice(0, at) });
    } else if (kind === 1) {
      const b = original.slice();
      const region = d.pick(['preamble', 'header', 'payload'] as const);
      const [lo, hi] =
        region === 'preamble' ? [0, 16] : region === 'header' ? [16, 16 + headerLength] : [16 + headerLength, b.length];
      const flips = flipBits(b, lo, hi, d);
      out.push({ label: `${flips} bit flip(s) in the ${region}`, bytes: b });
    } else if (kind === 2) {
      const b = original.slice();
      const lie = d.pick([0, 1, headerLength - 1, headerLength + 1, b.length, 16 * 1024 * 1024 + 1, 0xffffffff]);
      new DataView(b.buffer).setUint32(12, lie, true);
      out.push({ label: `header length says ${lie}`, bytes: b });
    } else if (kind === 3) {
      const b = original.slice();
      const payloadAt = align4(16 + headerLength) + 4 * d.int((b.length - align4(16 + headerLength)) / 4);
      new DataView(b.buffer).setFloat32(payloadAt, d.pick([NaN, Infinity, -Infinity, 2, -2, 1e30]), true);
      out.push({ label: `payload float at ${payloadAt} made non-finite or out of range`, bytes: b });
    } else {
      const m = headerMutants[i]!;
      out.push({ label: `header: ${m.label}`, bytes: withHeader(original, m.bytes) });
    }
  }
  return out;
}
