import { solveAcsAllBudgets } from './acs';
import { uniformSteps } from './baselines';
import { bubblingUnion } from './bua';
import { expectedSpeedup, scheduleBaseCost } from './cost';
import { predictedError } from './error-proxy';
import { assertSolvableProfile, blockSimilarity, composeBlock } from './solve';
import type { FileRef, Profile, Schedule } from './types';

/**
 * The speed/error trade-off curve the editor draws: for every budget M = 1 … K, the expected speedup
 * and the predicted-error proxy of BAC(M, n) and of Uniform(M).
 */

/** One point of the curve. */
export interface TradeoffPoint {
  /** Budget M. */
  readonly budget: number;
  /** Expected speedup by FLOPs. */
  readonly speedupFlops: number;
  /** Expected speedup by measured time, null when unmeasured. */
  readonly speedupTime: number | null;
  /** {@link predictedError} total. */
  readonly predictedError: number;
}

/** Both curves; BAC points are missing for infeasible budgets (M = 1 with forceLast). */
export interface TradeoffCurves {
  readonly bac: TradeoffPoint[];
  readonly uniform: TradeoffPoint[];
}

function point(schedule: Schedule, profile: Profile): TradeoffPoint {
  const K = profile.sampler.steps;
  const blocks = schedule.blocks.map((b) => ({ cost: b.cost, updates: b.acs.length + b.bua.length + b.manual.length }));
  const s = expectedSpeedup(schedule.baseCost, blocks, K);
  return {
    budget: schedule.solver.budget,
    speedupFlops: s.flops,
    speedupTime: s.time,
    predictedError: predictedError(schedule, profile).total,
  };
}

/**
 * Computes both curves. ACS for all budgets shares one DP table per block, so the sweep costs
 * O(B · K³) for ACS plus O(K · B² · K) for BUA and O(K · B · K) for the proxy; ≈ 24 · 10⁶ inner
 * steps for 24 blocks at K = 100.
 */
export function tradeoffCurves(profile: Profile, topN: number, forceLast: boolean): TradeoffCurves {
  assertSolvableProfile(profile);
  const K = profile.sampler.steps;
  const model: FileRef = profile.model;
  const sweeps = profile.blocks.map((b) => solveAcsAllBudgets(blockSimilarity(b, K), { forceLast }, `block ${b.id}`));
  const bac: TradeoffPoint[] = [];
  const uniform: TradeoffPoint[] = [];
  for (let M = 1; M <= K; M++) {
    const base = { model, sampler: profile.sampler, baseCost: scheduleBaseCost(profile) };
    const steps = uniformSteps(K, M);
    uniform.push(
      point(
        {
          ...base,
          solver: { budget: M, topN: 0, forceLast: false, profile: null },
          blocks: profile.blocks.map((b) => composeBlock(b.id, b.cost, steps, [])),
        },
        profile,
      ),
    );
    if (sweeps.some((s) => s[M - 1] === null)) continue;
    const bua = bubblingUnion(
      profile.blocks.map((b, i) => ({
        id: b.id,
        layer: b.layer,
        kind: b.kind,
        l1: b.l1Mean,
        acs: sweeps[i]![M - 1]!.steps,
      })),
      topN,
    );
    const blocks = profile.blocks.map((b, i) => composeBlock(b.id, b.cost, bua[i]!.acs, bua[i]!.bua));
    bac.push(point({ ...base, solver: { budget: M, topN, forceLast, profile: null }, blocks }, profile));
  }
  return { bac, uniform };
}
