import type { ExecutionProvider, ExecutionProviderChoice } from './ort';

/**
 * What the profiling parent (extension host or CLI) and the profiling child process exchange
 * (child-task.ts carries it). Profiling runs in a child so a native ONNX Runtime abort kills only
 * the child; the parent turns that into an error and no output file exists, because only the
 * parent writes the result.
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

/** What the profiling child sends back (over child-task.ts's protocol). */
export interface ProfileResult {
  /** The serialised `.bacprofile`, base64. */
  readonly profileBase64: string;
  readonly provider: ExecutionProvider;
  /** Provider decisions, in words. */
  readonly notes: string[];
  /** The child's peak resident set size in bytes (for the memory benchmark). */
  readonly peakRssBytes: number;
}
