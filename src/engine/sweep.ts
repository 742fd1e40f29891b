import { createHash } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildBaseline } from '../core/baselines';
import { BacError } from '../core/errors';
import { updateTableHash } from '../core/measured-speed';
import { serializeProfile } from '../core/profile-format';
import {
  describeTolerance,
  QUALITY_MEASURES,
  TOLERANCE_KIND,
  type QualityMeasureId,
  type QualityStat,
} from '../core/quality';
import { formatQuality } from '../core/sweep-view';
import { serializeSchedule } from '../core/schedule-format';
import { defaultGrid, fullSchedule, paretoFront, qualityLimit, recommend, type SamplerAtK } from '../core/sweep';
import {
  configId,
  serializeSweepReport,
  SWEEP_FORMAT,
  SWEEP_VERSION,
  type SweepConfig,
  type SweepReport,
} from '../core/sweep-format';
import { failureRate, planPairedTrials } from '../core/trials';
import type { FileRef, Profile, Schedule } from '../core/types';
import { assertDemoTaskPolicy } from './closed-loop';
import { ClosedLoopScorer, type ClosedLoopTrials } from './closed-loop-trials';
import { loadDemoWindows } from './demonstrations';
import { sha256Bytes, writeFileAtomic } from './fsutil';
import type { ExecutionProviderChoice } from './ort';
import { loadPolicy, policyScheduler, scheduleScheduler, type Policy } from './policy';
import { updateTable } from './runner';
import { storedPathFor } from './paths';
import { includedConfigs, rebasedSchedule, withFullModels, type IncludedSchedule } from './sweep-include';
import { loadWindows, runProfile } from './profiler';
import { measureReferenceDistances, REFERENCE_DISTANCE_DEFAULTS, type DistanceResult } from './reference-distance';
import {
  aggregateRecords,
  measureWindows,
  openChunkGraphRunners,
  type MeasuredConfig,
  type WindowRecord,
} from './sweep-measure';

/**
 * `bac sweep`: profiles what the grid needs (one profile per sampler configuration with a BAC
 * schedule), builds every configuration's schedule, measures them all on the same windows and noise
 * (sweep-measure.ts), and writes the `.bacsweep` report and the recommended schedule. Progress is
 * kept after every window in a resume file beside the report (complete JSON, written atomically),
 * so an interrupted sweep continues where it stopped; the report and the schedule are written
 * atomically only at the end, and the resume file is then removed.
 */

/** Defaults sized so the demo sweeps in minutes on a 2-core CPU, loading and profiling included. */
export const SWEEP_DEFAULTS = {
  windows: 24,
  draws: 4,
  distanceWindows: REFERENCE_DISTANCE_DEFAULTS.windows,
  distanceDraws: REFERENCE_DISTANCE_DEFAULTS.draws,
  seed: 1,
  profileSamples: 16,
  measure: 'reference-distance' as QualityMeasureId,
  topN: 3,
  /** Closed-loop episodes per configuration with `closed-loop-failure`. */
  trials: 400,
};

/**
 * First layout seed of a closed-loop sweep's trials: layouts no other run of the demo uses (training
 * 0…, held-out episodes 100 000…, replicate 300 000…, fidelity study 500 000…, confirmations
 * 600 000…, `bac tune`'s trials 700 000…), so a recommendation is confirmed elsewhere on layouts it
 * was not chosen on.
 */
export const SWEEP_TRIAL_LAYOUTS = 720_000;

/**
 * Default tolerance per measure. `reference-distance` 0.02: on the demo (docs/sweep.md, "Which
 * measure") every configuration at or below it kept the full model's closed-loop success within
 * noise and every one above 0.035 lost it; the relative ones allow 5 % above the reference;
 * `closed-loop-failure` 0.03: at most 3 points more failures than the reference on the trials,
 * about one standard error of a paired difference at 400 episodes.
 */
export const DEFAULT_TOLERANCE: Readonly<Record<QualityMeasureId, number>> = {
  'demo-mse': 0.05,
  'demo-mse-best-of-n': 0.05,
  'reference-distance': 0.02,
  'full-model-error': 0.05,
  'closed-loop-failure': 0.03,
};

