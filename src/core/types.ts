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

/** Update origins in precedence order: a step present under several is reported as the first. */
export const UPDATE_ORIGINS: readonly UpdateOrigin[] = ['acs', 'bua', 'manual'];

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
