import { BacError } from '../core/errors';
import { assertUsableTarget, type CostTarget } from '../core/cost-target';
import type { ScheduleMethod } from '../core/solver-params';
import { Rng } from '../core/rng';
import { serializeSchedule } from '../core/schedule-format';
import { failureRate } from '../core/trials';
import type { FileRef, Profile, Schedule } from '../core/types';
import type { WindowSample } from './episodes';
import { writeFileAtomic } from './fsutil';
import { ClosedLoopCancelledError, ClosedLoopScorer, type ClosedLoopTrials } from './closed-loop-trials';
import { OfflineReference, type MeasureName } from './offline-measures';
import type { Policy } from './policy';
import { updateTable } from './runner';
import type { NoiseScheduler } from './samplers';
import { moveSpace, randomFittingMove, scheduleFromTable } from './tune-moves';
import { finalistIndices, solveTuneFamilies, tunePopulation } from './tune-population';

/**
 * The offline measure `bac tune` minimises unless told otherwise: the error of the first executed
 * action against the full model on the same noise. In the full-size fidelity study
 * (docs/fidelity-study.md) it ranked closed-loop success best of the measures tuning can optimise
 * at DPM-Solver++-10, where users sample (Spearman ρ −0.55 and −0.59 at the two cost levels); at
 * DDPM-100 only the reference distance ranks well, and it needs too many draws to be an objective.
 */
export const DEFAULT_TUNE_MEASURE: MeasureName = 'firstAction';

/**
 * `bac tune`: a model-in-the-loop search over update tables at a cost target, by one of two
 * searches (see {@link TuneSearch}). Step 0 of every block (and step K−1 with forceLast) never
 * changes and no table exceeds the target. Deterministic given the seed (proposals and
 * perturbations come from seeded Rngs; the reference noise and the trial layouts are fixed),
 * cancellable between evaluations.
 *
 * Two objectives: an offline measure against the full model on observation windows (any policy),
 * or closed-loop success in the demo simulator on fixed trial layouts (a policy of the demo task
 * only). The second exists because no offline measure ranked success in both sampler regimes of the
 * fidelity study. It is still a sample: the local search keeps a move on one more successful trial
 * episode, so it mostly fits its own trials (docs/tune-confirmation.md), while the population
 * search's choice held up on fresh layouts (docs/tune-population-confirmation.md); the held-out
 * set, which no search sees, says which happened.
 */

/** What a tune minimises: an offline measure, or `success` (the closed loop's failure rate). */
export type TuneMeasure = MeasureName | 'success';

/**
 * A tune score as users read it, e.g. `error 1.234e-3` or `success 82.4 %`: scores are
 * lower-is-better, so `success` scores (failure rates) are shown as the success rate.
 */
export function formatTuneScore(measure: TuneMeasure, score: number): string {
  return measure === 'success' ? `success ${(100 * (1 - score)).toFixed(1)} %` : `error ${score.toExponential(3)}`;
}

/**
 * How the search runs:
 * - `local`: start from the best of Uniform, grid and BAC on the tuning set, then `iterations`
 *   proposals — shift one update of a block by a few steps, move an update from one block to
 *   another, add or drop one — within the target, each kept when the tuning score strictly improves.
 * - `population`: score `size` candidates on the tuning set — every family at the target and seeded
 *   random perturbations of them (tune-population.ts) — then re-score the best `finalists` (and
 *   the best start) on a separate selection set and keep the best there. The choice is made on
 *   episodes that did not rank the candidates, so one lucky tuning score cannot decide it.
 */
export type TuneSearch =
  | { readonly kind: 'local'; readonly iterations: number }
  | { readonly kind: 'population'; readonly size: number; readonly finalists: number };

/** What the search did, for the report. */
export type TuneSearchReport =
  | { readonly kind: 'local'; readonly iterations: number; readonly accepted: number }
  | {
      readonly kind: 'population';
      readonly size: number;
      /** The candidate kept, e.g. `bac (top-n 3) + 6 random moves (draw 2)`. */
      readonly chosen: string;
      /** Scores on the selection set of the start and of the chosen candidate. */
      readonly selection: { readonly start: number; readonly tuned: number };
      /** Every finalist's scores on the tuning and the selection set, in tuning order. */
      readonly finalists: readonly { readonly label: string; readonly tuning: number; readonly selection: number }[];
    };

