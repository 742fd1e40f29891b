/**
 * robomimic HDF5 reader (h5wasm): `data/demo_<i>/obs/<key>` per-step arrays,
 * `data/demo_<i>/actions`, attribute `num_samples` per demo.
 *
 * Why h5wasm's browser/ESM build and an in-memory copy rather than its Node build: the Node build
 * calls `createRequire(import.meta.url)`, which is empty once esbuild bundles the engine to
 * CommonJS, so it cannot load inside the extension or CLI bundle. The file is therefore read into
 * one buffer that the emscripten MEMFS owns without copying (`canOwn`): memory O(file size) while
 * the source is open; HDF5 itself copies only the datasets read. Files over Node's 2 GiB
 * `readFile` limit are refused with a clear message (low-dim robomimic files are far smaller).
 *
 * Robustness: the HDF5 library never sees a file we can tell is damaged. Before opening, the
 * superblock's end-of-file address is compared with the real size, which catches truncation (the
 * common damage: an interrupted copy or download). Anything the library still rejects surfaces as a
 * JS exception, which is turned into a `BacError` quoting HDF5's own reason. HDF5's diagnostic
 * stack, which the C library prints to stderr, goes to a log file inside the wasm file system so
 * users see one message, not forty lines.
 */

import { open as fsOpen, readFile } from 'node:fs/promises';

import type * as H5Lib from 'h5wasm';
import type { Dataset as H5Dataset, File as H5File, Group as H5Group } from 'h5wasm';

import { BacError } from '../../core/errors';
import { EpisodeReaderBase, stepDim, where } from './base';
import type { ObsKeyInfo } from './types';

type H5 = typeof H5Lib;

