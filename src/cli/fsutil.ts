/**
 * Node file helpers of the CLI: the engine's hashing and atomic writes, plus reading inputs, with
 * file-system failures the user can fix turned into user errors (exit 1) naming the file.
 */
import { readFile } from 'node:fs/promises';
import { BacError } from '../core/errors';
import {
  checkWritable,
  sameFile,
  sha256File as engineSha256File,
  writeFileAtomic as engineWriteFileAtomic,
  WriteInterruptedError,
} from '../engine/fsutil';

export { sha256Bytes } from '../engine/fsutil';

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
  try {
    return await engineSha256File(file);
  } catch (e) {
    throw fsUserError(e, file, 'read it', 'expected an existing readable file');
  }
}

/**
 * Writes `data` to `file` atomically (the engine's temp-file-and-rename helper: readers see the
 * old or the new content, never a partial one; a failed write leaves no temporary file).
 * @throws BacError when the directory is missing or not writable.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  try {
    await engineWriteFileAtomic(file, data);
  } catch (e) {
    if (e instanceof WriteInterruptedError) throw new BacError(`interrupted: ${e.message}`);
    throw fsUserError(e, file, 'write it', WRITABLE_FIX);
  }
}

const WRITABLE_FIX = 'expected a writable path in an existing directory';

/** An input of a command, which its output must never replace. */
export interface CommandInput {
  /** The path as the user gave it (or as resolved from a file that names it). */
  readonly path: string;
  /** What it is, e.g. "model", "schedule". */
  readonly what: string;
}

/**
 * Checks an output path before any long work: it is none of the command's inputs (by file identity,
 * so `./m.onnx`, a hard link or a symlink to the input all count) and an atomic write there can
 * succeed (existing writable directory, not a directory itself, a legal name).
 * @throws BacError naming the output and the fix.
 */
export async function checkOutput(out: string, inputs: readonly CommandInput[]): Promise<void> {
  for (const input of inputs) {
    if (await sameFile(out, input.path)) {
      throw new BacError(
        `${out}: is the ${input.what} this command reads (${input.path}), expected a different output path (writing it would destroy the ${input.what})`,
      );
    }
  }
  try {
    await checkWritable(out);
  } catch (e) {
    throw fsUserError(e, out, 'write it', WRITABLE_FIX);
  }
}