/** One line for users: what the search did, e.g. `4 of 60 moves accepted`. */
export function describeTuneSearch(r: TuneSearchReport): string {
  return r.kind === 'local'
    ? `${r.accepted} of ${r.iterations} moves accepted`
    : `${r.chosen} chosen of ${r.size} candidates (${r.finalists.length} finalists re-scored on the selection set)`;
}

/**
 * The sets a search scores on: tuning (what the search ranks by), selection (the population search's
 * finalists only) and held-out (the reported numbers; never seen by the search) — observation
 * windows for an offline measure, trial layouts for closed-loop success.
 */
export type TuneObjective =
  | {
      readonly kind: 'offline';
      readonly measure: MeasureName;
      readonly tuneWindows: readonly WindowSample[];
      /** Scored only by the population search; may be empty for the local search. */
      readonly selectionWindows: readonly WindowSample[];
      readonly heldoutWindows: readonly WindowSample[];
    }
  | {
      readonly kind: 'closedLoop';
      readonly trials: ClosedLoopTrials;
      readonly selection: ClosedLoopTrials;
      readonly heldout: ClosedLoopTrials;
    };

/**
 * First layout seed of closed-loop tuning trials; the held-out trials start 10 000 later and the
 * selection trials 30 000 later (the sweep's trials use 720 000…). Layouts no other run of the demo
 * uses (training 0…, held-out episodes 100 000…, replicate 300 000…, fidelity study 500 000…, its
 * confirmations 600 000…), so a tuned schedule's closed-loop numbers elsewhere are on layouts the
 * search never saw.
 */
export const TUNE_TRIAL_LAYOUTS = 700_000;

/** Most trial episodes per evaluation: more would run the tuning layouts into the held-out ones. */
export const TUNE_MAX_TRIALS = 10_000;

/**
 * The closed-loop objective of `bac tune --measure success`: `episodes` trials per evaluation.
 * @throws BacError when `episodes` is not in 1…{@link TUNE_MAX_TRIALS}.
 */
export function closedLoopObjective(episodes: number, seed: number): TuneObjective {
  if (!Number.isInteger(episodes) || episodes < 1 || episodes > TUNE_MAX_TRIALS)
    throw new BacError(`${episodes} trial episodes per evaluation: expected an integer in 1…${TUNE_MAX_TRIALS}`);
  return {
    kind: 'closedLoop',
    trials: { episodes, seed: TUNE_TRIAL_LAYOUTS, noiseSeed: seed },
    heldout: { episodes, seed: TUNE_TRIAL_LAYOUTS + 10_000, noiseSeed: seed + 1 },
    selection: { episodes, seed: TUNE_TRIAL_LAYOUTS + 30_000, noiseSeed: seed + 2 },
  };
}

/** Thrown when the signal aborts a tune; nothing has been written. */
export class TuneCancelledError extends BacError {
  constructor() {
    super('interrupted: tuning was cancelled and no schedule was written');
  }
}

/** Progress after each evaluation of the search (the start or population candidates, then moves or finalists). */
export interface TuneProgress {
  readonly iteration: number;
  readonly iterations: number;
  /** Best score so far on the set being scored (lower is better; see TuneResult). */
  readonly best: number;
  /** What is being scored, e.g. `3 accepted` or `finalists on the selection set`. */
  readonly note: string;
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
  readonly objective: TuneObjective;
  readonly search: TuneSearch;
  readonly seed: number;
  /** ORT intra-op threads. */
  readonly threads?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: TuneProgress) => void;
}

/**
 * The tuned schedule and how it compares with where it started. Every score is lower-is-better: the
 * offline measure's value, or for `success` the failure rate (1 − successes / episodes).
 */
