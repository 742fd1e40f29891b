import { dirname, resolve } from 'node:path';
import type { CostTarget } from '../core/cost-target';
import { BacError } from '../core/errors';
import type { FileRef } from '../core/types';
import { sha256Bytes, sha256File } from './fsutil';
import { relativePosix, resolveStored } from './paths';
import { loadPolicy, policyScheduler } from './policy';
import type { LoadedProfile } from './profile-file';
import { loadWindows } from './profiler';
import { closedLoopObjective, type TuneMeasure, type TuneObjective, type TuneRequest, type TuneSearch } from './tune';

/** Local-search iterations unless told otherwise. */
export const DEFAULT_TUNE_ITERATIONS = 60;
/** Tuning (and as many selection and held-out) windows of an offline measure unless told otherwise. */
export const DEFAULT_TUNE_WINDOWS = 16;
/** Closed-loop episodes per evaluation with `success` unless told otherwise. */
export const DEFAULT_TUNE_TRIALS = 200;

/**
 * A tune as plain data (what `bac tune`'s flags and the editor's questions produce), and how it
 * becomes a {@link TuneRequest}: the one place that resolves the profiled model and episodes,
 * checks the model is the profiled one, and picks the tuning and held-out sets. Plain data so it
 * can cross into the child process the editor tunes in.
 */
export interface TuneJob {
  readonly profilePath: string;
  /** The model, when it is no longer where the profile says (same sha256). */
  readonly modelPath?: string;
  /** Episodes to cut windows from (default: the profile's). */
  readonly episodesPath?: string;
  /** The schedule to be written: its references to the model and profile are relative to it. */
  readonly outPath: string;
  readonly target: CostTarget;
  readonly measure: TuneMeasure;
  /** Tuning (and as many selection and held-out) windows of an offline measure. */
  readonly windows: number;
  /** Closed-loop episodes per evaluation with `success`. */
  readonly trials: number;
  readonly search: TuneSearch;
  readonly seed: number;
  readonly topN: number;
  readonly forceLast: boolean;
  readonly threads?: number;
}

/**
 * The job's request (without signal and progress, which belong to the caller).
 * @throws BacError when the model is missing or not the profiled one, or the episodes are unusable.
 */
export async function prepareTune(
  job: TuneJob,
  { profile, bytes }: LoadedProfile,
): Promise<Omit<TuneRequest, 'signal' | 'onProgress'>> {
  const profileDir = dirname(resolve(job.profilePath));
  const modelPath = job.modelPath ?? resolveStored(profileDir, profile.model.path);
  const sha = await sha256File(modelPath).catch(() => {
    throw new BacError(
      `${modelPath}: cannot read the profiled model; pass its new location (--model FILE), expected the file profiled by ${job.profilePath}`,
    );
  });
  if (sha !== profile.model.sha256)
    throw new BacError(
      `${modelPath}: sha256 ${sha.slice(0, 12)}… differs from the profiled model's ${profile.model.sha256.slice(0, 12)}…; re-profile if the model changed`,
    );
  const policy = await loadPolicy(modelPath);
  const scheduler = policyScheduler(policy, profile.sampler.steps, profile.sampler.type);
  const episodesPath = job.episodesPath ?? resolveStored(profileDir, profile.episodes);
  const objective: TuneObjective =
    job.measure === 'success'
      ? closedLoopObjective(job.trials, job.seed)
      : {
          kind: 'offline',
          measure: job.measure,
          tuneWindows: await loadWindows(policy, episodesPath, job.windows, profile.seed),
          heldoutWindows: await loadWindows(policy, episodesPath, job.windows, profile.seed + 1_000_003),
          selectionWindows:
            job.search.kind === 'population'
              ? await loadWindows(policy, episodesPath, job.windows, profile.seed + 2_000_006)
              : [],
        };
  const outDir = dirname(resolve(job.outPath));
  const model: FileRef = { path: relativePosix(outDir, modelPath), sha256: sha };
  const profileRef: FileRef = { path: relativePosix(outDir, job.profilePath), sha256: sha256Bytes(bytes) };
  return {
    policy,
    scheduler,
    profile,
    target: job.target,
    forceLast: job.forceLast,
    topN: job.topN,
    model,
    profileRef,
    objective,
    search: job.search,
    seed: job.seed,
    threads: job.threads,
  };
}
