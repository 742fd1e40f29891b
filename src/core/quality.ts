/**
 * Offline quality measures that compare sampler configurations (sampler × K × cache schedule) with
 * one another. A cache schedule can be compared with its own full model on the same noise; two
 * different samplers cannot (they map the same noise to different actions), so the measures here
 * compare every configuration with the recorded demonstrations, over several noise draws per
 * observation window. None of them is known to predict closed-loop success (that is measured
 * separately); reports show all of them side by side. Pure math, no I/O.
 */

/** Names of the measures; lower is better for every one. */
export type QualityMeasureId = 'demo-mse' | 'demo-mse-best-of-n' | 'full-model-error';

/** What each measure measures, for reports and the editor. */
export const QUALITY_MEASURES: Readonly<Record<QualityMeasureId, string>> = {
  'demo-mse':
    'mean squared error of the executed actions against the recorded demonstration (raw action units), averaged over windows and noise draws; as diffusion_policy validation reports it (there over the whole horizon). Penalises both a wrong mode and a spread-out distribution.',
  'demo-mse-best-of-n':
    "per window the smallest demo-mse over the noise draws, averaged over windows: whether the demonstrated action lies within the sampler's distribution (mode coverage), forgiving the choice between modes.",
  'full-model-error':
    "mean absolute difference of the executed actions from the same sampler's full model on the same noise (raw units): only defined for cache schedules; measures what caching changes, not task quality.",
};

/** Mean squared difference of two equal-length arrays. O(n). @throws RangeError on length mismatch. */
export function meanSquaredError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`meanSquaredError: lengths ${a.length} and ${b.length} differ`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return a.length ? s / a.length : 0;
}

/** Mean absolute difference of two equal-length arrays. O(n). @throws RangeError on length mismatch. */
export function meanAbsoluteError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`meanAbsoluteError: lengths ${a.length} and ${b.length} differ`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return a.length ? s / a.length : 0;
}

/** A measure's value with its uncertainty. */
export interface QualityStat {
  /** The measure. */
  readonly value: number;
  /**
   * Spread over noise seeds: sample standard deviation, over the draws, of the measure computed from
   * that draw alone (0 with one draw); null for measures that need all draws at once (best-of-n).
   */
  readonly seedStd: number | null;
  /** Standard error over windows (sample std of the per-window values / √windows; 0 with one window). */
  readonly windowSe: number;
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/**
 * Summarises per-window, per-draw errors `errors[w][d]` (every window has the same draws) into the
 * mean measure and the best-of-n measure. O(windows · draws).
 * @throws RangeError when windows have different numbers of draws or there are none.
 */
export function summarizeErrors(errors: readonly (readonly number[])[]): { mean: QualityStat; bestOfN: QualityStat } {
  const W = errors.length;
  const D = errors[0]?.length ?? 0;
  if (W === 0 || D === 0) throw new RangeError('summarizeErrors: no windows or no draws');
  if (errors.some((e) => e.length !== D)) throw new RangeError('summarizeErrors: windows have different draw counts');
  const perWindowMean = errors.map((e) => mean(e));
  const perWindowBest = errors.map((e) => Math.min(...e));
  const perDraw = Array.from({ length: D }, (_, d) => mean(errors.map((e) => e[d]!)));
  return {
    mean: {
      value: mean(perWindowMean),
      seedStd: sampleStd(perDraw),
      windowSe: sampleStd(perWindowMean) / Math.sqrt(W),
    },
    bestOfN: { value: mean(perWindowBest), seedStd: null, windowSe: sampleStd(perWindowBest) / Math.sqrt(W) },
  };
}
