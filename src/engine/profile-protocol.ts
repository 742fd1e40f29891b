import type { ExecutionProvider, ExecutionProviderChoice } from './ort';

/**
 * Messages between the profiling parent (extension host or CLI) and the profiling child process.
 * Profiling runs in a child so a native ONNX Runtime abort kills only the child; the parent turns
 * that into an error and no output file exists, because only the parent writes the result.
 */

/** What to profile. Paths are absolute. */
export interface ProfileRequest {
  /** The BAC-ready ONNX model. */
  readonly modelPath: string;
  /** Episodes: robomimic HDF5, diffusion_policy zarr directory or `.zarr.zip`. */
  readonly episodesPath: string;
  /** Observation samples N (windows cut from the episodes). */
  readonly samples: number;
  /** Seed for choosing windows and the sampler noise. */
  readonly seed: number;
  /** Execution provider policy. */
  readonly executionProvider: ExecutionProviderChoice;
  /** Where the `.bacprofile` goes (written atomically by the parent, only on success). */
  readonly outPath: string;
  /** Samples per ORT call; default: chosen by the engine. */
  readonly batchSize?: number;
  /**
   * Elements per sample and block the reuse error E is averaged over (a seeded random subset);
   * default {@link DEFAULT_L1_ELEMENTS}; a value ≥ the block's T·d means all of them (exact).
   */
  readonly l1Elements?: number;
  /**
   * Sample with another sampler than the model's `bac.sampler` (same training schedule), e.g. a
   * DDPM-trained policy with `dpmsolver++`; default: the model's.
   */
  readonly samplerType?: string;
  /** K, denoiser calls per sampler run; default: the model's `num_inference_steps`. */
  readonly steps?: number;
}

/** Default {@link ProfileRequest.l1Elements}: keeps the L1 sort well below the denoiser calls' cost. */
export const DEFAULT_L1_ELEMENTS = 128;

/** Progress of a running profile. */
export interface ProfileProgress {
  /** Samples finished. */
  readonly done: number;
  /** Samples in total. */
  readonly total: number;
  /** Estimated milliseconds left; null before the first batch finished. */
  readonly etaMs: number | null;
}

/** Parent → child. */
export type ParentMessage =
  /** Start profiling (sent once, right after the child reports `ready`). */
  { readonly type: 'start'; readonly request: ProfileRequest };

/** Child → parent. */
export type ChildMessage =
  /** The child is up and waits for `start`. */
  | { readonly type: 'ready' }
  /** A log line for the Output channel / stderr (provider choice, timings). */
  | { readonly type: 'log'; readonly line: string }
  /** Samples done so far. */
  | { readonly type: 'progress'; readonly progress: ProfileProgress }
  /** Success: the serialised `.bacprofile` (base64) and the provider that ran it. */
  | {
      readonly type: 'done';
      readonly profileBase64: string;
      readonly provider: ExecutionProvider;
      readonly notes: string[];
      /** The child's peak resident set size in bytes (for the memory benchmark). */
      readonly peakRssBytes: number;
    }
  /** Failure; `user` is true for a user error (BacError), false for a bug. */
  | { readonly type: 'error'; readonly message: string; readonly user: boolean; readonly stack?: string };
