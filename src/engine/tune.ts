import { BacError } from '../core/errors';
import { assertUsableTarget, costOf, type CostTarget } from '../core/cost-target';
import { scheduleBaseCost } from '../core/cost';
import { solveForTarget } from '../core/methods';
import type { ScheduleMethod } from '../core/solver-params';
import { Rng } from '../core/rng';
import { serializeSchedule } from '../core/schedule-format';
import type { FileRef, Profile, Schedule } from '../core/types';
import type { WindowSample } from './episodes';
import { writeFileAtomic } from './fsutil';
import { OfflineReference, type MeasureName } from './offline-measures';
import type { Policy } from './policy';
import { updateTable } from './runner';
import type { NoiseScheduler } from './samplers';

/**
 * The offline measure `bac tune` minimises unless told otherwise: the error of the first executed
 * action against the full model on the same noise. In the full-size fidelity study
 * (docs/fidelity-study.md) it ranked closed-loop success best of the measures tuning can optimise
 * at DPM-Solver++-10, where users sample (Spearman ρ −0.55 and −0.59 at the two cost levels); at
 * DDPM-100 only the reference distance ranks well, and it needs too many draws to be an objective.
 */
export const DEFAULT_TUNE_MEASURE: MeasureName = 'firstAction';

/**
 * `bac tune`: model-in-the-loop local search over update tables. Starts from the best of Uniform,
 * grid and BAC at the cost target (by the measure on the tuning windows), then proposes moves —
 * shift one update of a block by a few steps, move an update from one block to another, add or drop
 * one — keeps only those within the cost target, and accepts a move when the measure on the tuning
 * windows strictly drops. Step 0 of every block (and step K−1 with forceLast) never moves.
 * Deterministic given the seed (the proposals come from one seeded Rng; the reference noise is
 * fixed), cancellable between evaluations.
 */

/** The methods the search may start from. */
export const TUNE_STARTS: readonly ScheduleMethod[] = ['uniform', 'grid', 'bac'];

/** Thrown when the signal aborts a tune; nothing has been written. */
export class TuneCancelledError extends BacError {
  constructor() {
    super('interrupted: tuning was cancelled and no schedule was written');
  }
}

/** Progress after each evaluation. */
export interface TuneProgress {
  readonly iteration: number;
  readonly iterations: number;
  /** Measure of the current schedule on the tuning windows. */
  readonly best: number;
  readonly accepted: number;
}

/** What {@link tuneSchedule} needs. */
export interface TuneRequest {
  readonly policy: Policy;
  readonly scheduler: NoiseScheduler;
  readonly profile: Profile;
  readonly target: CostTarget;
  readonly forceLast: boolean;
  readonly topN: number;
  readonly model: FileRef;
  readonly profileRef: FileRef | null;
  /** Windows the search minimises the measure on. */
  readonly tuneWindows: readonly WindowSample[];
  /** Windows the reported numbers come from (not seen by the search). */
  readonly heldoutWindows: readonly WindowSample[];
  /** The measure minimised (default {@link DEFAULT_TUNE_MEASURE}). */
  readonly measure?: MeasureName;
  readonly iterations: number;
  readonly seed: number;
  /** ORT intra-op threads. */
  readonly threads?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: TuneProgress) => void;
}

/** The tuned schedule and how it compares with where it started. */
export interface TuneResult {
  readonly schedule: Schedule;
  readonly start: ScheduleMethod;
  /** Measure per start candidate on the tuning windows. */
  readonly startScores: Readonly<Partial<Record<ScheduleMethod, number>>>;
  readonly tune: { readonly start: number; readonly tuned: number };
  readonly heldout: { readonly start: number; readonly tuned: number };
  readonly accepted: number;
  readonly measure: MeasureName;
}

/** Σ_i |C(i)|·c_i of a table (blocks in `costs` order), the cost the target bounds. */
function tableCost(table: Uint8Array, costs: readonly number[]): number {
  const n = costs.length;
  let s = 0;
  for (let i = 0; i < table.length; i++) if (table[i]) s += costs[i % n]!;
  return s;
}

