// Generated from schemas/bacschedule.schema.json by scripts/gen-schema-types.ts — do not edit;
// run `npm run gen:types` after changing the schema.

/** The sampler the schedule was solved for. */
export interface ScheduleFileSampler {
  /**
   * Sampler name in diffusers' naming, lower case (ddpm, ddim, …).
   * Schema: non-empty.
   */
  readonly type: string;
  /**
   * K: denoiser calls per action chunk. Steps are numbered 0 … K−1 in execution order.
   * Schema: integer, 1 … 100000.
   */
  readonly steps: number;
}

/** How the schedule was produced, so that it can be re-solved identically. */
export interface ScheduleFileSolver {
  /** The schedule method (bac solve --method): bac, acs (ACS without the Bubbling Union), unified (one ACS set for every block), uniform or grid. Absent means bac; a re-solve keeps it. */
  readonly method?: 'bac' | 'acs' | 'unified' | 'uniform' | 'grid';
  /**
   * ACS budget M: update steps per block (1 ≤ M ≤ K).
   * Schema: integer, 1 … 100000.
   */
  readonly budget: number;
  /**
   * Bubbling Union top-n; 0 disables BUA.
   * Schema: integer, ≥ 0.
   */
  readonly topN: number;
  /** Whether step K−1 is an update inside the ACS programme (counted in the budget). */
  readonly forceLast: boolean;
  /** The .bacprofile the schedule was solved from, or null for hand-written and baseline schedules. */
  readonly profile: null | FileRef;
}

/** Optional, legacy: derived numbers that earlier versions wrote on every save. Accepted when well-formed, ignored, and dropped on the next save; the speedups are computed from the blocks and baseCost wherever they are shown. */
export interface ScheduleFileSummary {
  /**
   * Σ over blocks of the number of update steps.
   * Schema: integer, ≥ 0.
   */
  readonly updates: number;
  /**
   * K × number of blocks: the updates of a full run.
   * Schema: integer, ≥ 0.
   */
  readonly fullUpdates: number;
  /**
   * Expected speedup full/cached by FLOPs (an upper bound).
   * Schema: ≥ 0.
   */
  readonly speedupFlops: number | null;
  /**
   * Expected speedup full/cached by measured time; null when no block time was measured.
   * Schema: ≥ 0.
   */
  readonly speedupTime: number | null;
}

/** Optional: the last measured speed of this schedule (bac eval): its chunk graph against the faster full-model runner, on one provider and device; valid while tableHash matches the update table. */
export interface ScheduleFileMeasured {
  /**
   * Execution provider (cpu, cuda, webgpu).
   * Schema: non-empty.
   */
  readonly provider: string;
  /**
   * The device in words.
   * Schema: non-empty.
   */
  readonly device: string;
  /** Schema: integer, ≥ 1. */
  readonly batch: number;
  /**
   * Baseline chunk time / schedule chunk time.
   * Schema: ≥ 0.
   */
  readonly speedup: number;
  /**
   * Median ms of one action chunk with the schedule.
   * Schema: ≥ 0.
   */
  readonly chunkMs: number;
  /**
   * Median ms of one baseline chunk.
   * Schema: ≥ 0.
   */
  readonly fullChunkMs: number;
  /**
   * When, ISO 8601 UTC.
   * Schema: non-empty.
   */
  readonly at: string;
  /**
   * Fingerprint of the update table measured.
   * Schema: non-empty.
   */
  readonly tableHash: string;
}

export interface ScheduleFileBlock {
  readonly id: BlockId;
  /** Update steps chosen by the ACS dynamic programme. */
  readonly acs: Steps;
  /** Update steps added by the Bubbling Union Algorithm (error correction). */
  readonly bua: Steps;
  /** Update steps added by hand, or by bac tune on top of its start. */
  readonly manual: Steps;
  /** Steps removed by hand or by bac tune (never 0); re-solving honours the removal. */
  readonly manualOff: Steps;
  /**
   * FLOPs of one call of the block.
   * Schema: integer, ≥ 0.
   */
  readonly flops: number;
  /**
   * Measured time of one call in µs; 0 when not measured.
   * Schema: ≥ 0.
   */
  readonly timeUs: number;
}

/** A Block-wise Adaptive Caching schedule: for every block of a transformer diffusion policy, the denoising steps at which it is recomputed (all other steps reuse its cache). Written by `bac solve` and the BAC Studio editor. Message annotations (x-expected, x-noun, x-wrong) and the cross-field rules of schemas/bac-rules.json complete the contract; both BAC Studio and bac_runtime validate from these two files. */
export interface ScheduleFile {
  /** File format name. */
  readonly format: 'bacschedule';
  /** File format version. This BAC Studio reads version 1 only. */
  readonly version: 1;
  /** The ONNX model the schedule belongs to: path relative to this file, and its sha256. */
  readonly model: FileRef;
  /** The sampler the schedule was solved for. */
  readonly sampler: ScheduleFileSampler;
  /** How the schedule was produced, so that it can be re-solved identically. */
  readonly solver: ScheduleFileSolver;
  /** Cost of the rest of one denoiser call (embeddings, condition encoder, head): c_0. */
  readonly baseCost: Cost;
  /** Optional, legacy: derived numbers that earlier versions wrote on every save. Accepted when well-formed, ignored, and dropped on the next save; the speedups are computed from the blocks and baseCost wherever they are shown. */
  readonly summary?: ScheduleFileSummary;
  /** Optional: the last measured speed of this schedule (bac eval): its chunk graph against the faster full-model runner, on one provider and device; valid while tableHash matches the update table. */
  readonly measured?: ScheduleFileMeasured;
  /**
   * Per block, in model order (layer ascending, then sa, ca, ffn), its update steps by origin. A step is an update when it is in acs, bua or manual; step 0 must be one.
   * Schema: non-empty.
   */
  readonly blocks: readonly ScheduleFileBlock[];
}

export interface FileRef {
  /**
   * POSIX path relative to this file.
   * Schema: non-empty.
   */
  readonly path: string;
  /**
   * Lower-case hex sha256 of the file.
   * Schema: pattern `^[0-9a-f]{64}$`.
   */
  readonly sha256: string;
}

export interface Cost {
  /**
   * Floating-point operations of one call (multiply-add = 2).
   * Schema: integer, ≥ 0.
   */
  readonly flops: number;
  /**
   * Measured time of one call in µs; 0 when not measured.
   * Schema: ≥ 0.
   */
  readonly timeUs: number;
}

/**
 * Denoising steps, strictly increasing, each in 0 … K−1.
 * Schema: items unique.
 */
export type Steps = readonly number[];

/**
 * Block id <layer>.<kind>: kind sa (self-attention), ca (cross-attention) or ffn (feed-forward).
 * Schema: pattern `^(0|[1-9][0-9]{0,5})\.(sa|ca|ffn)$`.
 */
export type BlockId = string;
