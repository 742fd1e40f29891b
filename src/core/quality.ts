/**
 * Offline quality measures that compare sampler configurations (sampler × K × cache schedule) with
 * one another. A cache schedule can be compared with its own full model on the same noise; two
 * different samplers cannot (they map the same noise to different actions), so the measures here
 * compare every configuration with the recorded demonstrations, or compare the *distribution* of
 * its actions with the reference configuration's over several noise draws per observation window.
 * Which one predicts closed-loop success is measured (docs/sweep.md, "Which measure"); reports show
 * all of them side by side. Pure math, no I/O.
 */

/** Names of the measures; lower is better for every one. */
export type QualityMeasureId =
  'demo-mse' | 'demo-mse-best-of-n' | 'reference-distance' | 'full-model-error' | 'closed-loop-failure';

/** What each measure measures, for reports and the editor. */
export const QUALITY_MEASURES: Readonly<Record<QualityMeasureId, string>> = {
  'demo-mse':
    'mean squared error of the executed actions against the recorded demonstration (raw action units), averaged over windows and noise draws; as diffusion_policy validation reports it (there over the whole horizon). Penalises both a wrong mode and a spread-out distribution.',
  'demo-mse-best-of-n':
    "per window the smallest demo-mse over the noise draws, averaged over windows: whether the demonstrated action lies within the sampler's distribution (mode coverage), forgiving the choice between modes.",
  'reference-distance':
    "normalised energy distance between the distribution of the executed actions and the reference configuration's, per window over the noise draws, averaged over windows: 0 when the two sample the same distribution (slightly negative values are sampling noise), 1 at most; scale-free, so it compares samplers.",
  'full-model-error':
    "mean absolute difference of the executed actions from the same sampler's full model on the same noise (raw units): only defined for cache schedules; measures what caching changes, not task quality.",
  'closed-loop-failure':
    "share of episodes that failed (1 − success rate) in the task's simulator on fixed trial layouts, the same layouts and noise for every configuration: success itself rather than a proxy, where a simulator exists (the demo task); its standard error is over episodes.",
};

/**
 * How `bac sweep`'s tolerance T applies to a measure: `relative`, value ≤ reference's · (1 + T);
 * `absolute`, value ≤ T — for a distance to the reference, which is 0 at the reference itself;
 * `margin`, value ≤ reference's + T — for a rate, where T is a number of points (0.03: 3 points).
 */
export type ToleranceKind = 'relative' | 'absolute' | 'margin';
export const TOLERANCE_KIND: Readonly<Record<QualityMeasureId, ToleranceKind>> = {
  'demo-mse': 'relative',
  'demo-mse-best-of-n': 'relative',
  'reference-distance': 'absolute',
  'full-model-error': 'relative',
  'closed-loop-failure': 'margin',
};

/** The tolerance rule in words, e.g. `reference-distance ≤ 0.02`, for reports and the CLI. */
export function describeTolerance(measure: QualityMeasureId, tolerance: number): string {
  switch (TOLERANCE_KIND[measure]) {
    case 'absolute':
      return `${measure} ≤ ${tolerance}`;
    case 'margin':
      return `${measure} at most ${(tolerance * 100).toFixed(1)} points above the reference's`;
    case 'relative':
      return `${measure} within ${(tolerance * 100).toFixed(1)} % of the reference`;
  }
}

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

function euclidean(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/**
 * Normalised energy distance H = (2·E‖X−Y‖ − E‖X−X′‖ − E‖Y−Y′‖) / (2·E‖X−Y‖) between the draws `xs`
 * and `ys` of one window (Székely and Rizzo: in [0, 1] for the true distributions, 0 exactly when
 * they are equal). Estimated with U-statistics that leave out the pairs with i = j — also across the
 * two sets, because draw i of both shares its noise (common random numbers): so the estimate is
 * unbiased, may be slightly negative, and is exactly 0 when `xs` and `ys` are the same draws. 0 when
 * every draw is the same point. O(D² · n).
 * @throws RangeError with fewer than two draws, different draw counts or lengths.
 */
export function normalizedEnergyDistance(xs: readonly ArrayLike<number>[], ys: readonly ArrayLike<number>[]): number {
  const D = xs.length;
  if (D < 2 || ys.length !== D)
    throw new RangeError(`normalizedEnergyDistance: needs ≥ 2 draws on both sides, got ${D} and ${ys.length}`);
  if ([...xs, ...ys].some((x) => x.length !== xs[0]!.length))
    throw new RangeError('normalizedEnergyDistance: draws of different lengths');
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) {
      if (i === j) continue;
      xy += euclidean(xs[i]!, ys[j]!);
      xx += euclidean(xs[i]!, xs[j]!);
      yy += euclidean(ys[i]!, ys[j]!);
    }
  return xy === 0 ? 0 : (2 * xy - xx - yy) / (2 * xy);
}

/**
 * The reference-distance measure from per-window distances (one value per window, see
 * {@link normalizedEnergyDistance}): their mean with its standard error over windows; `seedStd` is
 * null (the distance needs all draws at once). O(windows).
 * @throws RangeError with no windows.
 */
export function summarizeDistances(perWindow: readonly number[]): QualityStat {
  if (perWindow.length === 0) throw new RangeError('summarizeDistances: no windows');
  return { value: mean(perWindow), seedStd: null, windowSe: sampleStd(perWindow) / Math.sqrt(perWindow.length) };
}
