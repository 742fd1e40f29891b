/**
 * Vocabulary of the episode readers: what a recorded-episode file offers to profiling and
 * evaluation, independent of its on-disk format.
 */

/**
 * On-disk layout of an episode source:
 * - `robomimic-hdf5`: `data/demo_<i>/obs/<key>`, `data/demo_<i>/actions`, attribute `num_samples`;
 * - `zarr-dir`: a diffusion_policy replay buffer as a zarr v2 directory (`*.zarr`);
 * - `zarr-zip`: the same replay buffer zipped (`*.zarr.zip`).
 */
export type EpisodeFormat = 'robomimic-hdf5' | 'zarr-dir' | 'zarr-zip';

/** One observation key of the data and the size of one step of it. */
export interface ObsKeyInfo {
  /** Dataset key, as in `bac.obs_keys` (e.g. `robot0_eef_pos`). */
  readonly key: string;
  /** Per-step shape (the array's shape without the leading time axis; `[]` for a scalar per step). */
  readonly shape: readonly number[];
  /** Per-step size: the product of `shape` (1 for a scalar); the key's width in the `cond` vector. */
  readonly dim: number;
  /** Stored element type as the file names it (`<f4`, `<f8`, `float32` …); informative only. */
  readonly dtype: string;
}

/**
 * A set of recorded episodes opened read-only. Episode indices are 0 … `episodeCount`−1 in the
 * file's natural order (robomimic demos sorted numerically: demo_2 before demo_10; zarr episodes
 * in `meta/episode_ends` order).
 *
 * Invariants: `episodeCount ≥ 1`; `lengths[i] ≥ 1`; every key of `obsKeys` and the actions have
 * exactly `lengths[i]` steps in episode i (checked when the episode is first read).
 * Every array handed out is float32, row-major, freshly allocated (callers may mutate it) and
 * finite (a NaN or ±Inf in the data raises a `BacError` naming the key, episode and step).
 */
export interface EpisodeSource {
  /** Absolute path of the file or directory. */
  readonly path: string;
  /** Detected layout. */
  readonly format: EpisodeFormat;
  /** Number of episodes. */
  readonly episodeCount: number;
  /** Steps per episode, in episode order. */
  readonly lengths: readonly number[];
  /** Observation keys available in the data (sorted by name), each with its per-step size. */
  readonly obsKeys: readonly ObsKeyInfo[];
  /** Action dimension Da (per-step size of the actions array). */
  readonly actionDim: number;
  /** Human name of episode `ep` for messages (`demo_7`, `episode 3`). */
  episodeName(ep: number): string;
  /** Actions of episode `ep`: Float32Array of `lengths[ep] · actionDim`, row-major [T, Da]. */
  actions(ep: number): Promise<Float32Array>;
  /**
   * The observation window that ends at step `t` of episode `ep`: steps t−nObsSteps+1 … t, each the
   * concatenation of `keys` in the given order. Steps before 0 repeat step 0 (diffusion_policy's
   * sampler pads the episode start the same way). Result: Float32Array [nObsSteps, Σ dims].
   * Throws `BacError` when a key is missing (naming the available keys); `RangeError` for an
   * out-of-range `ep`/`t`/`nObsSteps` (a caller bug). O(nObsSteps · Σ dims) once the episode's
   * arrays are cached (each key of an episode is read and checked once, then kept in a bounded cache).
   */
  observationWindow(ep: number, t: number, keys: readonly string[], nObsSteps: number): Promise<Float32Array>;
  /** Releases the file (idempotent). The source must not be used afterwards. */
  close(): Promise<void>;
}

/** Per-dimension affine normalizer (docs/method.md `bac.normalizer.obs`): normalized = raw·scale + offset. */
export interface Normalizer {
  /** One factor per dimension of the concatenated observation vector. */
  readonly scale: ArrayLike<number>;
  /** One offset per dimension of the concatenated observation vector. */
  readonly offset: ArrayLike<number>;
}

/** One observation window picked for profiling or evaluation. */
export interface WindowSample {
  /** Episode index. */
  readonly episode: number;
  /** Last (current) step of the window. */
  readonly t: number;
  /** The window, Float32Array [nObsSteps, Σ dims] (raw, not normalized). */
  readonly obs: Float32Array;
}

/** Options of `sampleWindows`. */
export interface SampleWindowsOptions {
  /** Observation keys in `cond` order (the model's `bac.obs_keys`). */
  readonly keys: readonly string[];
  /** Steps per window (the model's `bac.n_obs_steps`). */
  readonly nObsSteps: number;
  /** Number of windows wanted (≥ 1). */
  readonly count: number;
  /** Seed of the choice; the same seed and data give the same windows. */
  readonly seed: number;
  /** Width Do the model expects for one step of `cond`; checked against Σ dims when given. */
  readonly expectedDim?: number;
  /**
   * Minimum episode length to sample from (e.g. the model's horizon when actions after t are
   * compared); shorter episodes are skipped, and a `BacError` is raised when none is long enough.
   * Default 1 (every episode qualifies).
   */
  readonly minEpisodeLength?: number;
}
