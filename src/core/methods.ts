import { buildBaseline } from './baselines';
import { assertUsableTarget, largestMeeting, scheduleSpeedup, type CostTarget } from './cost-target';
import { BacError } from './errors';
import { gridSchedule } from './grid';
import { assertSolvableProfile, composeBlock, type ManualEdits } from './solve';
import type { ScheduleMethod } from './solver-params';
import type { BlockId, FileRef, Profile, Schedule } from './types';

/**
 * The schedule methods `bac solve --method` offers, each solvable at a budget M or at a cost target
 * (the method's best schedule whose expected speedup is ≥ X).
 */

/** The method a schedule was solved with: its `solver.method`, `bac` when absent. */
export function methodOf(schedule: Schedule): ScheduleMethod {
  return schedule.solver.method ?? 'bac';
}

/** `schedule` recording `method` in its solver parameters (`bac` is the default and is not written). */
function recordMethod(schedule: Schedule, method: ScheduleMethod): Schedule {
  const { method: _previous, ...solver } = schedule.solver;
  return { ...schedule, solver: method === 'bac' ? solver : { method, ...solver } };
}

/** Everything a method needs besides the budget or the target. */
export interface MethodOptions {
  readonly topN: number;
  readonly forceLast: boolean;
  readonly model: FileRef;
  readonly profileRef: FileRef | null;
  /** A person's edits, applied to the solved schedule (they count toward the cost). */
  readonly edits?: ReadonlyMap<BlockId, ManualEdits>;
}

/** The person's edits applied to a solved schedule (no-op without edits). O(B · S). */
function withEdits(schedule: Schedule, edits: ReadonlyMap<BlockId, ManualEdits> | undefined): Schedule {
  if (!edits || edits.size === 0) return schedule;
  return {
    ...schedule,
    blocks: schedule.blocks.map((b) => composeBlock(b.id, b.cost, b.acs, b.bua, edits.get(b.id))),
  };
}

/** Smallest budget of a budget-parametric method: ACS with forceLast must hold step 0 and K−1. */
function minBudgetOf(method: ScheduleMethod, K: number, forceLast: boolean): number {
  return method !== 'uniform' && forceLast && K > 1 ? 2 : 1;
}

/**
 * The method's schedule at budget M. `grid` at budget M takes the cost of Uniform(M) by FLOPs as
 * its target (a grid has no per-block budget).
 * @throws BacError for M out of range.
 */
export function solveAtBudget(method: ScheduleMethod, profile: Profile, budget: number, o: MethodOptions): Schedule {
  const K = profile.sampler.steps;
  if (!Number.isInteger(budget) || budget < minBudgetOf(method, K, o.forceLast) || budget > K) {
    throw new BacError(
      `budget ${budget} is out of range for ${method}, expected an integer in ${minBudgetOf(method, K, o.forceLast)}…${K} (K = ${K} steps)`,
    );
  }
  if (method === 'grid') {
    const uniform = solveAtBudget('uniform', profile, budget, { ...o, edits: undefined });
    const target: CostTarget = { speedup: scheduleSpeedup(uniform, 'flops'), by: 'flops' };
    return recordMethod(gridSchedule(profile, target, o.forceLast, o.model, o.profileRef, o.edits), 'grid');
  }
  const kind = ({ bac: 'bac', acs: 'acs-no-bua', unified: 'unified-acs', uniform: 'uniform' } as const)[method];
  const s = buildBaseline(kind, profile, o.model, budget, o.topN, o.forceLast, o.profileRef);
  return recordMethod(withEdits({ ...s, solver: { ...s.solver, profile: o.profileRef } }, o.edits), method);
}

/** A schedule solved for a cost target, and the budget it used (null for grid). */
export interface TargetSolution {
  readonly schedule: Schedule;
  readonly budget: number | null;
}

/**
 * The method's best schedule whose expected speedup by `target.by` is ≥ X: for the budget methods
 * the largest budget that meets X (more updates, less reuse error), for grid the knapsack optimum.
 * The result always meets the target (edits included).
 * @throws BacError when X is invalid, not costable (time without measurements) or out of reach.
 */
export function solveForTarget(
  method: ScheduleMethod,
  profile: Profile,
  target: CostTarget,
  o: MethodOptions,
): TargetSolution {
  assertSolvableProfile(profile);
  assertUsableTarget(profile, target);
  const K = profile.sampler.steps;
  if (method === 'grid') {
    const schedule = recordMethod(gridSchedule(profile, target, o.forceLast, o.model, o.profileRef, o.edits), 'grid');
    if (scheduleSpeedup(schedule, target.by) < target.speedup) throw outOfReach(method, target, schedule, true);
    return { schedule, budget: null };
  }
  const lo = minBudgetOf(method, K, o.forceLast);
  const found = largestMeeting(lo, K, (M) => solveAtBudget(method, profile, M, o), target);
  if (!found) throw outOfReach(method, target, solveAtBudget(method, profile, lo, o), false);
  return { schedule: found.schedule, budget: found.param };
}

function outOfReach(method: ScheduleMethod, target: CostTarget, cheapest: Schedule, edited: boolean): BacError {
  const got = scheduleSpeedup(cheapest, target.by);
  return new BacError(
    `target ${target.speedup}× by ${target.by} is out of reach for ${method}: its cheapest schedule${edited ? ' with the manual edits' : ''} is ${got.toFixed(2)}× faster; lower the target speedup (or remove manual updates)`,
  );
}
