// Generated from schemas/bacprofile-header.schema.json by scripts/gen-schema-types.ts — do not edit;
// run `npm run gen:types` after changing the schema.

import type { BlockId, Cost, FileRef } from './bacschedule.types';

/** The sampler the profile was measured with. */
export interface ProfileHeaderSampler {
  /**
   * Sampler name in diffusers' naming, lower case.
   * Schema: non-empty.
   */
  readonly type: string;
  /**
   * K: denoiser calls per action chunk.
   * Schema: integer, 1 … 100000.
   */
  readonly steps: number;
}

export interface ProfileHeaderBlock {
  readonly id: BlockId;
  /** Schema: integer, ≥ 0. */
  readonly layer: number;
  readonly kind: 'sa' | 'ca' | 'ffn';
  /** Schema: ≥ 0. */
  readonly l1Mean: number;
  /** Schema: ≥ 0. */
  readonly l1Std: number;
  readonly cost: Cost;
}

export interface ProfileHeaderArray {
  /** Schema: non-empty. */
  readonly name: string;
  /** Schema: integer, ≥ 0. */
  readonly offset: number;
  /** Schema: integer, ≥ 0. */
  readonly length: number;
}

/** The UTF-8 JSON header of a .bacprofile (the binary layout around it is described in src/core/profile-format.ts). Cross-field rules: schemas/bac-rules.json, section profileHeader. */
export interface ProfileHeader {
  /** The profiled ONNX model: path relative to the profile, and its sha256. */
  readonly model: FileRef;
  /** The sampler the profile was measured with. */
  readonly sampler: ProfileHeaderSampler;
  /**
   * Observation samples profiled.
   * Schema: integer, ≥ 1.
   */
  readonly samples: number;
  /**
   * Seed of the sample choice and the noise.
   * Schema: integer, ≥ 0.
   */
  readonly seed: number;
  /** The episodes the samples were cut from, relative to the profile. */
  readonly episodes: string;
  /**
   * The ONNX Runtime execution provider that ran the model.
   * Schema: non-empty.
   */
  readonly executionProvider: string;
  /**
   * When the profile was written (RFC 3339, e.g. 2026-01-31T12:00:00.000Z).
   * Schema: format date-time.
   */
  readonly createdAt: string;
  readonly baseCost: Cost;
  /**
   * Elements per sample the L1 statistics averaged over; absent in older files (every element).
   * Schema: integer, ≥ 1.
   */
  readonly l1Elements?: number;
  /**
   * Per-step time of the chunk graph that caching cannot skip (µs, on the blocks' time scale), fitted at profiling time to the ratio of the minimal chunk graph (every block at step 0 only) to the full one; schedules use it as the time of baseCost. Absent in older files or when unmeasurable (baseCost.timeUs, the gated runner's per-call base, is used).
   * Schema: ≥ 0.
   */
  readonly chunkStepTimeUs?: number;
  /** Per block, in model order, its scalars; its matrices are in the payload (see arrays). */
  readonly blocks: readonly ProfileHeaderBlock[];
  /** Where each block's simMean and simStd upper triangles lie in the payload. */
  readonly arrays: readonly ProfileHeaderArray[];
}
