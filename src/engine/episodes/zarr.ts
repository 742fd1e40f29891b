/**
 * diffusion_policy replay-buffer reader (zarrita, zarr v2): `data/<key>` arrays concatenated over
 * all episodes along time, `data/action`, `meta/episode_ends` (int64 cumulative ends). Directory
 * stores (`*.zarr`) and zip stores (`*.zarr.zip`).
 *
 * Codecs: whatever zarrita decodes through numcodecs — Blosc (python3-zarr 2.13's default:
 * lz4 + byte shuffle), zlib, gzip, lz4, zstd — and uncompressed chunks.
 *
 * Reads are lazy: opening touches only metadata (`.zarray`) and `meta/episode_ends`; an episode's
 * key is read as one slice (only the chunks that overlap it are fetched and decoded). The zip is
 * read through a file handle with random access, so a large `.zarr.zip` is never loaded whole.
 */

import { open as fsOpen, readdir, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

import type * as ZarritaLib from 'zarrita';

import { BacError } from '../../core/errors';
import { EpisodeReaderBase, stepDim, toRowMajor, toFloat32, where } from './base';
import type { ObsKeyInfo } from './types';

type Zarrita = typeof ZarritaLib;
type ZArray = ZarritaLib.Array<ZarritaLib.DataType, ZarritaLib.Readable>;
type ZLocation = ZarritaLib.Location<ZarritaLib.Readable>;

/** The replay buffer's action array (diffusion_policy's `ReplayBuffer` name). */
const ACTION_KEY = 'action';

/** Random-access reader over an open file, in the shape unzipit (under ZipFileStore) expects. */
class FileHandleReader {
  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
  ) {}

  async getLength(): Promise<number> {
    return this.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array<ArrayBuffer>> {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(out, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${offset + done}`);
      done += bytesRead;
    }
    return out;
  }
}

/**
 * Zip entries of a store zipped with its folder (`name.zarr/.zgroup` …) are re-rooted so that the
 * group sits at the top, as zarr's own ZipStore writes it.
 */
function rerootEntries<T>(entries: Record<string, T>): Record<string, T> {
  if ('.zgroup' in entries) return entries;
  const roots = Object.keys(entries)
    .filter((n) => n.endsWith('/.zgroup'))
    .sort((a, b) => a.length - b.length);
  const prefix = roots[0]?.slice(0, -'.zgroup'.length);
  if (prefix === undefined) return entries;
  const out: Record<string, T> = {};
  for (const [name, e] of Object.entries(entries)) if (name.startsWith(prefix)) out[name.slice(prefix.length)] = e;
  return out;
}

/** Chunk metadata as zarrita hands it to a codec's `fromConfig`. */
interface ChunkMeta {
  dataType: string;
  shape: number[];
}

/** The slice of a zarrita codec this module wraps. */
interface BytesCodecLike {
  kind?: string;
  encode(data: Uint8Array): Promise<Uint8Array> | Uint8Array;
  decode(data: Uint8Array): Promise<Uint8Array> | Uint8Array;
  computeEncodedSize?: (size: number) => number;
}

let codecsChecked = false;

/**
 * Makes the wasm compressors (blosc, lz4, zstd from numcodecs) fail loudly. numcodecs' blosc returns
 * an empty buffer for a damaged chunk instead of throwing, and zarrita then hands out zeros — wrong
 * data with no error. The wrapper compares each decoded chunk's size with the size its shape and
 * dtype imply and throws otherwise (zlib and gzip already throw on damage). Idempotent; it changes
 * zarrita's process-wide codec registry, only by adding this check.
 */
function checkDecodedSizes(zarr: Zarrita): void {
  if (codecsChecked) return;
  codecsChecked = true;
  const registry = zarr.registry as unknown as Map<string, () => Promise<unknown>>;
  for (const name of ['blosc', 'lz4', 'zstd', 'numcodecs.blosc', 'numcodecs.lz4', 'numcodecs.zstd']) {
    const load = registry.get(name);
    if (!load) continue;
    registry.set(name, async () => {
      const entry = (await load()) as { kind?: string; fromConfig(config: unknown, meta: ChunkMeta): BytesCodecLike };
      return {
        kind: entry.kind,
        fromConfig(config: unknown, meta: ChunkMeta): BytesCodecLike {
          const codec = entry.fromConfig(config, meta);
          const bits = /(\d+)$/.exec(meta.dataType)?.[1];
          const itemBytes = meta.dataType === 'bool' ? 1 : bits ? Number(bits) / 8 : null;
          const expected = itemBytes === null ? null : meta.shape.reduce((a, b) => a * b, 1) * itemBytes;
          return {
            kind: codec.kind,
            encode: (data) => codec.encode(data),
            computeEncodedSize: codec.computeEncodedSize?.bind(codec),
            async decode(data) {
              const out = await codec.decode(data);
              if (expected !== null && out.length !== expected) {
                throw new Error(`${name} decoded ${out.length} bytes where the chunk needs ${expected}`);
              }
              return out;
            },
          };
        },
      };
    });
  }
}

/**
 * Store wrapper that catches damage the codecs cannot see. Zip members are checked against the
 * CRC-32 of the zip's central directory (unzipit does not verify it), so a flipped byte in a `.zarr.zip`
 * is an error rather than a wrong number. Uncompressed chunks must have their exact byte size: one
 * cut short by an interrupted copy would otherwise decode as a shorter array whose missing values
 * silently read as zeros. Compressed chunks are checked by `checkDecodedSizes`.
 */
class RawChunkCheck {
  /** Expected chunk size in bytes by array prefix (`/data/<key>/`), for uncompressed arrays only. */
  private readonly expected = new Map<string, number>();

  /** @param crcs CRC-32 by absolute key (`/data/x/0.0`); empty for a directory store. */
  constructor(
    private readonly store: ZarritaLib.Readable,
    private readonly crcs: ReadonlyMap<string, number>,
  ) {}

  /** Starts checking the chunks of the array at `prefix` when it is stored without compressor or filters. */
  async watch(prefix: string): Promise<void> {
    const bytes = await this.store.get(`${prefix}.zarray` as ZarritaLib.AbsolutePath);
    if (!bytes) return;
    const meta = JSON.parse(new TextDecoder().decode(bytes)) as {
      compressor?: unknown;
      filters?: unknown;
      dtype?: unknown;
      chunks?: number[];
    };
    const item = typeof meta.dtype === 'string' ? /^[<>|]?[fiub](\d+)$/.exec(meta.dtype)?.[1] : undefined;
    if (meta.compressor || meta.filters || !item || !Array.isArray(meta.chunks)) return;
    this.expected.set(prefix, meta.chunks.reduce((a, b) => a * b, 1) * Number(item));
  }

  async get(key: ZarritaLib.AbsolutePath): Promise<Uint8Array | undefined> {
    const value = await this.store.get(key);
    const crc = this.crcs.get(key);
    if (value && crc !== undefined && crc32(value) !== crc) {
      throw new Error(`zip member ${key.slice(1)} fails its CRC-32 check`);
    }
    const slash = key.lastIndexOf('/');
    const want = this.expected.get(key.slice(0, slash + 1));
    if (value && want !== undefined && !key.slice(slash + 1).startsWith('.') && value.length !== want) {
      throw new Error(`chunk ${key} has ${value.length} bytes where ${want} are expected`);
    }
    return value;
  }
}

/** Message detail of an unknown error (zarrita, unzipit, numcodecs throw plain Errors). */
function detail(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A replay buffer opened read-only. Construct with `ZarrEpisodes.open` (or `openEpisodes`). */
export class ZarrEpisodes extends EpisodeReaderBase {
  private constructor(
    path: string,
    format: 'zarr-dir' | 'zarr-zip',
    private readonly zarr: Zarrita,
    private readonly arrays: ReadonlyMap<string, ZArray>,
    private readonly starts: readonly number[],
    lengths: readonly number[],
    obsKeys: readonly ObsKeyInfo[],
    actionDim: number,
    private readonly fh: FileHandle | null,
  ) {
    super(path, format, lengths, obsKeys, actionDim);
  }

  /**
   * Opens a replay buffer (directory when `zip` is false, zip file otherwise): checks the group,
   * reads and validates `meta/episode_ends`, opens every `data/<key>` array's metadata and checks
   * that its length equals the last episode end. Throws `BacError` for every user-fixable problem.
   */
  static async open(path: string, zip: boolean): Promise<ZarrEpisodes> {
    const zarr = await import('zarrita');
    const storage = await import('@zarrita/storage');
    checkDecodedSizes(zarr);
    let fh: FileHandle | null = null;
    try {
      let store: ZarritaLib.Readable;
      let names: string[];
      const crcs = new Map<string, number>();
      if (zip) {
        fh = await fsOpen(path, 'r');
        const size = (await fh.stat()).size;
        let entryNames: string[] = [];
        const zs = new storage.ZipFileStore(new FileHandleReader(fh, size), {
          transformEntries: (entries) => {
            const out = rerootEntries(entries);
            entryNames = Object.keys(out);
            for (const [name, entry] of Object.entries(out)) {
              // unzipit keeps the central directory's CRC-32 in a private field (zarrita reads the
              // same object for range reads); without it the entry is simply not checked.
              const crc = (entry as unknown as { _rawEntry?: { crc32?: unknown } })._rawEntry?.crc32;
              if (typeof crc === 'number') crcs.set(`/${name}`, crc >>> 0);
            }
            return out;
          },
        });
        // Awaited at once: the store's central-directory parse starts in its constructor, and a
        // damaged zip must reject here (as a BacError), never as an unhandled rejection.
        try {
          await zs.has('/.zgroup');
        } catch (e) {
          throw new BacError(
            `${where(path)} is not a readable zip (${detail(e)}); re-create the .zarr.zip (e.g. with zarr.ZipStore) or give the .zarr directory.`,
          );
        }
        store = zs;
        names = entryNames;
      } else {
        store = new storage.FileSystemStore(path);
        names = await listDirArrays(path);
      }
      const raw = new RawChunkCheck(store, crcs);
      const root = zarr.root(raw as ZarritaLib.Readable);
      try {
        await zarr.open.v2(root, { kind: 'group' });
      } catch {
        throw new BacError(
          `${where(path)} is not a zarr v2 group (no .zgroup at its root); give a diffusion_policy replay buffer (.zarr directory or .zarr.zip).`,
        );
      }
      const ends = await readEpisodeEnds(zarr, root, path);
      const total = ends.at(-1) ?? 0;
      const keys = [
        ...new Set(names.map((n) => /^data\/([^/]+)\/\.zarray$/.exec(n)?.[1]).filter((k): k is string => !!k)),
      ].sort();
      const arrays = new Map<string, ZArray>();
      const obsKeys: ObsKeyInfo[] = [];
      for (const key of keys) {
        let arr: ZArray;
        try {
          arr = await zarr.open.v2(root.resolve(`data/${key}`), { kind: 'array' });
        } catch (e) {
          throw new BacError(
            `${where(path)}: data/${key} has unreadable metadata (${detail(e)}); re-export the replay buffer.`,
          );
        }
        checkShape(arr, path, `data/${key}`);
        if (arr.shape[0] !== total) {
          throw new BacError(
            `${where(path)}: data/${key} has ${arr.shape[0] ?? 0} steps but meta/episode_ends ends at ${total}; the replay buffer is inconsistent, re-export it.`,
          );
        }
        await raw.watch(`/data/${key}/`);
        arrays.set(key, arr);
        if (key !== ACTION_KEY) {
          const shape = arr.shape.slice(1);
          obsKeys.push({ key, shape, dim: stepDim(shape), dtype: String(arr.dtype) });
        }
      }
      const action = arrays.get(ACTION_KEY);
      if (!action) {
        throw new BacError(
          `${where(path)} has no data/${ACTION_KEY} array; a diffusion_policy replay buffer stores actions there.`,
        );
      }
      const starts = [0, ...ends.slice(0, -1)];
      const lengths = ends.map((e, i) => e - starts[i]!);
      return new ZarrEpisodes(
        path,
        zip ? 'zarr-zip' : 'zarr-dir',
        zarr,
        arrays,
        starts,
        lengths,
        obsKeys,
        stepDim(action.shape.slice(1)),
        fh,
      );
    } catch (e) {
      await fh?.close();
      throw e;
    }
  }

  episodeName(ep: number): string {
    return `episode ${ep}`;
  }

  protected readKey(ep: number, key: ObsKeyInfo): Promise<{ data: unknown; shape: readonly number[] }> {
    return this.readSlice(ep, key.key);
  }

  protected readActions(ep: number): Promise<{ data: unknown; shape: readonly number[] }> {
    return this.readSlice(ep, ACTION_KEY);
  }

  /** Steps start … start+len of `data/<key>`, row-major. Decode failures become BacErrors. */
  private async readSlice(ep: number, key: string): Promise<{ data: unknown; shape: readonly number[] }> {
    const arr = this.arrays.get(key)!;
    const start = this.starts[ep]!;
    const end = start + this.lengths[ep]!;
    let chunk: { data: unknown; shape: number[]; stride: number[] };
    try {
      chunk = (await this.zarr.get(arr, [this.zarr.slice(start, end), ...arr.shape.slice(1).map(() => null)])) as {
        data: unknown;
        shape: number[];
        stride: number[];
      };
    } catch (e) {
      throw new BacError(
        `${where(this.path)}: cannot decode data/${key} for ${this.episodeName(ep)} (${detail(e)}); the chunk is damaged or uses an unsupported codec (supported: blosc, zlib, gzip, lz4, zstd, none).`,
      );
    }
    // Fortran-order arrays come back with their own strides; hand out row-major data only.
    const f = toFloat32(chunk.data, this.path, `data/${key}`);
    return { data: toRowMajor(f, chunk.shape, chunk.stride), shape: chunk.shape };
  }

  protected async release(): Promise<void> {
    await this.fh?.close();
  }
}

/** Names (`data/<key>/.zarray`) of the arrays under `data/` of a directory store. */
async function listDirArrays(path: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(join(path, 'data'));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const st = await stat(join(path, 'data', e, '.zarray')).catch(() => null);
    if (st?.isFile()) out.push(`data/${e}/.zarray`);
  }
  return out;
}

/**
 * zarrita trusts `.zarray`; a damaged one (e.g. without `shape`) would fail later as a TypeError.
 * Checks that shape and chunks are lists of non-negative integers of the same rank ≥ 1.
 */
function checkShape(arr: ZArray, path: string, name: string): void {
  const ints = (v: unknown): v is number[] =>
    Array.isArray(v) && v.length >= 1 && v.every((n) => Number.isInteger(n) && (n as number) >= 0);
  if (!ints(arr.shape) || !ints(arr.chunks) || arr.chunks.length !== arr.shape.length) {
    throw new BacError(
      `${where(path)}: ${name}/.zarray has no valid shape/chunks (need equal-length lists of integers, time first); re-export the replay buffer.`,
    );
  }
}

/** `meta/episode_ends` as numbers, validated: non-empty, strictly increasing, first > 0. */
async function readEpisodeEnds(zarr: Zarrita, root: ZLocation, path: string): Promise<number[]> {
  let arr: ZArray;
  try {
    arr = await zarr.open.v2(root.resolve('meta/episode_ends'), { kind: 'array' });
  } catch {
    throw new BacError(
      `${where(path)} has no meta/episode_ends array; a diffusion_policy replay buffer needs it (int64 cumulative episode ends) to split data/<key> into episodes.`,
    );
  }
  checkShape(arr, path, 'meta/episode_ends');
  if (arr.shape.length !== 1 || arr.shape[0] === 0) {
    throw new BacError(
      arr.shape[0] === 0
        ? `${where(path)} holds no episodes (meta/episode_ends is empty); record episodes into it first.`
        : `${where(path)}: meta/episode_ends must be one-dimensional but has shape [${arr.shape.join(', ')}]; re-export the replay buffer.`,
    );
  }
  let data: unknown;
  try {
    data = (await zarr.get(arr)).data;
  } catch (e) {
    throw new BacError(`${where(path)}: cannot decode meta/episode_ends (${detail(e)}); re-export the replay buffer.`);
  }
  const ends = endsToNumbers(data, path);
  for (let i = 0; i < ends.length; i++) {
    const prev = i === 0 ? 0 : ends[i - 1]!;
    if (!Number.isInteger(ends[i]) || ends[i]! <= prev) {
      throw new BacError(
        `${where(path)}: meta/episode_ends must be strictly increasing positive step counts, but entry ${i} is ${ends[i]} after ${prev}; re-export the replay buffer.`,
      );
    }
  }
  return ends;
}

/** Episode ends are integers: bigint arrays are read exactly as numbers (float32 would round them). */
function endsToNumbers(data: unknown, path: string): number[] {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, (v) => Number(v));
  if (ArrayBuffer.isView(data) && !(data instanceof DataView) && !(data instanceof Float32Array)) {
    return Array.from(data as unknown as ArrayLike<number>);
  }
  return Array.from(toFloat32(data, path, 'meta/episode_ends'));
}
