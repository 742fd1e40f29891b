/**
 * The `.bacprofile` container: profiling statistics in a small binary file.
 *
 * A K=100, 24-block profile holds 48 symmetric 100×100 float matrices; as JSON text that is
 * ~5 MB, as float32 upper triangles it is ~0.97 MB. Layout (all integers little-endian):
 *
 * | offset        | size | content                                                          |
 * |---------------|------|------------------------------------------------------------------|
 * | 0             | 8    | magic `BACPROF\0` (ASCII, NUL-terminated)                        |
 * | 8             | 4    | u32 format version ({@link PROFILE_VERSION})                     |
 * | 12            | 4    | u32 header length H in bytes                                     |
 * | 16            | H    | header: UTF-8 JSON, see {@link ProfileHeader}                    |
 * | 16 + H        | 0…3  | zero padding up to the payload start P = align4(16 + H)          |
 * | P             | …    | payload: float32 LE arrays, each at `P + offset` (offset % 4 = 0)|
 *
 * The header holds every scalar of {@link Profile}, per block `{id, layer, kind, l1Mean, l1Std,
 * cost}`, and an `arrays` table `{name, offset, length}` (offset in bytes from P, length in
 * float32 elements). Each block has two arrays, `<id>.simMean` and `<id>.simStd`, each the upper
 * triangle including the diagonal of the symmetric K×K matrix, row by row: (0,0) (0,1) … (0,K−1)
 * (1,1) … (K−1,K−1), K(K+1)/2 values. The file ends right after the last array. There is no
 * checksum: the model's sha256 in the header ties the profile to its model, and the schedule
 * records the profile's own sha256.
 *
 * Serialising is deterministic (same Profile → same bytes); parsing validates every byte range and
 * value and never throws.
 */
import { BacError } from './errors';
import { LIMITS, validateDocument } from './contract';
import { formatIssues, IssueCollector, parseJson, type FormatIssue } from './json-validate';
import type { ProfileHeader, ProfileHeaderArray } from './generated/bacprofile-header.types';
import type { BlockProfile, Cost, Profile } from './types';

/** The 8 magic bytes that open every `.bacprofile`. */
export const PROFILE_MAGIC = new Uint8Array([0x42, 0x41, 0x43, 0x50, 0x52, 0x4f, 0x46, 0x00]);
/** The only `.bacprofile` version this build reads and writes. */
export const PROFILE_VERSION = 1;
/** Similarities may overshoot ±1 by float rounding of the cosine; beyond this they are corrupt. */
export const SIM_TOLERANCE = 1e-3;
/** Largest header accepted (a 1000-layer model's header is ~0.5 MB); bounds work on hostile input. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
const PREAMBLE_BYTES = 16;

/**
 * One entry of the header's array table (generated from the header schema): `name` is
 * `<block id>.simMean` or `<block id>.simStd`, `offset` a byte offset from the payload start (a
 * multiple of 4), `length` the number of float32 elements, K(K+1)/2.
 */
export type ProfileArrayEntry = ProfileHeaderArray;

/** The JSON header of a `.bacprofile` (key order as written; generated from the header schema). */
export type { ProfileHeader };

/** Outcome of {@link parseProfile}. */
export type ParseProfileResult =
  { readonly ok: true; readonly profile: Profile } | { readonly ok: false; readonly errors: readonly FormatIssue[] };

/** Number of entries of the upper triangle (diagonal included) of a K×K matrix. */
export function triangleLength(K: number): number {
  return (K * (K + 1)) / 2;
}

const align4 = (n: number): number => (n + 3) & ~3;

const copyCost = (x: Cost): Cost => ({ flops: x.flops, timeUs: x.timeUs });

/** A block's scalars, which a profile and its header share (header key order). */
function blockScalars(b: BlockProfile | ProfileHeader['blocks'][number]) {
  return { id: b.id, layer: b.layer, kind: b.kind, l1Mean: b.l1Mean, l1Std: b.l1Std, cost: copyCost(b.cost) };
}

/**
 * The run's scalars, which a profile and its header share, copied into plain objects in the
 * header's key order (the serialised header depends on it).
 */
