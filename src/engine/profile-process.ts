import { parseProfile } from '../core/profile-format';
import type { Profile } from '../core/types';
import { runChildTask } from './child-task';
import { writeFileAtomic } from './fsutil';
import type { ProfileProgress, ProfileRequest, ProfileResult } from './profile-protocol';

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
 * Profiles a model in a separate Node process (child-task.ts) and writes the `.bacprofile`
 * atomically to `request.outPath` only when the child succeeded and its bytes parse. A crash, a
 * native abort, a kill or a cancel leaves no output file (the child never writes it; the parent
 * writes temp + rename). Progress arrives once per batch.
 * @throws BacError for user errors reported by the child, or when the child died.
 * @throws ProfileCancelledError when `signal` aborted.
 */
export function profileInChildProcess(
  request: ProfileRequest,
  options: ProfileProcessOptions = {},
): Promise<ProfileOutcome> {
  return runChildTask<ProfileRequest, ProfileProgress, ProfileResult, ProfileOutcome>({
    worker: 'profile-worker',
    workerModule: options.workerModule,
    request,
    onProgress: options.onProgress,
    log: options.log,
    signal: options.signal,
    cancelled: () => new ProfileCancelledError(),
    env: options.env,
    onSpawn: options.onSpawn,
    // Settles only after the write, so success means the file is in place; a failed write leaves
    // no temp file (writeFileAtomic cleans up) and rejects.
    onResult: async (result) => {
      const bytes = new Uint8Array(Buffer.from(result.profileBase64, 'base64'));
      const parsed = parseProfile(bytes);
      if (!parsed.ok) {
        throw new Error(`profiling produced an invalid profile: ${parsed.errors.map((e) => e.message).join('; ')}`);
      }
      await writeFileAtomic(request.outPath, bytes);
      return {
        profile: parsed.profile,
        profilePath: request.outPath,
        provider: result.provider,
        notes: result.notes,
        peakRssBytes: result.peakRssBytes,
      };
    },
    died: (how) =>
      `the profiling process stopped before finishing (${how}); no profile was written. A native ONNX Runtime ` +
      'abort or running out of memory ends it this way: see the BAC log for its last messages, try `--ep cpu` or fewer samples',
  });
}