/** What to sweep. Paths are absolute. */
export interface SweepRequest {
  readonly modelPath: string;
  readonly episodesPath: string;
  /** The `.bacsweep` report. */
  readonly outPath: string;
  /** The recommended `.bacschedule`. */
  readonly schedulePath: string;
  /** Reference sampler (the full model under it); default: the policy's own sampler and K. */
  readonly reference?: SamplerAtK;
  /** The grid, given the policy's own sampler (the reference); default {@link defaultGrid}. */
  readonly grid?: (reference: SamplerAtK) => readonly SweepConfig[];
  /**
   * Schedules of this model measured beside the grid, each as it is (method `schedule`); their
   * samplers' full models join the grid when it lacks them.
   */
  readonly include?: readonly IncludedSchedule[];
  readonly windows?: number;
  readonly draws?: number;
  /** Windows and draws of the batched `reference-distance` pass. */
  readonly distanceWindows?: number;
  readonly distanceDraws?: number;
  readonly seed?: number;
  readonly profileSamples?: number;
  readonly measure?: QualityMeasureId;
  readonly tolerance?: number;
  readonly ep: ExecutionProviderChoice;
  /** Success rate the user measured for the reference (for the trials plan); none: no plan. */
  readonly success?: number;
  /** Closed-loop episodes per configuration with `closed-loop-failure` (default {@link SWEEP_DEFAULTS}). */
  readonly trials?: number;
}

/** Progress of a sweep. */
export interface SweepProgress {
  /** Profiling sampler configurations, timing windows, or the batched distance pass over configurations. */
  readonly phase: 'profile' | 'measure' | 'distance' | 'closed-loop';
  readonly done: number;
  readonly total: number;
  /** Estimated ms left in this phase; null before the first step finished. */
  readonly etaMs: number | null;
}

export interface SweepHooks {
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
  readonly onProgress?: (p: SweepProgress) => void;
}

/** Where a sweep's resume file lives. */
export function resumePath(outPath: string): string {
  return `${outPath}.resume.json`;
}

/**
 * Identity of a sweep's measurements: a resume file is reused only when the rerun measures the same
 * configurations — each by its id and its update table, so other budgets, an edited included
 * schedule or a cache schedule solved from another profile (`--profile-samples`, another solver) are
 * measured again — on the same model, episodes, sizes, seed, runner and closed-loop trials.
 * O(configs · K · blocks).
 */
export function sweepResumeKey(parts: {
  readonly modelSha256: string;
  readonly episodesPath: string;
  /** Every configuration measured: the grid's and the included ones. */
  readonly configs: readonly MeasuredConfig[];
  /** Windows, draws, distance windows, distance draws, seed. */
  readonly options: readonly number[];
  readonly runner: string;
  readonly closedLoop: ClosedLoopTrials | null;
}): string {
  const { modelSha256, episodesPath, configs, options, runner, closedLoop } = parts;
  const measured = configs.map((c) => `${configId(c.config)}#${updateTableHash(c.schedule)}`);
  return createHash('sha256')
    .update(JSON.stringify([modelSha256, episodesPath, measured, ...options, runner, closedLoop]))
    .digest('hex');
}

interface ResumeState {
  readonly key: string;
  readonly records: WindowRecord[];
  /** `reference-distance` of the configurations measured so far, by id. */
  readonly distances?: Record<string, DistanceResult>;
  /** Closed-loop outcomes of the configurations run so far, by id: `1` success, `0` not, per trial. */
  readonly loops?: Record<string, string>;
}

const cancelled = (): BacError =>
  new BacError('interrupted: the sweep was cancelled; no report was written (rerun the same command to resume)');

/** The profile the recommended BAC schedule references is written beside it. */
function profilePathFor(schedulePath: string): string {
  return schedulePath.replace(/\.bacschedule$/, '') + '.bacprofile';
}

/**
 * Runs a sweep and writes the report, the recommended schedule (and, for a BAC recommendation, the
 * profile it was solved from, beside it).
 * @throws BacError for user errors, and when cancelled (the resume file then holds finished windows).
 */
