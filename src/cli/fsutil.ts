/**
 * Node file helpers of the CLI: reading inputs with user-facing errors, hashing, atomic writes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { BacError } from '../core/errors';

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
 * Reads a whole input file.
 * @throws BacError when it is missing or unreadable.
 */
export async function readInput(file: string, expected: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    throw fsUserError(e, file, 'read it', `expected ${expected}`);
  }
}

/**
 * Lower-case hex sha256 of a file's bytes, streamed (models can be large). O(file size), O(1) memory.
 * @throws BacError when the file is missing or unreadable.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (e) {
    throw fsUserError(e, file, 'read it', 'expected an existing readable file');
  }
  return hash.digest('hex');
}

/** Lower-case hex sha256 of bytes in memory. */
export function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Writes `data` to `file` atomically: a temporary file in the same directory (same file system,
 * so the rename is atomic), flushed to disk, then renamed over `file`. Readers see the old or the
 * new content, never a partial one; on failure the temporary file is removed. The temporary name
 * starts with `.bac-tmp-` (git-ignored).
 * @throws BacError when the directory is missing or not writable.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(
    dirname(resolve(file)),
    `.bac-tmp-${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}`,
  );
  try {
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw fsUserError(e, file, 'write it', 'expected a writable path in an existing directory');
  }
}

/**
 * `target` relative to directory `fromDir`, with `/` separators (files store POSIX paths so they
 * diff the same on every OS). Falls back to the absolute path when no relative one exists (another
 * Windows drive).
 */
export function relativePosix(fromDir: string, target: string): string {
  const rel = relative(resolve(fromDir), resolve(target));
  return rel === '' ? '.' : rel.split(sep).join('/');
}