/** The part of emscripten's FS this reader uses. */
interface MiniFS {
  streams: unknown[];
  open(path: string, flags: string): { fd: number };
  close(stream: unknown): void;
  writeFile(path: string, data: Uint8Array, opts?: { canOwn?: boolean }): void;
  readFile(path: string): Uint8Array;
  stat(path: string): { size: number };
  unlink(path: string): void;
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const ERROR_LOG = '/bac-hdf5-errors.log';

let h5Loading: Promise<{ h5: H5; fs: MiniFS }> | null = null;
let fileCounter = 0;

/** Loads h5wasm once per process and points the C library's stderr at `ERROR_LOG`. */
function loadH5(): Promise<{ h5: H5; fs: MiniFS }> {
  h5Loading ??= (async () => {
    const h5 = await import('h5wasm');
    const module = await h5.ready;
    const fs = module.FS as unknown as MiniFS;
    // fd 2 is emscripten's stderr; closing it and opening a file in append mode makes the file take
    // the lowest free descriptor, 2, so HDF5's fprintf(stderr, …) lands there.
    fs.close(fs.streams[2]);
    fs.open(ERROR_LOG, 'a');
    return { h5, fs };
  })();
  return h5Loading;
}

/** Length of the HDF5 error log now (so later calls can read only what one operation added). */
function logMark(fs: MiniFS): number {
  try {
    return fs.stat(ERROR_LOG).size;
  } catch {
    return 0;
  }
}

/** HDF5's innermost reason from the first error stack written after `mark`, or '' when none. */
function hdf5Reason(fs: MiniFS, mark: number): string {
  let text: string;
  try {
    text = new TextDecoder().decode(fs.readFile(ERROR_LOG).subarray(mark));
  } catch {
    return '';
  }
  const firstStack = text.split('HDF5-DIAG').find((s) => s.trim().length > 0) ?? '';
  const reasons = [...firstStack.matchAll(/#\d+: .* in [\w]+\(\): (.*)/g)].map((m) => m[1]!.trim());
  return reasons.at(-1) ?? '';
}

/** Little-endian unsigned integer of `size` bytes at `off`; null for HDF5's "undefined address" (all ones). */
function readAddress(b: Uint8Array, off: number, size: number): number | null {
  let v = 0n;
  let allOnes = true;
  for (let i = size - 1; i >= 0; i--) {
    const byte = b[off + i]!;
    if (byte !== 0xff) allOnes = false;
    v = (v << 8n) | BigInt(byte);
  }
  return allOnes ? null : Number(v);
}

/**
 * Checks the HDF5 signature and the superblock's end-of-file address against the file size.
 * The signature may sit at 0, 512, 1024, 2048 … (after a user block). O(log size) small reads.
 */
async function checkHdf5Header(path: string, size: number): Promise<void> {
  const fh = await fsOpen(path, 'r');
  try {
    for (let at = 0; at === 0 || at + 8 <= size; at = at === 0 ? 512 : at * 2) {
      const b = new Uint8Array(64);
      const { bytesRead } = await fh.read(b, 0, 64, at);
      if (bytesRead < 8 || !HDF5_SIGNATURE.every((x, i) => b[i] === x)) continue;
      const version = b[8]!;
      let o: number;
      let eofAt: number;
      let baseAt: number;
      if (version === 0 || version === 1) {
        o = b[13]!;
        baseAt = version === 0 ? 24 : 28;
        eofAt = baseAt + 2 * o;
      } else {
        o = b[9]!;
        baseAt = 12;
        eofAt = 12 + 2 * o;
      }
      if (![2, 4, 8].includes(o) || eofAt + o > bytesRead) return; // unusual superblock: let HDF5 judge
      const base = readAddress(b, baseAt, o) ?? 0;
      const eof = readAddress(b, eofAt, o);
      if (eof !== null && base + eof > size) {
        throw new BacError(
          `${where(path)} is truncated: it has ${size} bytes but its HDF5 superblock says ${base + eof}; copy or export the file again.`,
        );
      }
      return;
    }
  } finally {
    await fh.close();
  }
  throw new BacError(
    `${where(path)} is not an HDF5 file (no HDF5 signature); give a robomimic .hdf5 file or a diffusion_policy .zarr / .zarr.zip replay buffer.`,
  );
}

/** h5wasm's struct-style dtype codes (`<f`, `<d` …) in numpy's names, so both readers report alike. */
const H5_DTYPES: Record<string, string> = {
  e: 'float16',
  f: 'float32',
  d: 'float64',
  b: 'int8',
  B: 'uint8',
  h: 'int16',
  H: 'uint16',
  i: 'int32',
  I: 'uint32',
  q: 'int64',
  Q: 'uint64',
};

function dtypeName(dtype: unknown): string {
  const s = String(dtype);
  return H5_DTYPES[s.replace(/^[<>=|!]/, '')] ?? s;
}

/** Orders `demo_<i>` names by i (demo_2 before demo_10), the order robomimic scripts iterate in. */
function sortDemos(names: readonly string[]): string[] {
  return names
    .filter((n) => /^demo_\d+$/.test(n))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)) || (a < b ? -1 : 1));
}

/** A robomimic file opened read-only. Construct with `Hdf5Episodes.open` (or `openEpisodes`). */
export class Hdf5Episodes extends EpisodeReaderBase {
  private constructor(
    path: string,
    private readonly lib: { h5: H5; fs: MiniFS },
    private readonly file: H5File,
    private readonly memPath: string,
    private readonly demos: readonly string[],
    lengths: readonly number[],
    obsKeys: readonly ObsKeyInfo[],
    actionDim: number,
  ) {
    super(path, 'robomimic-hdf5', lengths, obsKeys, actionDim);
  }

