/**
 * Format-independent part of the episode readers: typed-array conversion, finiteness checks, the
 * per-episode array cache and observation windowing. A format only has to say how to read one
 * whole key (or the actions) of one episode.
 */

import { BacError } from '../../core/errors';
import type { EpisodeFormat, EpisodeSource, ObsKeyInfo } from './types';

/** Bytes of decoded episode arrays kept per source before the least recently used are dropped. */
const CACHE_BYTES = 64 * 1024 * 1024;

/** The file's message prefix: every BacError of the readers names the file first. */
export function where(path: string): string {
  return `Episode file ${path}`;
}

/**
 * Copies any numeric typed array (float, int, bigint) into a new Float32Array.
 * Throws `BacError` for non-numeric data (strings, compounds), naming `what`. O(n).
 */
export function toFloat32(data: unknown, path: string, what: string): Float32Array {
  if (data instanceof Float32Array) return new Float32Array(data);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]!);
    return out;
  }
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    return Float32Array.from(data as unknown as ArrayLike<number>);
  }
  throw new BacError(
    `${where(path)}: ${what} is not a numeric array; observation keys and actions must hold numbers (float or int).`,
  );
}

/**
 * Throws `BacError` at the first NaN/±Inf of a row-major [T, dim] array, naming key, episode, step
 * and dimension, because one NaN in `cond` silently turns every profiled statistic into NaN. O(n).
 */
export function checkFinite(data: Float32Array, dim: number, path: string, what: string, episode: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      const step = Math.floor(i / Math.max(dim, 1));
      throw new BacError(
        `${where(path)}: ${what} of ${episode} has a non-finite value (${data[i]}) at step ${step}, dimension ${i - step * dim}; clean the data or remove that episode.`,
      );
    }
  }
}

/** Row-major element strides of `shape`. */
export function cStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/**
 * Reorders a strided array (e.g. a Fortran-order zarr chunk) into row-major order. Returns `data`
 * itself when it already is row-major. O(n · rank).
 */
