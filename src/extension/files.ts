import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sha256File } from '../engine/fsutil';

/**
 * File helpers of the extension host: stat without throwing, sha256 cached by (mtime, size) so
 * CodeLens passes and editor refreshes hash a large model once per change, and (re-exported from
 * the engine's `paths.ts`) the helpers for the POSIX paths stored in BAC files.
 */

/** Size and modification time of a file, or null when it does not exist or is not a file. */
export async function statFile(path: string): Promise<{ mtimeMs: number; size: number } | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? { mtimeMs: s.mtimeMs, size: s.size } : null;
  } catch {
    return null;
  }
}

/**
 * A sha256 cache keyed by path and validated by mtime + size. Concurrent requests for the same
 * file share one hashing pass.
 */
export class HashCache {
  private readonly entries = new Map<string, { mtimeMs: number; size: number; hash: Promise<string> }>();

  /** The file's sha256, or null when it does not exist. Rejects only on read errors. */
  async sha256(path: string): Promise<string | null> {
    const s = await statFile(path);
    if (!s) {
      this.entries.delete(path);
      return null;
    }
    const hit = this.entries.get(path);
    if (hit && hit.mtimeMs === s.mtimeMs && hit.size === s.size) return hit.hash;
    const hash = sha256File(path);
    this.entries.set(path, { ...s, hash });
    hash.catch(() => this.entries.delete(path));
    return hash;
  }

  /** Forgets a file (a watcher saw it change). */
  invalidate(path: string): void {
    this.entries.delete(path);
  }
}

export { relativePosix, resolveStored } from '../engine/paths';

/** Directory of a file path. */
export { dirname };
