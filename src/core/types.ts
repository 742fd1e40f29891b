/**
 * The vocabulary shared by every layer of BAC Studio: blocks, update origins, schedules and
 * profiles as in-memory values. Pure data; no I/O. See `docs/method.md` for the meaning of each term.
 *
 * Types that describe what a file holds are aliases of the types generated from `schemas/`
 * (src/core/generated, `npm run gen:types`), so the schema is their one definition. The
 * in-memory shapes that differ from the files (a block's `cost` object, no `summary`, profile
 * matrices as Float32Array) stay hand-written here; the readers and writers that map between the
 * two are type-checked against the generated file types.
 */
import type { ProfileHeader, ProfileHeaderBlock } from './generated/bacprofile-header.types';
import type * as ScheduleFileTypes from './generated/bacschedule.types';

/** The three residual branches of a pre-norm transformer decoder layer (from the profile header schema). */
export type BlockKind = ProfileHeaderBlock['kind'];

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
export type BlockId = ScheduleFileTypes.BlockId;

/**
 * A block named both ways, as every per-block record of the model, profile, solver and editor starts.
 * Invariant: `id` is `blockId` of `layer` and `kind`.
 */
export interface IdentifiedBlock extends BlockRef {
  /** Canonical id `<layer>.<kind>`. */
  readonly id: BlockId;
}

/** Why a step is an update of a block: the solver's ACS, BUA's error correction, or a person. */
export type UpdateOrigin = 'acs' | 'bua' | 'manual';

/**
 * Update set of one block with the origin of every update (the step lists of a schedule file's block).
 * Invariants: arrays are strictly increasing, pairwise disjoint, every step in 0 … K−1;
 * `acs ∪ bua ∪ manual` contains step 0; `manualOff` is disjoint from the three and never holds 0.
 * `acs` is ACS's choice after `manualOff` was subtracted; `bua` holds only steps ACS did not choose.
 */
export type BlockUpdates = Pick<ScheduleFileTypes.ScheduleFileBlock, 'acs' | 'bua' | 'manual' | 'manualOff'>;

/** Per-call cost of one block (or of the non-block rest of a denoiser call), at batch 1. */
export type Cost = ScheduleFileTypes.Cost;

/** Sampler identity as far as a schedule is concerned: diffusers' name (`ddpm`, `ddim`, `dpmsolver++` …) and K. */
export type SamplerInfo = ScheduleFileTypes.ScheduleFileSampler;

/** A file another file depends on: path relative to the referencing file, and its content hash. */
export type FileRef = ScheduleFileTypes.FileRef;

/**
 * Profiling statistics of one block, aggregated over N observation samples.
 * Matrices are K×K, row-major, symmetric, with a unit diagonal for `simMean`.
 */
export interface BlockProfile extends IdentifiedBlock {
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

/**
 * A `.bacprofile` in memory: everything the solver and the editor need from profiling. Its scalar
 * fields are the header's (generated); `blocks` is hand-written in-memory data with the matrices
 * decoded, and the header's `arrays` table (where they lie in the file) is not kept.
 * `l1Elements`: the elements of one sample's block output (T·d in all) that each sample's reuse
 * error E was averaged over, all of them (exact) or a fresh seeded random subset per sample and
 * block (an unbiased estimate that costs a fraction of the sort).
 */
export interface Profile extends Omit<ProfileHeader, 'blocks' | 'arrays'> {
  /** Per-block statistics in model order (layer ascending, then sa, ca, ffn). */
  readonly blocks: readonly BlockProfile[];
}

/** Solver parameters recorded in a schedule so that it can be re-solved identically (`forceLast`: docs/method.md "Ours"). */
export type SolverParams = ScheduleFileTypes.ScheduleFileSolver;

/**
 * One block of a schedule: its update set with origins and its per-call cost. Hand-written
 * in-memory shape: the file's block (`ScheduleFileBlock`) holds `flops`/`timeUs` flat instead of `cost`.
 */
export interface ScheduleBlock extends BlockUpdates {
  /** Canonical id `<layer>.<kind>`. */
  readonly id: BlockId;
  /** Cost of one call of the block (copied from the profile so a schedule is self-contained). */
  readonly cost: Cost;
}

/**
 * A `.bacschedule` in memory (a legacy file's derived `summary` is not kept, see
 * `summarizeSchedule`). Blocks are in model order. Hand-written in-memory shape; the file is
 * `ScheduleFile` (generated), and schedule-format.ts maps between the two.
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
  /** The last measured speed of this schedule (`bac eval`); absent when never measured. */
  readonly measured?: MeasuredSpeed;
}

/**
 * A speed measured by running the schedule's chunk graph against the faster full-model runner,
 * on one provider and device (the schema's `measured`). Valid only while the update table is the
 * one measured: `tableHash` (`updateTableHash` in `core/measured-speed.ts`) tells.
 */
export type MeasuredSpeed = ScheduleFileTypes.ScheduleFileMeasured;

/**
 * Derived numbers shown in summaries, CodeLens and the editor. Hand-written: unlike the file's
 * `summary`, `speedupFlops` is never null here and the ratios are not rounded.
 */
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