export interface TuneResult {
  readonly schedule: Schedule;
  /** The best start (uniform, grid or bac; tune-population.ts) on the tuning set: what the held-out numbers compare with. */
  readonly start: ScheduleMethod;
  /** Score per start candidate on the tuning set. */
  readonly startScores: Readonly<Partial<Record<ScheduleMethod, number>>>;
  readonly tune: { readonly start: number; readonly tuned: number };
  readonly heldout: { readonly start: number; readonly tuned: number };
  readonly search: TuneSearchReport;
  readonly measure: TuneMeasure;
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TuneCancelledError();
}

/** Scores update tables on one set, lower is better. */
interface TableScorer {
  readonly blockIds: readonly string[];
  score(table: Uint8Array): Promise<number>;
  release(): Promise<void>;
}

type ScoreSet = 'tuning' | 'selection' | 'heldout';

async function openScorer(req: TuneRequest, set: ScoreSet): Promise<TableScorer> {
  const runner = { threads: req.threads };
  const o = req.objective;
  if (o.kind === 'offline') {
    const windows = { tuning: o.tuneWindows, selection: o.selectionWindows, heldout: o.heldoutWindows }[set];
    const seed = req.seed + { tuning: 0, selection: 2 * 7919, heldout: 7919 }[set];
    const ref = await OfflineReference.open(req.policy, req.scheduler, windows, { seed, draws: 1, runner });
    return {
      blockIds: ref.blockIds,
      score: async (t) => (await ref.score(t))[o.measure],
      release: () => ref.release(),
    };
  }
  const trials = { tuning: o.trials, selection: o.selection, heldout: o.heldout }[set];
  const loop = await ClosedLoopScorer.open(req.policy, runner);
  return {
    blockIds: loop.blockIds,
    score: async (t) => {
      try {
        return failureRate(await loop.outcomes(req.scheduler, t, trials, req.signal));
      } catch (e) {
        if (e instanceof ClosedLoopCancelledError) throw new TuneCancelledError();
        throw e;
      }
    },
    release: () => loop.release(),
  };
}

/** Opens a scorer, runs `use`, and releases the scorer on every path. */
async function withScorer<T>(req: TuneRequest, set: ScoreSet, use: (s: TableScorer) => Promise<T>): Promise<T> {
  checkAbort(req.signal);
  const scorer = await openScorer(req, set);
  try {
    return await use(scorer);
  } finally {
    await scorer.release();
  }
}

/** What a search found: the table, the schedule it belongs to, and the scores to report. */
interface SearchOutcome {
  readonly start: ScheduleMethod;
  readonly startScores: Partial<Record<ScheduleMethod, number>>;
  readonly startTable: Uint8Array;
  readonly base: Schedule;
  readonly table: Uint8Array;
  readonly tune: { readonly start: number; readonly tuned: number };
  readonly report: TuneSearchReport;
}

