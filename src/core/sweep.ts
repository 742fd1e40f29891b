import { fullSteps } from './baselines';
import { updateSteps } from './blocks';
import { BacError } from './errors';
import { chunkCost } from './cost';
import { composeBlock } from './solve';
import { TOLERANCE_KIND, type QualityMeasureId } from './quality';
import { configId, type SweepConfig, type SweepMethod, type SweepResult } from './sweep-format';
import type { BlockId, Cost, FileRef, SamplerInfo, Schedule } from './types';

/**
 * The decisions of `bac sweep` that need no I/O: which configurations to try, which are on the
 * Pareto front (measured speedup against quality), and which one to recommend.
 */

/** A sampler at one K, as grids list them. */
export interface SamplerAtK {
  readonly sampler: string;
  readonly steps: number;
}

/**
 * Cache budgets tried at K steps: none below 6 (step 0 and the last always update, so a shorter
 * schedule has little left to skip), half the steps from 6 to 9, ~⅓ and ½ up to 49, 10 and 20 beyond.
 */
export function defaultBudgets(K: number): number[] {
  if (K < 6) return [];
  if (K < 10) return [Math.floor(K / 2)];
  if (K < 50) return [Math.max(2, Math.round(K / 3)), Math.round(K / 2)];
  return [10, 20];
}

/**
 * Budgets a user chose (`bac sweep --budgets`) as the per-K function {@link gridOf} takes: at each K
 * the given budgets below K, ascending, without repeats (S = K updates every step: that is the full
 * model, already in the grid). A K where none remain gets no cache configurations.
 * @throws BacError for an empty list or a budget that is not an integer ≥ 1.
 */
export function budgetsBelowK(budgets: readonly number[]): (K: number) => number[] {
  if (budgets.length === 0 || budgets.some((S) => !Number.isInteger(S) || S < 1))
    throw new BacError(`budgets must be integers ≥ 1, got ${JSON.stringify(budgets)}`);
  const sorted = [...new Set(budgets)].sort((a, b) => a - b);
  return (K) => sorted.filter((S) => S < K);
}

/**
 * The step counts every sampler is tried at. 6 sits between 10 and 5 so that caching has a few-step
 * sampler to add to (6 steps with 3 updates per block can be faster than 5 full steps at the same
 * success); 4 is the fewest steps a user would still try.
 */
export const FEWER_STEPS: readonly number[] = [10, 6, 5, 4];

/**
 * The samplers a default sweep tries for a policy shipped with `reference` (e.g. DDPM-100): the
 * reference, then its own sampler, DDPM (strided), DDIM and DPM-Solver++ at {@link FEWER_STEPS};
 * never more steps than the reference.
 */
export function defaultSamplers(reference: SamplerAtK): SamplerAtK[] {
  const samplers: SamplerAtK[] = [reference];
  const add = (s: SamplerAtK): void => {
    if (s.steps <= reference.steps && !samplers.some((x) => x.sampler === s.sampler && x.steps === s.steps))
      samplers.push(s);
  };
  for (const sampler of [reference.sampler, 'ddpm', 'ddim', 'dpmsolver++'])
    for (const K of FEWER_STEPS) add({ sampler, steps: K });
  return samplers;
}

/**
 * The default grid: {@link defaultSamplers} as the full model, and Uniform and BAC schedules at
 * {@link defaultBudgets} for every K ≥ 6. Sized so that the demo sweeps in minutes on a 2-core
 * CPU (the reference and its cached variants dominate).
 */
export function defaultGrid(reference: SamplerAtK): SweepConfig[] {
  return gridOf(defaultSamplers(reference), ['uniform', 'bac'], defaultBudgets);
}

/** Every sampler as the full model, and each cache method at each of `budgets(K)`. */
export function gridOf(
  samplers: readonly SamplerAtK[],
  methods: readonly Exclude<SweepMethod, 'full'>[],
  budgets: (K: number) => readonly number[],
): SweepConfig[] {
  const out: SweepConfig[] = [];
  for (const s of samplers) {
    out.push({ ...s, method: 'full', budget: null });
    for (const method of methods)
      for (const budget of budgets(s.steps)) {
        if (budget < 1 || budget > s.steps)
          throw new BacError(`budget ${budget} is out of range 1…${s.steps} at K = ${s.steps}`);
        out.push({ ...s, method, budget });
      }
  }
  return out;
}

