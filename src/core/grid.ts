import { scheduleBaseCost } from './cost';
import { blockCostCapacity, costOf, type CostTarget } from './cost-target';
import { BacError } from './errors';
import { reuseMismatch } from './error-proxy';
import { solveMultipleChoiceKnapsack } from './knapsack';
import { assertSolvableProfile, composeBlock, type ManualEdits } from './solve';
import type { BlockId, FileRef, Profile, Schedule } from './types';

/**
 * Grid schedules: every block updates on an aligned grid, at every n-th step for an interval n
 * that divides K (K = 100: 1, 2, 4, 5, 10, 20, 25, 50, 100). The update steps of all blocks fall
 * on one lattice: the steps of interval n are a subset of the steps of every divisor of n, so a
 * coarse block never updates at a step where the finer blocks feeding it reuse their caches.
 * Step 0 always updates; with forceLast step K−1 updates too (as the other methods' rule).
 *
 * The interval of every block is chosen by a multiple-choice knapsack: minimise Σ_b of the block's
 * reuse error under the cost target, where a block's reuse error is the error proxy's term
 * (ℓ_b / ℓ̄) · Σ_k (1 − Sim_b[s(k)][k]) (see error-proxy.ts) and its cost is |C(b)| · c_b.
 */

/** The intervals a grid may use for K steps: the divisors of K, ascending. O(K). */
export function gridIntervals(K: number): number[] {
  const out: number[] = [];
  for (let n = 1; n <= K; n++) if (K % n === 0) out.push(n);
  return out;
}

/** Update steps of interval n: 0, n, 2n, … below K, plus K−1 when `forceLast`. O(K / n). */
export function gridSteps(K: number, n: number, forceLast: boolean): number[] {
  const steps: number[] = [];
  for (let k = 0; k < K; k += n) steps.push(k);
  if (forceLast && steps.at(-1) !== K - 1) steps.push(K - 1);
  return steps;
}

/** The chosen interval of every block, by id. */
export type GridChoice = ReadonlyMap<BlockId, number>;

/**
 * The grid of least summed reuse error whose expected speedup by `target.by` is ≥ X.
 * O(B · D · units) for D divisors of K (see knapsack.ts).
 * @throws BacError when even the coarsest grid (interval K for every block) misses the target.
 */
export function solveGrid(
  profile: Profile,
  target: CostTarget,
  forceLast: boolean,
): { readonly intervals: GridChoice; readonly steps: ReadonlyMap<BlockId, readonly number[]> } {
  assertSolvableProfile(profile);
  const K = profile.sampler.steps;
  const cost = costOf(target.by);
  const intervals = gridIntervals(K);
  const meanL1 = profile.blocks.reduce((s, b) => s + b.l1Mean, 0) / profile.blocks.length;
  const options = profile.blocks.map((b) => {
    const weight = meanL1 > 0 ? b.l1Mean / meanL1 : 1;
    return intervals.map((n) => {
      const steps = gridSteps(K, n, forceLast);
      return { cost: steps.length * cost(b.cost), value: weight * reuseMismatch(b.simMean, K, steps), steps, n };
    });
  });
  const solution = solveMultipleChoiceKnapsack(options, Math.max(0, blockCostCapacity(profile, target)));
  if (!solution) {
    throw new BacError(
      `target ${target.speedup}× by ${target.by} is out of reach for grid: even updating every block only at step 0${forceLast ? ' and the last step' : ''} is slower; lower the target speedup`,
    );
  }
  const chosen = solution.choice.map((o, i) => options[i]![o]!);
  return {
    intervals: new Map(profile.blocks.map((b, i) => [b.id, chosen[i]!.n])),
    steps: new Map(profile.blocks.map((b, i) => [b.id, chosen[i]!.steps])),
  };
}

/** {@link solveGrid} as a schedule (grid steps recorded as solver updates, then the person's edits). */
export function gridSchedule(
  profile: Profile,
  target: CostTarget,
  forceLast: boolean,
  model: FileRef,
  profileRef: FileRef | null,
  edits: ReadonlyMap<BlockId, ManualEdits> = new Map(),
): Schedule {
  const { steps } = solveGrid(profile, target, forceLast);
  const most = Math.max(...[...steps.values()].map((s) => s.length));
  return {
    model,
    sampler: profile.sampler,
    solver: { budget: most, topN: 0, forceLast, profile: profileRef },
    baseCost: scheduleBaseCost(profile),
    blocks: profile.blocks.map((b) => composeBlock(b.id, b.cost, [...steps.get(b.id)!], [], edits.get(b.id))),
  };
}