  /**
   * Opens and indexes a robomimic file: checks header and size, lists demos (numeric order), their
   * lengths (`num_samples`, checked against `actions`), the obs keys of the first demo and the
   * action dimension. Reads no array data. Throws `BacError` for every user-fixable problem.
   */
  static async open(path: string, size: number): Promise<Hdf5Episodes> {
    await checkHdf5Header(path, size);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_FS_FILE_TOO_LARGE') {
        throw new BacError(
          `${where(path)} is ${(size / 2 ** 30).toFixed(1)} GiB, over the 2 GiB the HDF5 reader can load; export the low-dim observation keys to a smaller file (e.g. robomimic's low_dim.hdf5) or convert it to a zarr replay buffer.`,
        );
      }
      throw e;
    }
    const lib = await loadH5();
    const openMark = logMark(lib.fs);
    const memPath = `/bac-episodes-${++fileCounter}.h5`;
    lib.fs.writeFile(memPath, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { canOwn: true });
    let file: H5File | null = null;
    try {
      file = guard(lib, path, 'the file', () => new lib.h5.File(memPath, 'r'));
      const f = file;
      const data = guard(lib, path, 'group "data"', () => f.get('data'));
      if (!(data instanceof lib.h5.Group)) {
        throw new BacError(
          `${where(path)} has no "data" group; a robomimic file keeps its demos under data/demo_<i> (is this the right file?).`,
        );
      }
      const demos = sortDemos(guard(lib, path, 'group "data"', () => data.keys()));
      if (demos.length === 0) {
        throw new BacError(
          `${where(path)} has no demos (no data/demo_<i> groups); record or export episodes into it first.`,
        );
      }
      const lengths: number[] = [];
      let actionShape: number[] | null = null;
      for (const demo of demos) {
        const act = guard(lib, path, `data/${demo}/actions`, () => f.get(`data/${demo}/actions`));
        if (!(act instanceof lib.h5.Dataset)) {
          throw new BacError(
            `${where(path)}: data/${demo}/actions is missing; every robomimic demo needs an actions dataset.`,
          );
        }
        const shape = guard(lib, path, `data/${demo}/actions`, () => act.shape) ?? [];
        const n = shape[0] ?? 0;
        const perStep = shape.slice(1);
        if (actionShape === null) actionShape = perStep;
        else if (perStep.join() !== actionShape.join()) {
          throw new BacError(
            `${where(path)}: data/${demo}/actions has per-step shape [${perStep.join(', ')}] but data/${demos[0]}/actions has [${actionShape.join(', ')}]; all demos must share the action shape.`,
          );
        }
        const ns = guard(lib, path, `data/${demo} attributes`, () => {
          const g = f.get(`data/${demo}`) as H5Group;
          return g.attrs['num_samples']?.value;
        });
        const declared =
          typeof ns === 'bigint' || typeof ns === 'number'
            ? Number(ns)
            : ArrayBuffer.isView(ns)
              ? Number((ns as unknown as ArrayLike<number | bigint>)[0])
              : null;
        if (declared !== null && declared !== n) {
          throw new BacError(
            `${where(path)}: data/${demo} says num_samples = ${declared} but its actions have ${n} steps; the file is inconsistent, re-export it.`,
          );
        }
        if (n < 1) throw new BacError(`${where(path)}: data/${demo} has no steps; remove the empty demo.`);
        lengths.push(n);
      }
      const obsKeys = Hdf5Episodes.listObsKeys(lib, f, path, demos[0]!);
      const actionDim = stepDim(actionShape ?? []);
      return new Hdf5Episodes(path, lib, f, memPath, demos, lengths, obsKeys, actionDim);
    } catch (e) {
      try {
        file?.close();
      } catch {
        // already failing; the original error is the one to report
      }
      lib.fs.unlink(memPath);
      // Any h5wasm call missed by `guard` still ends as a user error, never an internal one.
      throw e instanceof BacError ? e : hdf5Error(lib, path, 'the file', openMark, e);
    }
  }

  /** Datasets under `data/<demo>/obs`, sorted by name. */
  private static listObsKeys(lib: { h5: H5; fs: MiniFS }, f: H5File, path: string, demo: string): ObsKeyInfo[] {
    const obs = guard(lib, path, `data/${demo}/obs`, () => f.get(`data/${demo}/obs`));
    if (!(obs instanceof lib.h5.Group)) {
      throw new BacError(
        `${where(path)}: data/${demo}/obs is missing; robomimic demos keep observations under data/demo_<i>/obs/<key>.`,
      );
    }
    const out: ObsKeyInfo[] = [];
    for (const key of guard(lib, path, `data/${demo}/obs`, () => [...obs.keys()].sort())) {
      const name = `data/${demo}/obs/${key}`;
      const info = guard(lib, path, name, () => {
        const ds = f.get(name);
        if (!(ds instanceof lib.h5.Dataset)) return null;
        const shape = (ds.shape ?? []).slice(1);
        return { key, shape, dim: stepDim(shape), dtype: dtypeName(ds.dtype) };
      });
      if (info) out.push(info);
    }
    return out;
  }

  episodeName(ep: number): string {
    return this.demos[ep] ?? `episode ${ep}`;
  }

  protected async readKey(ep: number, key: ObsKeyInfo): Promise<{ data: unknown; shape: readonly number[] }> {
    const demo = this.demos[ep]!;
    const name = `data/${demo}/obs/${key.key}`;
    const ds = guard(this.lib, this.path, name, () => this.file.get(name));
    if (!(ds instanceof this.lib.h5.Dataset)) {
      const here = guard(
        this.lib,
        this.path,
        `data/${demo}/obs`,
        () => (this.file.get(`data/${demo}/obs`) as H5Group | null)?.keys() ?? [],
      );
      throw new BacError(
        `${where(this.path)}: observation key "${key.key}" is missing from ${demo} (it has: ${[...here].sort().join(', ') || 'none'}); every demo needs the model's bac.obs_keys — remove that demo or re-export the file.`,
      );
    }
    return this.readDataset(ds, name, key.shape);
  }

  protected async readActions(ep: number): Promise<{ data: unknown; shape: readonly number[] }> {
    const name = `data/${this.demos[ep]!}/actions`;
    const ds = guard(this.lib, this.path, name, () => this.file.get(name)) as H5Dataset;
    return this.readDataset(ds, name, null);
  }

  private readDataset(
    ds: H5Dataset,
    name: string,
    perStep: readonly number[] | null,
  ): { data: unknown; shape: readonly number[] } {
    const shape = guard(this.lib, this.path, name, () => ds.shape) ?? [];
    if (perStep !== null && shape.slice(1).join() !== perStep.join()) {
      throw new BacError(
        `${where(this.path)}: ${name} has per-step shape [${shape.slice(1).join(', ')}] but the first demo has [${perStep.join(', ')}]; all demos must share each key's shape.`,
      );
    }
    const data = guard(this.lib, this.path, name, () => ds.value);
    return { data, shape };
  }

  protected async release(): Promise<void> {
    try {
      this.file.close();
    } catch {
      // Closing a damaged file may fail inside HDF5; the data is read-only and the memory is
      // released below either way, so there is nothing for the user to fix.
    } finally {
      this.lib.fs.unlink(this.memPath);
    }
  }
}

/**
 * Runs one h5wasm call; any non-BacError it throws becomes a `BacError` naming the file, the object
 * and HDF5's own reason, because h5wasm's messages ("error - name not defined!") do not say what
 * went wrong.
 */
function guard<T>(lib: { fs: MiniFS }, path: string, what: string, fn: () => T): T {
  const mark = logMark(lib.fs);
  try {
    return fn();
  } catch (e) {
    throw e instanceof BacError ? e : hdf5Error(lib, path, what, mark, e);
  }
}

/** The BacError for a failed h5wasm call: HDF5's innermost reason logged since `mark`, else the JS message. */
function hdf5Error(lib: { fs: MiniFS }, path: string, what: string, mark: number, e: unknown): BacError {
  const reason = hdf5Reason(lib.fs, mark) || (e instanceof Error ? e.message : String(e));
  return new BacError(
    `${where(path)}: cannot read ${what} (HDF5: ${reason}); the file is damaged or not a robomimic file, export it again.`,
  );
}
