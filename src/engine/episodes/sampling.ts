/**
 * Choosing observation windows for profiling, checking them against the model, and normalizing
 * them. Pure functions over an `EpisodeSource`.
 */

import { BacError } from '../../core/errors';
import { Rng } from '../../core/rng';
import { resolveKeys, where } from './base';
import type { EpisodeSource, Normalizer, ObsKeyInfo, SampleWindowsOptions, WindowSample } from './types';

/**
 * Resolves `keys` (the model's `bac.obs_keys`) against the data and, when `expectedDim` (the
 * model's per-step `cond` width Do) is given, checks that the data's per-step widths add up to it.
 * Returns the keys' infos in `keys` order. Throws `BacError` naming the file, the per-key widths and
 * the fix. O(keys · available keys).
 */
export function checkObsKeys(source: EpisodeSource, keys: readonly string[], expectedDim?: number): ObsKeyInfo[] {
  const infos = resolveKeys(source.path, source.obsKeys, keys);
  const total = infos.reduce((a, k) => a + k.dim, 0);
  if (expectedDim !== undefined && total !== expectedDim) {
    const parts = infos.map((k) => `${k.key} ${k.dim}`).join(' + ');
    throw new BacError(
      `${where(source.path)}: the model expects ${expectedDim} observation values per step but bac.obs_keys give ${total} in this data (${parts}); use episodes recorded for this model or fix bac.obs_keys.`,
    );
  }
  return infos;
}

/**
 * Picks `count` observation windows deterministically (same seed and data → same windows) and
 * reads them. Spread: episodes are visited in a seeded random order, round-robin, so `count` windows
 * touch min(count, eligible episodes) distinct episodes and each episode gets ⌊count/E⌋ or
 * ⌈count/E⌉ windows; the j-th of an episode's m windows is drawn uniformly from the j-th of m equal
 * slices of its steps (stratified, so the start, middle and end of episodes are all represented).
 * Windows are returned ordered by (episode, t). Throws `BacError` for missing keys, a width
 * mismatch (`expectedDim`), or when no episode has `minEpisodeLength` steps.
 * Time O(count · nObsSteps · Σ dims) plus reading the chosen episodes' arrays once.
 */
export async function sampleWindows(source: EpisodeSource, options: SampleWindowsOptions): Promise<WindowSample[]> {
  const { keys, nObsSteps, count, seed } = options;
  const minLen = options.minEpisodeLength ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  if (!Number.isInteger(nObsSteps) || nObsSteps < 1) throw new RangeError(`nObsSteps must be ≥ 1, got ${nObsSteps}`);
  checkObsKeys(source, keys, options.expectedDim);
  const eligible: number[] = [];
  for (let e = 0; e < source.episodeCount; e++) if (source.lengths[e]! >= minLen) eligible.push(e);
  if (eligible.length === 0) {
    const longest = Math.max(...source.lengths);
    throw new BacError(
      `${where(source.path)}: every episode is shorter than the ${minLen} steps needed (the longest has ${longest}); use longer episodes or a model with a shorter horizon.`,
    );
  }
  const rng = new Rng(seed);
  // Fisher–Yates with the seeded stream: which episodes get the extra windows is random but fixed.
  for (let i = eligible.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [eligible[i], eligible[j]] = [eligible[j]!, eligible[i]!];
  }
  const perEpisode = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const e = eligible[i % eligible.length]!;
    perEpisode.set(e, (perEpisode.get(e) ?? 0) + 1);
  }
  const picks: { episode: number; t: number }[] = [];
  for (const [episode, m] of [...perEpisode].sort((a, b) => a[0] - b[0])) {
    const len = source.lengths[episode]!;
    for (let j = 0; j < m; j++) {
      // Slice j of m over [0, len); when m > len several windows may share a step (sampling with
      // replacement is the only option then).
      const lo = (j * len) / m;
      const hi = ((j + 1) * len) / m;
      const t = Math.min(len - 1, Math.floor(lo + rng.uniform() * (hi - lo)));
      picks.push({ episode, t });
    }
  }
  const out: WindowSample[] = [];
  for (const p of picks) {
    out.push({ ...p, obs: await source.observationWindow(p.episode, p.t, keys, nObsSteps) });
  }
  return out;
}

/**
 * Normalizes a window in place and returns it: x[i·D + d] ← x[i·D + d]·scale[d] + offset[d] for every
 * step i, with D = scale.length (the concatenated per-step width). Throws `BacError` when scale and
 * offset lengths differ, are empty, are not finite, or do not divide the window into whole steps, since
 * that means the model's `bac.normalizer` was made for other observation keys. O(window length).
 */
export function applyNormalizer(window: Float32Array, normalizer: Normalizer): Float32Array {
  const { scale, offset } = normalizer;
  const d = scale.length;
  if (d === 0 || offset.length !== d) {
    throw new BacError(
      `The model's bac.normalizer.obs has ${d} scale and ${offset.length} offset values; it needs one of each per observation dimension.`,
    );
  }
  if (window.length % d !== 0) {
    throw new BacError(
      `The model's bac.normalizer.obs has ${d} values per step but the observation window holds ${window.length} values, not a whole number of ${d}-wide steps; the normalizer does not match bac.obs_keys — re-export the model.`,
    );
  }
  for (let j = 0; j < d; j++) {
    if (!Number.isFinite(scale[j]) || !Number.isFinite(offset[j])) {
      throw new BacError(
        `The model's bac.normalizer.obs has a non-finite value at dimension ${j}; re-export the model with a valid normalizer.`,
      );
    }
  }
  for (let i = 0; i < window.length; i += d) {
    for (let j = 0; j < d; j++) window[i + j] = window[i + j]! * scale[j]! + offset[j]!;
  }
  return window;
}
