import { costedBlocks, scheduleBaseCost, speedupBy } from './cost';
import { BacError } from './errors';
import type { Cost, Profile, Schedule } from './types';

/**
 * Cost targets: "at least X× faster than the full model", by FLOPs or by measured block time, in
 * the cost model of docs/method.md (full = K·(c_0 + Σ_b c_b), cached = K·c_0 + Σ_b |C(b)|·c_b).
 */

/** Which cost a target counts. */
export type CostMeasure = 'flops' | 'time';

/** A required expected speedup over the full model. */
export interface CostTarget {
  /** X ≥ 1: the schedule's full/cached must be at least this. */
  readonly speedup: number;
  readonly by: CostMeasure;
}

/** The number a cost measure reads from a {@link Cost}. */
export function costOf(by: CostMeasure): (c: Cost) => number {
  return by === 'flops' ? (c) => c.flops : (c) => c.timeUs;
}

/**
 * Checks that `profile` can be costed by `target.by` and that X is usable.
 * @throws BacError for X < 1 or not finite, or a time target on a profile without measured times.
 */
export function assertUsableTarget(profile: Profile, target: CostTarget): void {
  if (!Number.isFinite(target.speedup) || target.speedup < 1) {
    throw new BacError(`target speedup ${target.speedup} is invalid, expected a number ≥ 1 (e.g. 3 for 3× faster)`);
  }
  if (target.by === 'time' && profile.baseCost.timeUs <= 0 && profile.blocks.every((b) => b.cost.timeUs <= 0)) {
    throw new BacError(
      'the profile has no measured block times, so a target by time cannot be costed; use --by flops or re-profile with timing',
    );
  }
}

/** Expected speedup of `schedule` by `by` (full/cached of the cost model). O(B · S log S). */
export function scheduleSpeedup(schedule: Schedule, by: CostMeasure): number {
  return speedupBy(costOf(by), schedule.baseCost, costedBlocks(schedule), schedule.sampler.steps);
}

/** Whether `schedule` meets `target` (speedup ≥ X). */
export function meetsTarget(schedule: Schedule, target: CostTarget): boolean {
  return scheduleSpeedup(schedule, target.by) >= target.speedup;
}

/**
 * The most the blocks may cost together, Σ_b |C(b)|·c_b, for the speedup to be ≥ X:
 * full/X − K·c_0. Negative when X cannot be reached even with every block cached. O(B).
 */
export function blockCostCapacity(profile: Profile, target: CostTarget): number {
  const cost = costOf(target.by);
  const K = profile.sampler.steps;
  const perCall = cost(scheduleBaseCost(profile)) + profile.blocks.reduce((s, b) => s + cost(b.cost), 0);
  return (K * perCall) / target.speedup - K * cost(scheduleBaseCost(profile));
}

/**
 * The largest integer parameter p in lo … hi whose schedule meets `target`, assuming cost grows
 * with p (a budget); bisection, so O(log(hi − lo)) builds. The returned schedule always meets the
 * target (every candidate is checked); when cost is not monotone in p (BUA can add updates
 * unevenly) it may not be the largest such p.
 * @returns null when even `lo` misses the target.
 */
export function largestMeeting<T extends Schedule>(
  lo: number,
  hi: number,
  build: (p: number) => T,
  target: CostTarget,
): { readonly param: number; readonly schedule: T } | null {
  let best: { param: number; schedule: T } | null = null;
  let a = lo;
  let b = hi;
  while (a <= b) {
    const mid = Math.floor((a + b) / 2);
    const s = build(mid);
    if (meetsTarget(s, target)) {
      best = { param: mid, schedule: s };
      a = mid + 1;
    } else b = mid - 1;
  }
  return best;
}
