/**
 * Node file helpers of the CLI: the engine's hashing and atomic writes, and the check of an output
 * path, with file-system failures the user can fix turned into user errors (exit 1) naming the file.
 */
import { BacError } from '../core/errors';
import {
  checkWritable,
  fsUserError,
  sameFile,
  sha256File as engineSha256File,
  writeFileAtomic as engineWriteFileAtomic,
  WriteInterruptedError,
} from '../engine/fsutil';

export { sha256Bytes } from '../engine/fsutil';

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