/**
 * Tunes a schedule at the cost target. The local search makes O(iterations) evaluations on the
 * tuning set (a batched sampler run, or one closed-loop run of the trial episodes) after the starts;
 * the population search `size` on the tuning set and up to `finalists + 1` on the selection set;
 * both then two on the held-out set.
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
  const measure: TuneMeasure = req.objective.kind === 'offline' ? req.objective.measure : 'success';
  const found =
    req.search.kind === 'local' ? await localSearch(req, req.search) : await populationSearch(req, req.search);
  return withScorer(req, 'heldout', async (held) => {
    const heldStart = await held.score(found.startTable);
    const heldTuned = await held.score(found.table);
    checkAbort(req.signal);
    return {
      schedule: scheduleFromTable(found.base, found.table),
      start: found.start,
      startScores: found.startScores,
      tune: found.tune,
      heldout: { start: heldStart, tuned: heldTuned },
      search: found.report,
      measure,
    };
  });
}

function methodOptions(req: TuneRequest) {
  return { topN: req.topN, forceLast: req.forceLast, model: req.model, profileRef: req.profileRef };
}

async function localSearch(req: TuneRequest, search: Extract<TuneSearch, { kind: 'local' }>): Promise<SearchOutcome> {
  const { profile, target } = req;
  const candidates = solveTuneFamilies(profile, target, methodOptions(req), true);
  return withScorer(req, 'tuning', async (tuning) => {
    const tables = candidates.map((c) => updateTable(c.base, tuning.blockIds));
    const startScores: Partial<Record<ScheduleMethod, number>> = {};
    let at = 0;
    for (let c = 0; c < candidates.length; c++) {
      checkAbort(req.signal);
      startScores[candidates[c]!.method] = await tuning.score(tables[c]!);
      if (startScores[candidates[c]!.method]! < startScores[candidates[at]!.method]!) at = c;
    }
    const start = candidates[at]!;
    let table = tables[at]!;
    let best = startScores[start.method]!;
    let accepted = 0;
    const space = moveSpace(profile, target, tuning.blockIds, req.forceLast);
    const rng = new Rng(req.seed);
    for (let it = 1; it <= search.iterations; it++) {
      checkAbort(req.signal);
      const next = randomFittingMove(rng, table, space);
      if (next) {
        const score = await tuning.score(next);
        if (score < best) {
          best = score;
          table = next;
          accepted++;
        }
      }
      req.onProgress?.({ iteration: it, iterations: search.iterations, best, note: `${accepted} accepted` });
    }
    return {
      start: start.method,
      startScores,
      startTable: tables[at]!,
      base: start.base,
      table,
      tune: { start: startScores[start.method]!, tuned: best },
      report: { kind: 'local', iterations: search.iterations, accepted },
    };
  });
}

async function populationSearch(
  req: TuneRequest,
  search: Extract<TuneSearch, { kind: 'population' }>,
): Promise<SearchOutcome> {
  const families = solveTuneFamilies(req.profile, req.target, methodOptions(req));
  let done = 0;
  let total = 0;
  const { population, tuningScores } = await withScorer(req, 'tuning', async (tuning) => {
    const candidates = tunePopulation(
      families,
      req.profile,
      req.target,
      req.forceLast,
      tuning.blockIds,
      search.size,
      req.seed,
    );
    total = candidates.length + Math.min(search.finalists, candidates.length);
    const scores: number[] = [];
    for (const c of candidates) {
      checkAbort(req.signal);
      scores.push(await tuning.score(c.table));
      req.onProgress?.({ iteration: ++done, iterations: total, best: Math.min(...scores), note: 'population' });
    }
    return { population: candidates, tuningScores: scores };
  });
  const startScores: Partial<Record<ScheduleMethod, number>> = {};
  let startAt = -1;
  population.forEach((c, i) => {
    if (!c.isStart) return;
    startScores[c.method] = tuningScores[i]!;
    if (startAt < 0 || tuningScores[i]! < tuningScores[startAt]!) startAt = i;
  });
  if (startAt < 0) {
    // No start solved at the target: the first family that did stands in.
    startAt = 0;
    startScores[population[0]!.method] = tuningScores[0]!;
  }
  const finalists = finalistIndices(tuningScores, search.finalists, startAt);
  total = population.length + finalists.length;
  const selectionScores = await withScorer(req, 'selection', async (selection) => {
    const scores: number[] = [];
    for (const i of finalists) {
      checkAbort(req.signal);
      scores.push(await selection.score(population[i]!.table));
      req.onProgress?.({
        iteration: ++done,
        iterations: total,
        best: Math.min(...scores),
        note: 'finalists on the selection set',
      });
    }
    return scores;
  });
  // Best on the selection set; ties go to the better tuning score (finalists are in tuning order).
  let chosenAt = 0;
  selectionScores.forEach((s, j) => {
    if (s < selectionScores[chosenAt]!) chosenAt = j;
  });
  const chosen = population[finalists[chosenAt]!]!;
  const start = population[startAt]!;
  return {
    start: start.method,
    startScores,
    startTable: start.table,
    base: chosen.base,
    table: chosen.table,
    tune: { start: tuningScores[startAt]!, tuned: tuningScores[finalists[chosenAt]!]! },
    report: {
      kind: 'population',
      size: population.length,
      chosen: chosen.label,
      selection: { start: selectionScores[finalists.indexOf(startAt)]!, tuned: selectionScores[chosenAt]! },
      finalists: finalists.map((i, j) => ({
        label: population[i]!.label,
        tuning: tuningScores[i]!,
        selection: selectionScores[j]!,
      })),
    },
  };
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
