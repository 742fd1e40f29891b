/**
 * The input and output names of the ONNX graphs BAC Studio writes, in one place: the builders,
 * the runners that feed them, and the calling convention written into compiled models must agree
 * on them.
 */

/** Gated model (`gate.ts`): the packed gate input, bool [nBlocks], true = recompute the block. */
export const UPDATE_INPUT = 'bac_update';
/** Gated model: the packed cache input, float32 [nBlocks, B, T, d], rows in model block order. */
export const CACHE_INPUT = 'bac_cache';
/** Gated model: the packed block-output output, float32 [nBlocks, B, T, d]; row i = block i's output. */
export const CACHE_OUTPUT = 'bac_cache_out';

/** Chunk graph (`chunk-graph.ts`) input: the observation condition [B, To, Do]. */
export const CHUNK_COND = 'cond';
/** Chunk graph input: x_K [B, T, Da]. */
export const CHUNK_INITIAL_SAMPLE = 'initial_sample';
/** Chunk graph input, when some step draws noise: [K, B, T, Da], row k is step k's noise. */
export const CHUNK_STEP_NOISE = 'step_noise';
/** Chunk graph output: the final normalised sample [B, T, Da]. */
export const CHUNK_OUTPUT = 'chunk';