/** The quality value a result has under `measure`; +∞ when undefined for it. */
export function qualityOf(r: SweepResult, measure: QualityMeasureId): number {
  return r.quality[measure]?.value ?? Number.POSITIVE_INFINITY;
}

/**
 * Ids of the results no other result dominates (at least as fast and at least as good, better in
 * one), ordered by measured speedup. O(n²).
 */
export function paretoFront(results: readonly SweepResult[], measure: QualityMeasureId): string[] {
  const front = results.filter(
    (r) =>
      !results.some(
        (o) =>
          o !== r &&
          o.measuredSpeedup >= r.measuredSpeedup &&
          qualityOf(o, measure) <= qualityOf(r, measure) &&
          (o.measuredSpeedup > r.measuredSpeedup || qualityOf(o, measure) < qualityOf(r, measure)),
      ),
  );
  return front.sort((a, b) => a.measuredSpeedup - b.measuredSpeedup).map((r) => configId(r.config));
}

/**
 * The largest `measure` value a recommendation may have: the reference's · (1 + tolerance) for a
 * relative measure, `tolerance` itself for an absolute one, the reference's + tolerance for a
 * margin ({@link TOLERANCE_KIND}). O(1).
 */
export function qualityLimit(reference: SweepResult, measure: QualityMeasureId, tolerance: number): number {
  switch (TOLERANCE_KIND[measure]) {
    case 'absolute':
      return tolerance;
    case 'margin':
      return qualityOf(reference, measure) + tolerance;
    case 'relative':
      return qualityOf(reference, measure) * (1 + tolerance);
  }
}

/**
 * The recommended configuration: the fastest (measured) whose `measure` is within {@link qualityLimit};
 * ties go to fewer block updates. The reference itself always qualifies.
 * @throws BacError when the reference is not among the results.
 */
export function recommend(
  results: readonly SweepResult[],
  reference: SweepConfig,
  measure: QualityMeasureId,
  tolerance: number,
): string {
  const refId = configId(reference);
  const ref = results.find((r) => configId(r.config) === refId);
  if (!ref) throw new BacError(`the reference configuration ${refId} was not measured`);
  const limit = qualityLimit(ref, measure, tolerance);
  const ok = results.filter((r) => r === ref || qualityOf(r, measure) <= limit);
  ok.sort((a, b) => b.measuredSpeedup - a.measuredSpeedup || a.updates - b.updates);
  return configId(ok[0]!.config);
}

/** FLOPs of one chunk under a schedule: K·c_0 + Σ_b |C(b)|·c_b (docs/method.md cost model). O(B·K). */
export function chunkFlops(s: Schedule): number {
  return chunkCost((c) => c.flops, s);
}

/** Block updates per chunk, Σ_b |C(b)|. O(B·K). */
export function scheduleUpdates(s: Schedule): number {
  return s.blocks.reduce((a, b) => a + updateSteps(b).length, 0);
}

/** True when every block updates at every step: the plain model runs it. O(B·K). */
export function isFullSchedule(s: Schedule): boolean {
  return s.blocks.every((b) => updateSteps(b).length === s.sampler.steps);
}

/**
 * The full model as a schedule for another sampler and K: every block every step, the block costs
 * of `template` (per call, so independent of K), no profile (nothing was solved).
 */
export function fullSchedule(
  template: {
    readonly model: FileRef;
    readonly baseCost: Cost;
    readonly blocks: readonly { id: BlockId; cost: Cost }[];
  },
  sampler: SamplerInfo,
): Schedule {
  const steps = fullSteps(sampler.steps);
  return {
    model: template.model,
    sampler,
    solver: { budget: sampler.steps, topN: 0, forceLast: false, profile: null },
    baseCost: template.baseCost,
    blocks: template.blocks.map((b) => composeBlock(b.id, b.cost, steps, [])),
  };
}