export function toRowMajor(data: Float32Array, shape: readonly number[], stride: readonly number[]): Float32Array {
  const c = cStrides(shape);
  if (shape.every((n, i) => n <= 1 || stride[i] === c[i])) return data;
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += idx[d]! * stride[d]!;
    out[flat] = data[src]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = idx[d]! + 1;
      if (idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Product of a per-step shape (1 for a scalar per step). */
export function stepDim(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Looks up `keys` in `available`, in the given order. Throws `BacError` for an empty list, a
 * duplicate, or a missing key (naming every available key so the user can fix `bac.obs_keys` or
 * pick the right file). O(keys · available).
 */
export function resolveKeys(path: string, available: readonly ObsKeyInfo[], keys: readonly string[]): ObsKeyInfo[] {
  if (keys.length === 0) {
    throw new BacError(
      `${where(path)}: no observation keys were requested; the model's bac.obs_keys must list at least one key.`,
    );
  }
  const seen = new Set<string>();
  return keys.map((k) => {
    if (seen.has(k)) {
      throw new BacError(
        `${where(path)}: observation key "${k}" is requested twice; list each key once in bac.obs_keys.`,
      );
    }
    seen.add(k);
    const info = available.find((a) => a.key === k);
    if (!info) {
      const names = available.map((a) => `${a.key} (${a.dim})`).join(', ') || 'none';
      throw new BacError(
        `${where(path)}: observation key "${k}" is missing; available keys: ${names}. Fix bac.obs_keys or use episodes recorded with that key.`,
      );
    }
    return info;
  });
}

/**
 * Base of both readers. Subclasses fill the descriptive fields and implement `readKey` and
 * `readActions`; this class checks indices, converts, validates lengths and finiteness once per
 * (episode, key), keeps results in an LRU cache bounded by `CACHE_BYTES`, and builds windows.
 */
export abstract class EpisodeReaderBase implements EpisodeSource {
  /** Decoded, checked arrays by `${ep}/${key}`; Map iteration order doubles as LRU order. */
  private readonly cache = new Map<string, Float32Array>();
  private cachedBytes = 0;
  /** Set by `close()`; later reads are refused instead of touching a released handle. */
  protected closed = false;

  protected constructor(
    readonly path: string,
    readonly format: EpisodeFormat,
    readonly lengths: readonly number[],
    readonly obsKeys: readonly ObsKeyInfo[],
    readonly actionDim: number,
  ) {}

  /** Number of episodes. */
  get episodeCount(): number {
    return this.lengths.length;
  }

  abstract episodeName(ep: number): string;

  /** Raw data of one obs key of one episode: any numeric typed array with `shape` and element strides. */
  protected abstract readKey(ep: number, key: ObsKeyInfo): Promise<{ data: unknown; shape: readonly number[] }>;

  /** Raw actions of one episode, as `readKey`. */
  protected abstract readActions(ep: number): Promise<{ data: unknown; shape: readonly number[] }>;

  protected abstract release(): Promise<void>;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    await this.release();
  }

  async actions(ep: number): Promise<Float32Array> {
    this.checkEpisode(ep);
    const a = await this.cached(ep, '\0actions', this.actionDim, 'actions', () => this.readActions(ep));
    return new Float32Array(a);
  }

  async observationWindow(ep: number, t: number, keys: readonly string[], nObsSteps: number): Promise<Float32Array> {
    this.checkEpisode(ep);
    const len = this.lengths[ep]!;
    if (!Number.isInteger(t) || t < 0 || t >= len) {
      throw new RangeError(`step ${t} is outside ${this.episodeName(ep)} (0 … ${len - 1})`);
    }
    if (!Number.isInteger(nObsSteps) || nObsSteps < 1) throw new RangeError(`nObsSteps must be ≥ 1, got ${nObsSteps}`);
    const infos = resolveKeys(this.path, this.obsKeys, keys);
    const width = infos.reduce((a, k) => a + k.dim, 0);
    const out = new Float32Array(nObsSteps * width);
    let col = 0;
    for (const info of infos) {
      const arr = await this.cached(ep, info.key, info.dim, `observation key "${info.key}"`, () =>
        this.readKey(ep, info),
      );
      for (let i = 0; i < nObsSteps; i++) {
        // Clamp to step 0: the window repeats the first observation before the episode starts.
        const s = Math.max(0, t - nObsSteps + 1 + i);
        out.set(arr.subarray(s * info.dim, (s + 1) * info.dim), i * width + col);
      }
      col += info.dim;
    }
    return out;
  }

  private checkEpisode(ep: number): void {
    if (this.closed) throw new Error(`episode source ${this.path} is closed`);
    if (!Number.isInteger(ep) || ep < 0 || ep >= this.lengths.length) {
      throw new RangeError(`episode ${ep} is outside 0 … ${this.lengths.length - 1} of ${this.path}`);
    }
  }

  /** Reads, converts and checks one (episode, key) array once; later calls hit the LRU cache. */
  private async cached(
    ep: number,
    id: string,
    dim: number,
    what: string,
    read: () => Promise<{ data: unknown; shape: readonly number[] }>,
  ): Promise<Float32Array> {
    const k = `${ep}/${id}`;
    const hit = this.cache.get(k);
    if (hit) {
      this.cache.delete(k);
      this.cache.set(k, hit);
      return hit;
    }
    const raw = await read();
    const arr = toFloat32(raw.data, this.path, what);
    const len = this.lengths[ep]!;
    if (raw.shape[0] !== len || arr.length !== len * dim) {
      throw new BacError(
        `${where(this.path)}: ${what} of ${this.episodeName(ep)} has shape [${raw.shape.join(', ')}] but the episode has ${len} steps of ${dim} values; the file is inconsistent, re-export it.`,
      );
    }
    checkFinite(arr, dim, this.path, what, this.episodeName(ep));
    this.cache.set(k, arr);
    this.cachedBytes += arr.byteLength;
    for (const [oldKey, old] of this.cache) {
      if (this.cachedBytes <= CACHE_BYTES || oldKey === k) break;
      this.cache.delete(oldKey);
      this.cachedBytes -= old.byteLength;
    }
    return arr;
  }
}
