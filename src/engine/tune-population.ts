import type { CostTarget } from '../core/cost-target';
import { BacError } from '../core/errors';
import { solveForTarget, type MethodOptions } from '../core/methods';
import { Rng } from '../core/rng';
import type { ScheduleMethod } from '../core/solver-params';
import type { Profile, Schedule } from '../core/types';
import { updateTable } from './runner';
import { moveSpace, perturbTable } from './tune-moves';

/**
 * The candidates of `bac tune --search population`: every schedule family at the cost target, then
 * seeded random perturbations of them — the families' neighbourhoods, where the fidelity study found
 * schedules whose closed-loop success differs by tens of points at one cost
 * (docs/fidelity-study.md). Scoring a whole population once, then re-scoring its best few on a
 * separate selection set, spends the trial episodes on many distinct schedules rather than on one
 * hill-climbing path whose every step can be noise.
 */

/** A schedule family solved at the cost target. */
export interface TuneFamily {
  /** e.g. `uniform` or `bac (top-n 3)`. */
  readonly label: string;
  /** The family's solver method. */
  readonly method: ScheduleMethod;
  /** Whether the local search starts from it (uniform, grid, bac at the request's top-n). */
  readonly isStart: boolean;
  /** The family's schedule (blocks, sampler, references). */
  readonly base: Schedule;
}

/** One candidate: an update table at the cost target, and the family it was made from. */
export interface TuneCandidate extends TuneFamily {
  /** e.g. `bac (top-n 3)` or `grid + 6 random moves (draw 2)`: unique within a population. */
  readonly label: string;
  /** Random moves applied to the family's schedule (0 for the family itself). */
  readonly moves: number;
  /** The update table, which {@link TuneFamily.base} carries into a schedule. */
  readonly table: Uint8Array;
}

/** Population size unless told otherwise: the six families and 18 perturbations. */
export const DEFAULT_POPULATION_SIZE = 24;
/** Candidates re-scored on the selection set unless told otherwise. */
export const DEFAULT_POPULATION_FINALISTS = 4;

/** Moves of the i-th perturbation: 3, 6, 9, 12, 3, … (small and larger steps from a family). */
const movesOf = (i: number): number => 3 + (i % 4) * 3;

/**
 * The families that solve at the target, in this order: uniform, grid and bac at `o.topN` (the
 * local search's starts, all that `startsOnly` keeps), then acs, unified, and bac at top-n 6 unless
 * that is `o.topN`. Pure solving, no model: an unreachable target fails before any model loads.
 * @throws BacError when no family solves at the target (the first family's message).
 */
export function solveTuneFamilies(
  profile: Profile,
  target: CostTarget,
  o: MethodOptions,
  startsOnly = false,
): TuneFamily[] {
  const families: { label: string; method: ScheduleMethod; isStart: boolean; options: MethodOptions }[] = [
    { label: 'uniform', method: 'uniform', isStart: true, options: o },
    { label: 'grid', method: 'grid', isStart: true, options: o },
    { label: `bac (top-n ${o.topN})`, method: 'bac', isStart: true, options: o },
    { label: 'acs', method: 'acs', isStart: false, options: o },
    { label: 'unified', method: 'unified', isStart: false, options: o },
    ...(o.topN === 6
      ? []
      : [{ label: 'bac (top-n 6)', method: 'bac' as const, isStart: false, options: { ...o, topN: 6 } }]),
  ];
  const solved: TuneFamily[] = [];
  let firstError: unknown;
  for (const { label, method, isStart, options } of startsOnly ? families.filter((f) => f.isStart) : families) {
    try {
      solved.push({ label, method, isStart, base: solveForTarget(method, profile, target, options).schedule });
    } catch (e) {
      if (!(e instanceof BacError)) throw e;
      firstError ??= e;
    }
  }
  if (solved.length === 0) throw firstError as BacError;
  return solved;
}

/**
 * The population: the families (as solved), followed by perturbations of them in turn until there
 * are `size` candidates (never fewer than the families). Deterministic given `seed`.
 */
export function tunePopulation(
  families: readonly TuneFamily[],
  profile: Profile,
  target: CostTarget,
  forceLast: boolean,
  blockIds: readonly string[],
  size: number,
  seed: number,
): TuneCandidate[] {
  const solved: TuneCandidate[] = families.map((f) => ({ ...f, moves: 0, table: updateTable(f.base, blockIds) }));
  const space = moveSpace(profile, target, blockIds, forceLast);
  const population = solved.slice();
  for (let i = 0; population.length < size; i++) {
    const family = solved[i % solved.length]!;
    const moves = movesOf(i);
    const rng = new Rng(seed * 7919 + i + 1);
    population.push({
      ...family,
      label: `${family.label} + ${moves} random moves (draw ${i + 1})`,
      moves,
      isStart: false,
      table: perturbTable(rng, family.table, moves, space),
    });
  }
  return population;
}

/**
 * Indices of the `count` lowest scores (ties: the earlier candidate), in score order, plus `keep`
 * when it is not among them — the start always reaches the selection round, so the population
 * search never returns a schedule that scored worse than its start there.
 */
export function finalistIndices(scores: readonly number[], count: number, keep: number): number[] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  const top = order.slice(0, Math.max(1, count));
  return top.includes(keep) ? top : [...top, keep];
}
