/**
 * The vocabulary shared by every layer of BAC Studio: blocks, update origins, schedules and
 * profiles as in-memory values. Pure data; no I/O. See `METHOD.md` for the meaning of each term.
 */

/** The three residual branches of a pre-norm transformer decoder layer. */
export type BlockKind = 'sa' | 'ca' | 'ffn';

/** Order of kinds inside one decoder layer (the order the residual stream visits them). */
export const BLOCK_KINDS: readonly BlockKind[] = ['sa', 'ca', 'ffn'];

/**
 * One cacheable block: a residual branch of a decoder layer.
 * Invariant: `layer` is a non-negative integer; layers grow downstream.
 */
export interface BlockRef {
  /** Decoder layer index, 0 = most upstream. */
  readonly layer: number;
  /** Which residual branch of that layer. */
  readonly kind: BlockKind;
}

/** Canonical block id, `<layer>.<kind>`, e.g. `3.ca`; the ONNX output is `bac:<id>`. */
export type BlockId = string;

/** Why a step is an update of a block: the solver's ACS, BUA's error correction, or a person. */
export type UpdateOrigin = 'acs' | 'bua' | 'manual';

/**
 * Update set of one block with the origin of every update.
 * Invariants: arrays are strictly increasing, pairwise disjoint, every step in 0 … K−1;
 * `acs ∪ bua ∪ manual` contains step 0; `manualOff` is disjoint from the three and never holds 0.
 */
export interface BlockUpdates {
  /** Steps chosen by the ACS dynamic programme (after `manualOff` was subtracted). */
  readonly acs: readonly number[];
  /** Steps added by the Bubbling Union Algorithm that ACS did not choose. */
  readonly bua: readonly number[];
  /** Steps a person added by hand. */
  readonly manual: readonly number[];
  /** Steps a person removed by hand; kept so that re-solving honours the removal. */
  readonly manualOff: readonly number[];
}

/** Per-call cost of one block (or of the non-block rest of a denoiser call). */
export interface Cost {
  /** Floating-point operations of one call at batch 1 (multiply-add = 2). */
  readonly flops: number;
  /** Measured wall time of one call in microseconds at batch 1; 0 when not measured. */
  readonly timeUs: number;
}

/** Sampler identity as far as a schedule is concerned. */
export interface SamplerInfo {
  /** `ddpm`, `ddim`, `dpmsolver++` … (diffusers naming, lower case). */
  readonly type: string;
  /** K: denoiser calls per action chunk. */
  readonly steps: number;
}

/** A file another file depends on: path relative to the referencing file, and its content hash. */
export interface FileRef {
  /** POSIX path relative to the directory of the referencing file. */
  readonly path: string;
  /** Lower-case hex sha256 of the referenced file's bytes. */
  readonly sha256: string;
}

/**
 * Profiling statistics of one block, aggregated over N observation samples.
 * Matrices are K×K, row-major, symmetric, with a unit diagonal for `simMean`.
 */
export interface BlockProfile {
  /** Canonical id `<layer>.<kind>`. */
  readonly id: BlockId;
  /** Decoder layer index. */
  readonly layer: number;
  /** Residual branch kind. */
  readonly kind: BlockKind;
  /** Mean over samples of the per-sample cosine matrix Sim_b^n (length K·K). */
  readonly simMean: Float32Array;
  /** Per-entry standard deviation over samples of Sim_b^n (length K·K; zeros when N = 1). */
  readonly simStd: Float32Array;
  /** ℓ_b: mean over samples of E_b^n, the mean pairwise L1 reuse-error estimate. */
  readonly l1Mean: number;
  /** Standard deviation over samples of E_b^n. */
  readonly l1Std: number;
  /** Cost of one call of this block. */
  readonly cost: Cost;
}

/** A `.bacprofile` in memory: everything the solver and the editor need from profiling. */
export interface Profile {
  /** The profiled model, relative to the profile file. */
  readonly model: FileRef;
  /** Sampler used while profiling (K = `sampler.steps`). */
  readonly sampler: SamplerInfo;
  /** Number of observation samples N aggregated. */
  readonly samples: number;
  /** Seed that chose the samples and the sampler noise. */
  readonly seed: number;
  /** Episode source the samples came from (path relative to the profile file; informative). */
  readonly episodes: string;
  /** ONNX Runtime execution provider used (`cpu`, `cuda`, `webgpu`). */
  readonly executionProvider: string;
  /** ISO-8601 time the profile was written. */
  readonly createdAt: string;
  /** Cost of the non-block rest of one denoiser call (c_0 in METHOD.md). */
  readonly baseCost: Cost;
  /**
   * Elements of one sample's block output (T·d in all) that each sample's reuse error E was
   * averaged over: all of them (exact) or a fresh seeded random subset per sample and block (an
   * unbiased estimate that costs a fraction of the sort). Absent in profiles written before it was
   * recorded, which used every element.
   */
  readonly l1Elements?: number;
  /** Per-block statistics in model order (layer ascending, then sa, ca, ffn). */
  readonly blocks: readonly BlockProfile[];
}

/** Solver parameters recorded in a schedule so that it can be re-solved identically. */
export interface SolverParams {
  /** Budget M: number of update steps per block given to ACS (1 ≤ M ≤ K). */
  readonly budget: number;
  /** BUA top-n; 0 disables BUA. */
  readonly topN: number;
  /** Whether step K−1 is forced into every block's set inside the DP (METHOD.md "Ours"). */
  readonly forceLast: boolean;
  /** Profile the schedule was solved from; null for hand-written or baseline schedules. */
  readonly profile: FileRef | null;
}

/** One block of a schedule: its update set with origins and its per-call cost. */
export interface ScheduleBlock extends BlockUpdates {
  /** Canonical id `<layer>.<kind>`. */
  readonly id: BlockId;
  /** Cost of one call of the block (copied from the profile so a schedule is self-contained). */
  readonly cost: Cost;
}

/**
 * A `.bacschedule` in memory, without its derived `summary` (recomputed on serialise, see
 * `summarizeSchedule`). Blocks are in model order.
 */
export interface Schedule {
  /** The model the schedule belongs to, relative to the schedule file. */
  readonly model: FileRef;
  /** Sampler identity; `steps` is K. */
  readonly sampler: SamplerInfo;
  /** How the schedule was produced. */
  readonly solver: SolverParams;
  /** Cost of the non-block rest of one denoiser call. */
  readonly baseCost: Cost;
  /** Per-block update sets, model order. */
  readonly blocks: readonly ScheduleBlock[];
}

/** Derived numbers shown in summaries, CodeLens and the editor. */
export interface ScheduleSummary {
  /** Σ_b |C(b)|. */
  readonly updates: number;
  /** K · number of blocks: the updates of a full run. */
  readonly fullUpdates: number;
  /** full/cached by FLOPs (the upper bound). */
  readonly speedupFlops: number;
  /** full/cached by measured time; null when no block time was measured. */
  readonly speedupTime: number | null;
}