/** A table's schedule: every block's updates as solver steps (origins of the start are not kept). */
export function scheduleFromTable(base: Schedule, table: Uint8Array, K: number): Schedule {
  const n = base.blocks.length;
  const blocks = base.blocks.map((b, i) => {
    const steps: number[] = [];
    for (let k = 0; k < K; k++) if (table[k * n + i]) steps.push(k);
    return { ...b, acs: steps, bua: [], manual: [], manualOff: [] };
  });
  const most = Math.max(...blocks.map((b) => b.acs.length));
  return { ...base, solver: { ...base.solver, budget: most, topN: 0 }, blocks };
}

/** One proposal: toggles of (step, block) cells; null when the move does not apply. */
function propose(rng: Rng, table: Uint8Array, K: number, n: number, fixed: (k: number) => boolean): number[] | null {
  const cell = (k: number, i: number) => k * n + i;
  const updatesOf = (i: number) => {
    const s: number[] = [];
    for (let k = 0; k < K; k++) if (table[cell(k, i)] && !fixed(k)) s.push(k);
    return s;
  };
  const freeOf = (i: number) => {
    const s: number[] = [];
    for (let k = 0; k < K; k++) if (!table[cell(k, i)] && !fixed(k)) s.push(k);
    return s;
  };
  const i = rng.int(n);
  const kind = rng.int(4);
  if (kind === 0) {
    // shift one update by ±1…3 steps
    const ups = updatesOf(i);
    if (ups.length === 0) return null;
    const k = ups[rng.int(ups.length)]!;
    const to = k + (rng.int(2) ? 1 : -1) * (1 + rng.int(3));
    if (to <= 0 || to >= K || fixed(to) || table[cell(to, i)]) return null;
    return [cell(k, i), cell(to, i)];
  }
  if (kind === 1) {
    // move an update of block i to another block j at a step j does not update
    const j = rng.int(n);
    const ups = updatesOf(i);
    const free = freeOf(j);
    if (j === i || ups.length === 0 || free.length === 0) return null;
    return [cell(ups[rng.int(ups.length)]!, i), cell(free[rng.int(free.length)]!, j)];
  }
  const pool = kind === 2 ? freeOf(i) : updatesOf(i);
  if (pool.length === 0) return null;
  return [cell(pool[rng.int(pool.length)]!, i)];
}

/**
 * `table` after one random move (see {@link tuneSchedule}) that keeps `fits` true; null when 200
 * draws found none (bounded, so a table with no room cannot spin forever). `fixed` steps never
 * change.
 */
export function randomFittingMove(
  rng: Rng,
  table: Uint8Array,
  K: number,
  n: number,
  fixed: (k: number) => boolean,
  fits: (t: Uint8Array) => boolean,
): Uint8Array | null {
  for (let tries = 0; tries < 200; tries++) {
    const p = propose(rng, table, K, n, fixed);
    if (!p) continue;
    const next = table.slice();
    for (const c of p) next[c] = next[c] ? 0 : 1;
    if (fits(next)) return next;
  }
  return null;
}

/** Whether a table's block cost keeps the expected speedup ≥ X (blocks in `costs` order). */
export function tableFits(
  profile: Profile,
  target: CostTarget,
  blockIds: readonly string[],
): (t: Uint8Array) => boolean {
  const K = profile.sampler.steps;
  const byId = new Map(profile.blocks.map((b) => [b.id, b]));
  const cost = costOf(target.by);
  const costs = blockIds.map((id) => cost(byId.get(id)!.cost));
  const base = cost(scheduleBaseCost(profile));
  const full = K * (base + costs.reduce((a, b) => a + b, 0));
  return (t) => full / (K * base + tableCost(t, costs)) >= target.speedup;
}

/** Steps a search never changes: step 0, and step K−1 with forceLast. */
export function fixedStep(K: number, forceLast: boolean): (k: number) => boolean {
  return (k) => k === 0 || (forceLast && k === K - 1);
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TuneCancelledError();
}