export async function runSweep(
  request: SweepRequest,
  hooks: SweepHooks = {},
): Promise<{ report: SweepReport; schedule: Schedule }> {
  const log = hooks.log ?? (() => undefined);
  const o = {
    windows: request.windows ?? SWEEP_DEFAULTS.windows,
    draws: request.draws ?? SWEEP_DEFAULTS.draws,
    seed: request.seed ?? SWEEP_DEFAULTS.seed,
    profileSamples: request.profileSamples ?? SWEEP_DEFAULTS.profileSamples,
    distanceWindows: request.distanceWindows ?? SWEEP_DEFAULTS.distanceWindows,
    distanceDraws: request.distanceDraws ?? SWEEP_DEFAULTS.distanceDraws,
    measure: request.measure ?? SWEEP_DEFAULTS.measure,
    tolerance: request.tolerance ?? DEFAULT_TOLERANCE[request.measure ?? SWEEP_DEFAULTS.measure],
    topN: SWEEP_DEFAULTS.topN,
    trials: request.trials ?? SWEEP_DEFAULTS.trials,
  };
  if (!(o.measure in QUALITY_MEASURES)) throw new BacError(`measure ${o.measure} is unknown`);
  const policy = await loadPolicy(request.modelPath);
  const closedLoopTrials: ClosedLoopTrials | null =
    o.measure === 'closed-loop-failure' ? { episodes: o.trials, seed: SWEEP_TRIAL_LAYOUTS, noiseSeed: o.seed } : null;
  // Before minutes of profiling and timing: a closed loop needs the demo task's observations.
  if (closedLoopTrials) assertDemoTaskPolicy(policy);
  const sampler = policy.info.metadata.sampler;
  const reference: SweepConfig = {
    ...(request.reference ?? { sampler: sampler.type, steps: sampler.numInferenceSteps }),
    method: 'full',
    budget: null,
  };
  const included = includedConfigs(request.include ?? [], request.outPath, {
    sha256: policy.info.sha256,
    blockIds: policy.info.blocks.map((b) => b.id),
  });
  // Before any profiling: each included schedule's K must be one the policy's noise schedule gives.
  for (const c of included) scheduleScheduler(policy, c.schedule, c.path);
  // Inputs are never overwritten by outputs: the recommendation could be written over its own file.
  const overwritten = included.find((c) => resolve(c.path) === resolve(request.schedulePath));
  if (overwritten) throw new BacError(`the recommended schedule would overwrite the input ${overwritten.path}`);
  const grid = withFullModels(
    (request.grid ?? defaultGrid)({ sampler: reference.sampler, steps: reference.steps }),
    included,
  );
  if (!grid.some((c) => configId(c) === configId(reference))) {
    throw new BacError(`the grid lacks the reference ${configId(reference)}; add it to the samplers`);
  }
  const modelRef: FileRef = {
    path: storedPathFor(request.schedulePath, request.modelPath),
    sha256: policy.info.sha256,
  };

  // Profiles: the reference's (block times for every schedule's costs) and one per cached sampler.
  const needs = new Map<string, { sampler: string; steps: number }>([
    [`${reference.sampler}-${reference.steps}`, reference],
  ]);
  for (const c of grid) if (c.method !== 'full') needs.set(`${c.sampler}-${c.steps}`, c);
  const profiles = new Map<string, Profile>();
  const t0 = performance.now();
  for (const [key, s] of needs) {
    if (hooks.signal?.aborted) throw cancelled();
    hooks.onProgress?.({
      phase: 'profile',
      done: profiles.size,
      total: needs.size,
      etaMs: profiles.size ? ((performance.now() - t0) / profiles.size) * (needs.size - profiles.size) : null,
    });
    const run = await runProfile({
      modelPath: request.modelPath,
      episodesPath: request.episodesPath,
      samples: o.profileSamples,
      seed: 0,
      executionProvider: request.ep,
      outPath: '',
      samplerType: s.sampler,
      steps: s.steps,
    });
    log(`profiled ${key} on ${o.profileSamples} windows`);
    profiles.set(key, run.profile);
  }
  const refProfile = profiles.get(`${reference.sampler}-${reference.steps}`)!;
  const built: MeasuredConfig[] = grid.map((config) => {
    const samplerInfo = { type: config.sampler, steps: config.steps };
    if (config.method === 'full')
      return { config, schedule: fullSchedule({ ...refProfile, model: modelRef }, samplerInfo) };
    if (config.method === 'schedule') throw new BacError(`${configId(config)}: a sweep grid builds its schedules`);
    const profile = profiles.get(`${config.sampler}-${config.steps}`)!;
    return { config, schedule: buildBaseline(config.method, profile, modelRef, config.budget!, o.topN, true) };
  });
  const configs = [...built, ...included];

  const windows = await loadDemoWindows(policy, request.episodesPath, o.windows, o.seed);
  const runners = await openChunkGraphRunners(policy, request.ep);
  const key = sweepResumeKey({
    modelSha256: policy.info.sha256,
    episodesPath: request.episodesPath,
    configs,
    options: [o.windows, o.draws, o.distanceWindows, o.distanceDraws, o.seed],
    runner: runners.description,
    closedLoop: closedLoopTrials,
  });
  const statePath = resumePath(request.outPath);
  const records: WindowRecord[] = [];
  let distances: Record<string, DistanceResult> = {};
  const loops: Record<string, string> = {};
  const saveState = () =>
    writeFileAtomic(statePath, JSON.stringify({ key, records, distances, loops } satisfies ResumeState));
  try {
    const previous = JSON.parse(await readFile(statePath, 'utf8')) as ResumeState;
    if (previous.key === key && Array.isArray(previous.records)) {
      records.push(...previous.records.slice(0, windows.length));
      distances = { ...previous.distances };
      Object.assign(loops, previous.loops);
      log(`resuming: ${records.length}/${windows.length} windows already measured (${statePath})`);
    }
  } catch {
    // no resume file, or an unreadable one: start afresh (it is overwritten below)
  }
  try {
    const t1 = performance.now();
    const startAt = records.length;
    hooks.onProgress?.({ phase: 'measure', done: startAt, total: windows.length, etaMs: null });
    await measureWindows(policy, windows, configs, runners, {
      draws: o.draws,
      seed: o.seed,
      start: startAt,
      signal: hooks.signal,
      onWindow: async (i, record) => {
        records.push(record);
        await saveState();
        const done = i + 1 - startAt;
        hooks.onProgress?.({
          phase: 'measure',
          done: i + 1,
          total: windows.length,
          etaMs: ((performance.now() - t1) / done) * (windows.length - i - 1),
        });
      },
    });
  } catch (e) {
    if (hooks.signal?.aborted) throw cancelled();
    throw e;
  } finally {
    await runners.release();
  }
  const distanceWindows = await loadWindows(policy, request.episodesPath, o.distanceWindows, o.seed);
  try {
    const t2 = performance.now();
    let measured = 0;
    const pending = () => configs.filter((c) => !distances[configId(c.config)]).length;
    const total = configs.length;
    hooks.onProgress?.({ phase: 'distance', done: total - pending(), total, etaMs: null });
    const items = configs.map((c) => ({ id: configId(c.config), schedule: c.schedule }));
    distances = await measureReferenceDistances(policy, distanceWindows, items, configId(reference), {
      draws: o.distanceDraws,
      seed: o.seed,
      ep: request.ep,
      signal: hooks.signal,
      done: distances,
      onItem: async (id, result) => {
        distances[id] = result;
        measured++;
        await saveState();
        const left = pending();
        hooks.onProgress?.({
          phase: 'distance',
          done: total - left,
          total,
          etaMs: ((performance.now() - t2) / measured) * left,
        });
      },
    });
  } catch (e) {
    if (hooks.signal?.aborted) throw cancelled();
    throw e;
  }

  if (closedLoopTrials) await runClosedLoops(policy, configs, closedLoopTrials, loops, saveState, hooks);

  const results = aggregateRecords(records, configs, reference).map((r) => ({
    ...r,
    quality: {
      ...r.quality,
      'reference-distance': distances[configId(r.config)]?.distance ?? null,
      'closed-loop-failure': closedLoopFailure(loops[configId(r.config)]),
    },
  }));
  const recommendation = recommend(results, reference, o.measure, o.tolerance);
  const chosen = configs.find((c) => configId(c.config) === recommendation)!;
  const notes = [
    'Speedups are measured in this run on this machine; on a machine shared with other work they are inflated or deflated by contention — rerun on a quiet machine before quoting them.',
    closedLoopTrials
      ? `Recommended by closed-loop success in the demo simulator on ${closedLoopTrials.episodes} trial episodes per configuration (layouts ${closedLoopTrials.seed}…, the same for every configuration); the trials chose it, so confirm it on other layouts or the robot before quoting its success.`
      : 'Quality measures are offline proxies (see "measures"); on the demo task reference-distance ranked closed-loop success best (docs/sweep.md), a finding on one task: confirm the recommendation with the trials plan.',
  ];
  let schedule = chosen.schedule;
  const chosenFile = included.find((c) => configId(c.config) === recommendation);
  if (chosenFile) schedule = rebasedSchedule(schedule, chosenFile.path, request.schedulePath, modelRef);
  else if (chosen.config.method === 'bac') {
    // The BAC schedule names its profile so `bac eval` can build its baselines and the editor re-solve.
    const profilePath = profilePathFor(request.schedulePath);
    const profile = { ...profiles.get(`${chosen.config.sampler}-${chosen.config.steps}`)!, model: modelRef };
    const bytes = serializeProfile(profile);
    await writeFileAtomic(profilePath, bytes);
    schedule = {
      ...schedule,
      solver: {
        ...schedule.solver,
        profile: { path: storedPathFor(request.schedulePath, profilePath), sha256: sha256Bytes(bytes) },
      },
    };
  }
  const refResult = results.find((r) => configId(r.config) === configId(reference))!;
  const report: SweepReport = {
    format: SWEEP_FORMAT,
    version: SWEEP_VERSION,
    model: { path: storedPathFor(request.outPath, request.modelPath), sha256: policy.info.sha256 },
    episodes: storedPathFor(request.outPath, request.episodesPath),
    createdAt: new Date().toISOString(),
    provider: runners.provider,
    runner: runners.description,
    windows: windows.length,
    draws: o.draws,
    seed: o.seed,
    reference,
    distanceSample: { windows: distanceWindows.length, draws: o.distanceDraws },
    ...(closedLoopTrials ? { closedLoop: closedLoopTrials } : {}),
    measure: o.measure,
    tolerance: o.tolerance,
    measures: QUALITY_MEASURES,
    results,
    pareto: paretoFront(results, o.measure),
    recommendation,
    recommendedSchedule: storedPathFor(request.outPath, request.schedulePath),
    trials:
      request.success === undefined
        ? null
        : { success: request.success, drop: 0.1, plan: planPairedTrials({ success: request.success, drop: 0.1 }) },
    notes: [
      ...notes,
      `Recommended among the configurations with ${describeTolerance(o.measure, o.tolerance)} (the reference ${configId(reference)} has ${formatQuality(refResult.quality[o.measure] ?? null, TOLERANCE_KIND[o.measure])}; the limit is ${qualityLimit(refResult, o.measure, o.tolerance).toPrecision(3)}).`,
    ],
  };
  await writeFileAtomic(request.schedulePath, serializeSchedule(schedule));
  await writeFileAtomic(request.outPath, serializeSweepReport(report));
  await unlink(statePath).catch(() => undefined);
  return { report, schedule };
}

