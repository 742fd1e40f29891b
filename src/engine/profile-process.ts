import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BacError } from '../core/errors';
import { parseProfile } from '../core/profile-format';
import type { Profile } from '../core/types';
import { writeFileAtomic } from './fsutil';
import type { ChildMessage, ParentMessage, ProfileProgress, ProfileRequest } from './profile-protocol';

export type { ProfileProgress, ProfileRequest } from './profile-protocol';

/** Rejection reason when the caller cancelled; nothing was written. */
export class ProfileCancelledError extends Error {
  constructor() {
    super('Profiling was cancelled; no profile was written.');
    this.name = 'ProfileCancelledError';
  }
}

/** Options of {@link profileInChildProcess}. */
export interface ProfileProcessOptions {
  /** Called after every finished batch. */
  readonly onProgress?: (p: ProfileProgress) => void;
  /** Aborting kills the child; the promise rejects with {@link ProfileCancelledError}. */
  readonly signal?: AbortSignal;
  /** Receives the child's log lines and its stderr. */
  readonly log?: (line: string) => void;
  /** Extra environment for the child (e.g. LD_LIBRARY_PATH for CUDA libraries). */
  readonly env?: NodeJS.ProcessEnv;
  /** Receives the child's pid once it runs (diagnostics; tests kill it to simulate a crash). */
  readonly onSpawn?: (pid: number) => void;
  /**
   * The child's entry module, for tools that run from sources but want the bundled child users
   * get (`dist/profile-worker.js`, no TypeScript compilation at start-up). Default: the bundled
   * worker beside this module, else the TypeScript entry through tsx.
   */
  readonly workerModule?: string;
}

/** Result of a successful profile. */
export interface ProfileOutcome {
  /** The profile as written. */
  readonly profile: Profile;
  /** Where it was written. */
  readonly profilePath: string;
  /** Provider that ran the model. */
  readonly provider: string;
  /** Provider decisions, in words. */
  readonly notes: string[];
  /** Peak resident set size of the profiling process, bytes. */
  readonly peakRssBytes: number;
}

/**
 * How to start the child: the bundled `dist/profile-worker.js` beside this bundle, or, when running
 * from sources (tests, `tsx`), the TypeScript entry through tsx.
 */
function workerEntry(): { module: string; execArgv: string[] } {
  const bundled = join(__dirname, 'profile-worker.js');
  if (existsSync(bundled)) return { module: bundled, execArgv: [] };
  const source = join(__dirname, 'profile-worker.ts');
  // tsx by absolute URL: the child may run with any working directory (a user's project folder)
  if (existsSync(source)) return { module: source, execArgv: ['--import', pathToFileURL(require.resolve('tsx')).href] };
  throw new Error(`profiling worker not found beside ${__dirname} (expected profile-worker.js or .ts)`);
}

/**
 * Profiles a model in a separate Node process and writes the `.bacprofile` atomically to
 * `request.outPath` only when the child succeeded and its bytes parse. A crash, a native abort, a
 * kill or a cancel leaves no output file (the child never writes it; the parent writes temp +
 * rename). Progress arrives once per batch.
 * @throws BacError for user errors reported by the child, or when the child died.
 * @throws ProfileCancelledError when `signal` aborted.
 */
export function profileInChildProcess(
  request: ProfileRequest,
  options: ProfileProcessOptions = {},
): Promise<ProfileOutcome> {
  const { onProgress, signal, log } = options;
  if (signal?.aborted) return Promise.reject(new ProfileCancelledError());
  const entry = options.workerModule ? { module: options.workerModule, execArgv: [] } : workerEntry();
  return new Promise<ProfileOutcome>((resolve, reject) => {
    let settled = false;
    let resultReceived = false;
    let child: ChildProcess;
    try {
      child = fork(entry.module, [], {
        execArgv: entry.execArgv,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        serialization: 'advanced',
      });
    } catch (e) {
      reject(e);
      return;
    }
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      // Once the result arrived the work is done and the file is being written (milliseconds): a
      // late cancel must not report "cancelled" while a complete profile appears on disk.
      if (resultReceived) return;
      child.kill('SIGKILL');
      finish(() => reject(new ProfileCancelledError()));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const forward = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log?.(line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    child.on('error', (e) => finish(() => reject(e)));
    child.on('message', (raw: unknown) => {
      const msg = raw as ChildMessage;
      switch (msg.type) {
        case 'ready': {
          if (child.pid !== undefined) options.onSpawn?.(child.pid);
          const start: ParentMessage = { type: 'start', request };
          child.send(start);
          break;
        }
        case 'log':
          log?.(msg.line);
          break;
        case 'progress':
          onProgress?.(msg.progress);
          break;
        case 'error':
          finish(() =>
            reject(
              msg.user ? new BacError(msg.message) : new Error(`${msg.message}${msg.stack ? `\n${msg.stack}` : ''}`),
            ),
          );
          child.kill();
          break;
        case 'done': {
          resultReceived = true;
          const bytes = new Uint8Array(Buffer.from(msg.profileBase64, 'base64'));
          const parsed = parseProfile(bytes);
          if (!parsed.ok) {
            finish(() =>
              reject(
                new Error(`profiling produced an invalid profile: ${parsed.errors.map((e) => e.message).join('; ')}`),
              ),
            );
            break;
          }
          // Settle only after the write, so success means the file is in place; a failed write
          // leaves no temp file (writeFileAtomic cleans up) and rejects.
          writeFileAtomic(request.outPath, bytes).then(
            () =>
              finish(() =>
                resolve({
                  profile: parsed.profile,
                  profilePath: request.outPath,
                  provider: msg.provider,
                  notes: msg.notes,
                  peakRssBytes: msg.peakRssBytes,
                }),
              ),
            (e: unknown) => finish(() => reject(e)),
          );
          break;
        }
      }
    });
    child.on('exit', (code, sig) => {
      // After `done` the child exits by design while the parent may still be writing the file.
      if (resultReceived) return;
      finish(() =>
        reject(
          new BacError(
            `the profiling process stopped before finishing (${sig ? `signal ${sig}` : `exit code ${code}`}); ` +
              'no profile was written. A native ONNX Runtime abort or running out of memory ends it this way: ' +
              'see the BAC log for its last messages, try `--ep cpu` or fewer samples',
          ),
        ),
      );
    });
  });
}
