import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readdirSync, unlinkSync } from 'node:fs';
import { open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BacError } from '../core/errors';

/**
 * Atomic writes and their temporary files. A write goes to a temp file in the target's directory
 * (so the rename stays on one file system), flushed, then renamed over the target: readers see the
 * old file or the new one, never a partial write.
 *
 * Temp files are named `.<target name, shortened>.<pid>.<8 hex>.bac-tmp`, at most NAME_MAX (255)
 * bytes, so any legal target name has a legal temp name and a user who finds one knows what it is
 * (BAC Studio's unfinished write of that file, by that process). Invariants:
 * - a failed write removes its temp file;
 * - SIGINT, SIGTERM or SIGHUP during a write removes every pending temp file of this process
 *   (then the signal's default action runs, unless the program handles the signal itself);
 * - a temp file left by a killed process (SIGKILL, power loss) is removed by the next write into
 *   that directory, once no live process has that pid.
 */

/** Longest file name (bytes) Linux, macOS and Windows file systems accept. */
export const NAME_MAX = 255;
/** Suffix of every temp file an atomic write creates (and the only files stale clean-up removes). */
export const TEMP_SUFFIX = '.bac-tmp';
const TEMP_PATTERN = /^\..*\.([0-9]+)\.[0-9a-f]{8}\.bac-tmp$/s;

/** `text` cut to at most `maxBytes` UTF-8 bytes, on a code point boundary. */
function utf8Prefix(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return text.slice(0, end);
}

/** A fresh temp file path for an atomic write of `target` (same directory, ≤ NAME_MAX bytes). */
export function tempPathFor(target: string): string {
  const tail = `.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
  const room = NAME_MAX - 1 - Buffer.byteLength(tail);
  return join(dirname(target), `.${utf8Prefix(basename(target), room)}${tail}`);
}

/** Whether `name` is one of our temp files, and the pid that wrote it. */
export function tempFileOwner(name: string): number | null {
  const m = TEMP_PATTERN.exec(name);
  return m ? Number(m[1]) : null;
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files in `dir` left by processes that no longer run (a SIGKILLed write). Only names
 * matching the temp pattern are touched. Returns the names removed; never throws.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const pid = tempFileOwner(name);
    if (pid === null || processAlive(pid)) continue;
    if (
      await unlink(join(dir, name)).then(
        () => true,
        () => false,
      )
    )
      removed.push(name);
  }
  return removed;
}

const pending = new Set<string>();
const CLEANUP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type CleanupSignal = (typeof CLEANUP_SIGNALS)[number];

/** Removes every pending temp file now (synchronously: a signal handler may be the last code to run). */
export function removePendingTempsSync(): void {
  for (const temp of pending) {
    try {
      unlinkSync(temp);
    } catch {
      // already renamed or removed
    }
  }
  pending.clear();
}

function onSignal(signal: CleanupSignal): void {
  removePendingTempsSync();
  // When nobody else handles the signal, do what it would have done without us: terminate.
  if (process.listenerCount(signal) === 1) {
    unwatchSignals();
    process.kill(process.pid, signal);
  }
}
const handlers = new Map(CLEANUP_SIGNALS.map((s) => [s, () => onSignal(s)] as const));

function watchSignals(): void {
  if (pending.size === 0) for (const [s, h] of handlers) process.on(s, h);
}
function unwatchSignals(): void {
  for (const [s, h] of handlers) process.removeListener(s, h);
}

/** Thrown by {@link writeFileAtomic} when a signal removed its temp file mid-write. */
export class WriteInterruptedError extends Error {
  constructor(readonly path: string) {
    super(`${path}: the write was interrupted by a signal; the file was not changed`);
    this.name = 'WriteInterruptedError';
  }
}

/**
 * Writes `data` to `path` atomically (see the module comment). Stale temp files of killed
 * processes in the directory are removed first. On failure the temp file is removed and the target
 * is untouched.
 * @throws the file-system error; {@link WriteInterruptedError} when a signal cancelled it.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await removeStaleTemps(dirname(path));
  const temp = tempPathFor(path);
  watchSignals();
  pending.add(temp);
  try {
    await writeFile(temp, data, { flush: true });
    if (!pending.has(temp)) throw new WriteInterruptedError(path);
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw !pending.has(temp) && !(e instanceof WriteInterruptedError) ? new WriteInterruptedError(path) : e;
  } finally {
    pending.delete(temp);
    if (pending.size === 0) unwatchSignals();
  }
}

/**
 * Checks, without changing anything visible, that an atomic write of `path` can succeed: the
 * directory exists and takes a new file (a temp file is created and removed), and `path` is not a
 * directory. Run it before long work so an unwritable output fails in seconds, not after it.
 * @throws the file-system error (ENOENT, EACCES, ENOTDIR, ENAMETOOLONG, EROFS, EISDIR…).
 */
export async function checkWritable(path: string): Promise<void> {
  const existing = await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (existing?.isDirectory()) {
    throw Object.assign(new Error(`EISDIR: is a directory, '${path}'`), { code: 'EISDIR', path });
  }
  await removeStaleTemps(dirname(path));
  const temp = tempPathFor(path);
  const handle = await open(temp, 'wx');
  await handle.close();
  await unlink(temp);
  // the target's own name must be legal too (the temp name may be shorter)
  if (Buffer.byteLength(basename(path)) > NAME_MAX) {
    throw Object.assign(new Error(`ENAMETOOLONG: name too long, '${path}'`), { code: 'ENAMETOOLONG', path });
  }
}

/**
 * Whether two paths name the same file (same device and inode: hard links, symlinks, `./a` and
 * `a` all match). False when either does not exist.
 */
export async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a).catch(() => null), stat(b).catch(() => null)]);
  return sa !== null && sb !== null && sa.dev === sb.dev && sa.ino === sb.ino;
}

/** Our temp files in `dir` (for tests and diagnostics). */
export function tempFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((n) => tempFileOwner(n) !== null);
}

/** Lower-case hex sha256 of a file's bytes, streamed (constant memory). */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Lower-case hex sha256 of bytes in memory. */
export function sha256Bytes(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** File-system error codes caused by the user's input (missing file, permissions), not by a bug. */
const USER_FS_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  ENAMETOOLONG: 'the name is too long',
  ENOTEMPTY: 'a non-empty directory is in the way',
};

/**
 * Turns a user-caused file-system error into a {@link BacError} naming the file and a fix; other
 * errors are returned unchanged (they are internal errors).
 */
export function fsUserError(e: unknown, file: string, action: string, fix: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const what = code ? USER_FS_ERRORS[code] : undefined;
  return what ? new BacError(`${file}: cannot ${action}: ${what} (${code}), ${fix}`) : e;
}

/**
 * Reads a whole input file; `expected` says what it should be (e.g. "a .bacschedule"), for the
 * message when it cannot be read.
 * @throws BacError when it is missing or unreadable for a reason the user can fix.
 */
export async function readInput(file: string, expected: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    throw fsUserError(e, file, 'read it', `expected ${expected}`);
  }
}