function runScalars(x: Profile | ProfileHeader) {
  return {
    model: { path: x.model.path, sha256: x.model.sha256 },
    sampler: { type: x.sampler.type, steps: x.sampler.steps },
    samples: x.samples,
    seed: x.seed,
    episodes: x.episodes,
    executionProvider: x.executionProvider,
    createdAt: x.createdAt,
    baseCost: copyCost(x.baseCost),
    ...(x.l1Elements === undefined ? {} : { l1Elements: x.l1Elements }),
    ...(x.chunkStepTimeUs === undefined ? {} : { chunkStepTimeUs: x.chunkStepTimeUs }),
  };
}

/**
 * Writes a profile as a `.bacprofile`. Deterministic. Only the upper triangle of each matrix is
 * stored, so an asymmetric matrix is not preserved (profiles are symmetric by construction).
 * O(B·K²).
 * @throws BacError when a matrix is not K×K or a scalar is not finite (the file would not read back).
 */
export function serializeProfile(p: Profile): Uint8Array {
  const K = p.sampler.steps;
  const tri = triangleLength(K);
  const arrays: ProfileArrayEntry[] = [];
  const data: Float32Array[] = [];
  for (const b of p.blocks) {
    for (const [name, m] of [
      ['simMean', b.simMean],
      ['simStd', b.simStd],
    ] as const) {
      if (m.length !== K * K) {
        throw new BacError(`profile: block ${b.id} ${name} has ${m.length} entries, expected ${K}×${K} = ${K * K}`);
      }
      const t = new Float32Array(tri);
      let n = 0;
      for (let i = 0; i < K; i++) for (let j = i; j < K; j++) t[n++] = m[i * K + j]!;
      arrays.push({ name: `${b.id}.${name}`, offset: 4 * tri * data.length, length: tri });
      data.push(t);
    }
  }
  const header: ProfileHeader = {
    ...runScalars(p),
    blocks: p.blocks.map(blockScalars),
    arrays,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const payloadStart = align4(PREAMBLE_BYTES + headerBytes.length);
  const out = new Uint8Array(payloadStart + 4 * tri * data.length);
  const view = new DataView(out.buffer);
  out.set(PROFILE_MAGIC, 0);
  view.setUint32(8, PROFILE_VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, PREAMBLE_BYTES);
  let at = payloadStart;
  for (const t of data) {
    for (const x of t) {
      view.setFloat32(at, x, true);
      at += 4;
    }
  }

  const check = parseProfile(out);
  if (!check.ok) throw new BacError(`cannot write an invalid profile:\n${formatIssues('profile', check.errors)}`);
  return out;
}

/**
 * Reads and validates a `.bacprofile`. Never throws, whatever the bytes. Reports every header issue
 * (up to the cap); a bad magic, version or header length stops early because nothing after them can
 * be located. Matrices come back full (K×K, symmetric). O(file size + B·K²).
 */
export function parseProfile(bytes: Uint8Array): ParseProfileResult {
  try {
    return parseUnchecked(bytes);
  } catch (e) {
    // Defence in depth: the reader is written not to throw, but must never crash its caller.
    return { ok: false, errors: [{ path: '', message: `could not be read (${String(e)}), expected a .bacprofile` }] };
  }
}

function fail(path: string, message: string): ParseProfileResult {
  return { ok: false, errors: [{ path, message }] };
}

function parseUnchecked(bytes: Uint8Array): ParseProfileResult {
  if (bytes.length < PREAMBLE_BYTES || PROFILE_MAGIC.some((b, i) => bytes[i] !== b)) {
    return fail('magic', 'the file does not start with "BACPROF\\0", expected a .bacprofile written by BAC Studio');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== PROFILE_VERSION) {
    return fail(
      'version',
      `version ${version} is not supported, expected ${PROFILE_VERSION} (the only .bacprofile version this BAC Studio reads; re-profile or update BAC Studio)`,
    );
  }
  const headerLength = view.getUint32(12, true);
  if (headerLength > MAX_HEADER_BYTES) {
    return fail(
      'header',
      `header length ${headerLength} is over the limit of ${MAX_HEADER_BYTES} bytes (16 MiB), expected a header of at most 16 MiB as BAC Studio writes (re-profile)`,
    );
  }
  if (headerLength > bytes.length - PREAMBLE_BYTES) {
    return fail(
      'header',
      `header length ${headerLength} runs past the end of the ${bytes.length}-byte file, expected a complete file (was it truncated?)`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(
      bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + headerLength),
    );
  } catch (e) {
    return fail(
      'header',
      `is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)}), expected the JSON header`,
    );
  }
  const json = parseJson(text);
  if (!json.ok)
    return fail(
      'header',
      `is not valid UTF-8 JSON (${json.message} at offset ${json.offset}), expected the JSON header`,
    );
  const c = new IssueCollector(LIMITS.maxIssues);
  for (const d of json.duplicates) c.add(`header.${d}`, 'duplicate key, expected each key once');
  validateDocument('profileHeader', json.value, json.literals, c, 'header');
  const checked = c.clean ? arrayTable(json.value as ProfileHeader, c) : undefined;
  if (!checked || !c.clean) return { ok: false, errors: c.result() };

  const payloadStart = align4(PREAMBLE_BYTES + headerLength);
  const payloadLength = bytes.length - payloadStart;
  const { K, arrays } = checked;
  const tri = triangleLength(K);
  let end = 0;
  arrays.forEach((a, i) => {
    const at = `header.arrays[${i}]`;
    if (a.offset % 4 !== 0)
      c.add(`${at}.offset`, `${a.offset} is not a multiple of 4, expected 4-byte-aligned float32 data`);
    if (a.length !== tri)
      c.add(`${at}.length`, `${a.length} values, expected K(K+1)/2 = ${tri} (upper triangle of ${K}×${K})`);
    if (a.offset + 4 * a.length > payloadLength) {
      c.add(
        at,
        `bytes ${a.offset}…${a.offset + 4 * a.length} run past the ${payloadLength}-byte payload, expected a complete file (was it truncated?)`,
      );
    }
    end = Math.max(end, a.offset + 4 * a.length);
  });
  if (c.clean && end !== payloadLength) {
    c.add(
      '',
      `${payloadLength - end} unexpected byte(s) after the last array, expected the file to end at byte ${payloadStart + end}`,
    );
  }
  if (!c.clean) return { ok: false, errors: c.result() };

  const read = (name: string, lo: number, hi: number): Float32Array => {
    const a = arrays.find((x) => x.name === name)!;
    const full = new Float32Array(K * K);
    let n = 0;
    for (let i = 0; i < K; i++) {
      for (let j = i; j < K; j++, n++) {
        const x = view.getFloat32(payloadStart + a.offset + 4 * n, true);
        if (!(x >= lo && x <= hi)) {
          c.add(
            `${name}[${i}][${j}]`,
            `${Number.isFinite(x) ? `${x} is out of range` : `${x} is not finite`}, expected a value in ${lo}…${hi}`,
          );
        }
        full[i * K + j] = x;
        full[j * K + i] = x;
      }
    }
    return full;
  };
  // The parse made prototype-less objects; the profile gets plain ones.
  const blocks: BlockProfile[] = checked.header.blocks.map((b) => ({
    ...blockScalars(b),
    simMean: read(`${b.id}.simMean`, -1 - SIM_TOLERANCE, 1 + SIM_TOLERANCE),
    simStd: read(`${b.id}.simStd`, 0, 1 + SIM_TOLERANCE),
  }));
  if (!c.clean) return { ok: false, errors: c.result() };
  const h = checked.header;
  return {
    ok: true,
    profile: { ...runScalars(h), blocks },
  };
}

/**
 * The array table of a header the contract accepted: it must name each block's two arrays once.
 * (Offsets and lengths are checked against the payload by the caller.)
 */
function arrayTable(
  header: ProfileHeader,
  c: IssueCollector,
): { header: ProfileHeader; K: number; arrays: ProfileArrayEntry[] } | undefined {
  const wanted = new Set(header.blocks.flatMap((b) => [`${b.id}.simMean`, `${b.id}.simStd`]));
  const seen = new Set<string>();
  header.arrays.forEach(({ name }, i) => {
    const at = `header.arrays[${i}].name`;
    if (!wanted.has(name))
      c.add(at, `"${name}" is not an array of a listed block, expected <block id>.simMean or .simStd`);
    else if (seen.has(name)) c.add(at, `"${name}" is listed twice, expected each array once`);
    seen.add(name);
  });
  for (const name of wanted)
    if (!seen.has(name))
      c.add('header.arrays', `array "${name}" is missing, expected simMean and simStd for every block`);
  if (!c.clean) return undefined;
  return { header, K: header.sampler.steps, arrays: header.arrays.map((a) => ({ ...a })) };
}