/**
 * Tunes a schedule at the cost target. O(iterations) batched sampler runs on the tuning windows,
 * plus the start candidates and two held-out runs.
 * @throws BacError for an unusable or unreachable target; TuneCancelledError when aborted.
 */
export async function tuneSchedule(req: TuneRequest): Promise<TuneResult> {
  const { profile, target, scheduler } = req;
  assertUsableTarget(profile, target);
  if (scheduler.numInferenceSteps !== profile.sampler.steps) {
    throw new BacError(
      `the sampler runs K = ${scheduler.numInferenceSteps} steps but the profile has K = ${profile.sampler.steps}; tune with the profile's sampler`,
    );
  }
  const measure = req.measure ?? DEFAULT_TUNE_MEASURE;
  const K = profile.sampler.steps;
  const options = { topN: req.topN, forceLast: req.forceLast, model: req.model, profileRef: req.profileRef };
  const candidates: { method: ScheduleMethod; schedule: Schedule }[] = [];
  let firstError: unknown;
  for (const method of TUNE_STARTS) {
    try {
      candidates.push({ method, schedule: solveForTarget(method, profile, target, options).schedule });
    } catch (e) {
      if (!(e instanceof BacError)) throw e;
      firstError ??= e;
    }
  }
  if (candidates.length === 0) throw firstError as BacError;
  checkAbort(req.signal);
  const runner = { threads: req.threads };
  const tuning = await OfflineReference.open(req.policy, scheduler, req.tuneWindows, {
    seed: req.seed,
    draws: 1,
    runner,
  });
  let startMethod: ScheduleMethod;
  let startTable: Uint8Array;
  let table: Uint8Array;
  let best: number;
  let startBest: number;
  let accepted = 0;
  const startScores: Partial<Record<ScheduleMethod, number>> = {};
  try {
    const n = tuning.blockIds.length;
    const tables = candidates.map((c) => updateTable(c.schedule, tuning.blockIds));
    let at = 0;
    for (let c = 0; c < candidates.length; c++) {
      checkAbort(req.signal);
      startScores[candidates[c]!.method] = (await tuning.score(tables[c]!))[measure];
      if (startScores[candidates[c]!.method]! < startScores[candidates[at]!.method]!) at = c;
    }
    startMethod = candidates[at]!.method;
    startTable = tables[at]!;
    table = startTable.slice();
    best = startBest = startScores[startMethod]!;
    const fits = tableFits(profile, target, tuning.blockIds);
    const fixed = fixedStep(K, req.forceLast);
    const rng = new Rng(req.seed);
    for (let it = 1; it <= req.iterations; it++) {
      checkAbort(req.signal);
      const next = randomFittingMove(rng, table, K, n, fixed, fits);
      if (next) {
        const score = (await tuning.score(next))[measure];
        if (score < best) {
          best = score;
          table = next;
          accepted++;
        }
      }
      req.onProgress?.({ iteration: it, iterations: req.iterations, best, accepted });
    }
  } finally {
    await tuning.release();
  }
  checkAbort(req.signal);
  const held = await OfflineReference.open(req.policy, scheduler, req.heldoutWindows, {
    seed: req.seed + 7919,
    draws: 1,
    runner,
  });
  try {
    const heldStart = (await held.score(startTable))[measure];
    const heldTuned = (await held.score(table))[measure];
    checkAbort(req.signal);
    const startSchedule = candidates.find((c) => c.method === startMethod)!.schedule;
    return {
      schedule: scheduleFromTable(startSchedule, table, K),
      start: startMethod,
      startScores,
      tune: { start: startBest, tuned: best },
      heldout: { start: heldStart, tuned: heldTuned },
      accepted,
      measure,
    };
  } finally {
    await held.release();
  }
}

/**
 * {@link tuneSchedule}, then the schedule written atomically to `outPath` — only after the search
 * and the held-out check finished, so a cancel or a failure leaves no file.
 */
export async function tuneAndWrite(req: TuneRequest, outPath: string): Promise<TuneResult> {
  const result = await tuneSchedule(req);
  checkAbort(req.signal);
  await writeFileAtomic(outPath, serializeSchedule(result.schedule));
  return result;
}
