import { updateSteps } from './blocks';
import type { Cost, Profile, Schedule, ScheduleSummary } from './types';

/**
 * The cost model of docs/method.md. With c_b the cost of one call of block b and c_0 the rest of one
 * denoiser call: full = K·(c_0 + Σ_b c_b), cached = K·c_0 + Σ_b |C(b)|·c_b, speedup = full/cached.
 */

/** Per-block input of {@link expectedSpeedup}: its cost and how many times it runs per chunk. */
export interface CostedBlock {
  /** Cost of one call of the block. */
  readonly cost: Cost;
  /** |C(b)|: number of update steps. */
  readonly updates: number;
}

/**
 * full/cached for one cost measure (FLOPs or time). Returns 1 when the whole run costs nothing
 * (nothing to speed up). O(B).
 */
export function speedupBy(measure: (c: Cost) => number, base: Cost, blocks: readonly CostedBlock[], K: number): number {
  let perCall = measure(base);
  let cached = K * measure(base);
  for (const b of blocks) {
    perCall += measure(b.cost);
    cached += b.updates * measure(b.cost);
  }
  const full = K * perCall;
  return cached > 0 ? full / cached : 1;
}

/** Expected speedups by FLOPs (the upper bound) and by measured time (null when unmeasured). O(B). */
export function expectedSpeedup(
  base: Cost,
  blocks: readonly CostedBlock[],
  K: number,
): { flops: number; time: number | null } {
  const timed = base.timeUs > 0 || blocks.some((b) => b.cost.timeUs > 0);
  return {
    flops: speedupBy((c) => c.flops, base, blocks, K),
    time: timed ? speedupBy((c) => c.timeUs, base, blocks, K) : null,
  };
}

/** Each block of `s` with its cost and |C(b)|, the input of {@link speedupBy}. O(B · S log S). */
export function costedBlocks(s: Schedule): CostedBlock[] {
  return s.blocks.map((b) => ({ cost: b.cost, updates: updateSteps(b).length }));
}

/**
 * What one chunk of `s` costs by `measure`, K·c_0 + Σ_b |C(b)|·c_b: an absolute cost, so schedules
 * for different samplers and K can be compared with each other. O(B · S log S).
 */
export function chunkCost(measure: (c: Cost) => number, s: Schedule): number {
  return costedBlocks(s).reduce((a, b) => a + b.updates * measure(b.cost), s.sampler.steps * measure(s.baseCost));
}

/** The derived numbers of a schedule: update counts and expected speedups. O(B · S log S). */
export function summarizeSchedule(s: Schedule): ScheduleSummary {
  const K = s.sampler.steps;
  const blocks = costedBlocks(s);
  const speedup = expectedSpeedup(s.baseCost, blocks, K);
  return {
    updates: blocks.reduce((n, b) => n + b.updates, 0),
    fullUpdates: K * s.blocks.length,
    speedupFlops: speedup.flops,
    speedupTime: speedup.time,
  };
}

/**
 * A speedup as every surface shows it (CLI tables, CodeLens, the editor, reports): two decimals and
 * `×` (`3.12×`), `n/a` for null or non-finite. The schedule file keeps three; two are enough to
 * tell a 1.04× measurement from 1.00×. Whether it was measured or expected is the caller's words.
 */
export function formatSpeedup(x: number | null): string {
  return x === null || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(2)}×`;
}

/**
 * The per-step cost c_0 that makes the cost model reproduce a measured chunk-graph time ratio
 * `minimalOverFull` = t(step 0 only) / t(every block every step), given Σ_b c_b = `blocksTimeUs`:
 * from (K·c_0 + Σ)/(K·(c_0 + Σ)) = r, c_0 = Σ·(r·K − 1) / (K·(1 − r)). Being fitted to a ratio, it is
 * on the blocks' time scale whatever the machine's speed was while each was timed, and every
 * schedule's expected speedup by time interpolates between the two measured chunks (1 and 1/r).
 * Null when the ratio says nothing (K < 2, r ≥ 1, non-finite, or Σ ≤ 0); 0 when r ≤ 1/K. O(1).
 */
export function chunkStepTimeUs(minimalOverFull: number, K: number, blocksTimeUs: number): number | null {
  const r = minimalOverFull;
  if (K < 2 || !Number.isFinite(r) || r <= 0 || r >= 1 || !(blocksTimeUs > 0)) return null;
  return Math.max(0, (blocksTimeUs * (r * K - 1)) / (K * (1 - r)));
}

/**
 * The cost of the non-block rest of one step that a schedule built from `profile` carries: the
 * profile's FLOPs, and by time the chunk graph's per-step fixed cost when the profile measured it
 * (`chunkStepTimeUs`), else the per-call base of the gated runner. O(1).
 */
export function scheduleBaseCost(profile: Pick<Profile, 'baseCost' | 'chunkStepTimeUs'>): Cost {
  const timeUs = profile.chunkStepTimeUs ?? profile.baseCost.timeUs;
  return { flops: profile.baseCost.flops, timeUs };
}
