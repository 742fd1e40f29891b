/**
 * Paths as BAC files store them: POSIX, relative to the file that stores them (so files diff the
 * same on every OS and move together with what they reference).
 */
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';

/**
 * `target` relative to directory `fromDir`, with `/` separators; `.` for the directory itself.
 * Falls back to the absolute path when no relative one exists (another Windows drive).
 */
export function relativePosix(fromDir: string, target: string): string {
  const rel = relative(resolve(fromDir), resolve(target));
  return rel === '' ? '.' : rel.split(sep).join('/');
}

/** Resolves a POSIX path stored in a BAC file against the directory of the file that stores it. */
export function resolveStored(fromDir: string, storedPath: string): string {
  const local = storedPath.split('/').join(sep);
  return isAbsolute(local) ? normalize(local) : join(fromDir, local);
}

/** `target` as stored in the file at `filePath` (relative to that file's directory). */
export function storedPathFor(filePath: string, target: string): string {
  return relativePosix(dirname(filePath), target);
}