/** Failure rate of recorded outcomes (`1` success) with its standard error over episodes; null when not run. */
function closedLoopFailure(outcomes: string | undefined): QualityStat | null {
  if (!outcomes) return null;
  const n = outcomes.length;
  const p = failureRate([...outcomes].map((c) => c === '1'));
  return { value: p, seedStd: null, windowSe: Math.sqrt((p * (1 - p)) / n) };
}

/**
 * The closed-loop pass: every configuration not yet in `loops` runs the trial episodes in the demo
 * simulator (the same layouts and noise for all, so their outcomes are paired), on one gated runner;
 * the state is saved after each configuration, so an interrupted sweep resumes here.
 */
async function runClosedLoops(
  policy: Policy,
  configs: readonly MeasuredConfig[],
  trials: ClosedLoopTrials,
  loops: Record<string, string>,
  saveState: () => Promise<void>,
  hooks: SweepHooks,
): Promise<void> {
  const pending = configs.filter((c) => loops[configId(c.config)] === undefined);
  const total = configs.length;
  hooks.onProgress?.({ phase: 'closed-loop', done: total - pending.length, total, etaMs: null });
  const scorer = await ClosedLoopScorer.open(policy);
  const t0 = performance.now();
  try {
    for (const [i, c] of pending.entries()) {
      if (hooks.signal?.aborted) throw cancelled();
      const scheduler = policyScheduler(policy, c.config.steps, c.config.sampler);
      const won = await scorer.outcomes(scheduler, updateTable(c.schedule, scorer.blockIds), trials, hooks.signal);
      loops[configId(c.config)] = won.map((w) => (w ? '1' : '0')).join('');
      await saveState();
      hooks.log?.(`closed loop ${configId(c.config)}: ${won.filter(Boolean).length}/${trials.episodes} succeeded`);
      hooks.onProgress?.({
        phase: 'closed-loop',
        done: total - pending.length + i + 1,
        total,
        etaMs: ((performance.now() - t0) / (i + 1)) * (pending.length - i - 1),
      });
    }
  } catch (e) {
    if (hooks.signal?.aborted) throw cancelled();
    throw e;
  } finally {
    await scorer.release();
  }
}
