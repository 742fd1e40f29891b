import { BacError } from '../../../src/core/errors';
import { meanPairwiseL1FromColumns, similarityFromGram, type SampleBlockStats } from '../../../src/core/stats';

/**
 * The plain, exact reference of one block's per-sample statistics (O(K²·D) in JS), against which
 * the engine's batched statistics (`src/engine/block-stats.ts`: ONNX Runtime Gram matrices on a
 * worker, subset ℓ) are tested. Only tests use it.
 */

/**
 * Checks K ≥ 1 outputs of equal length D with finite values; returns D.
 * @throws BacError naming the step and element.
 */
function checkOutputs(outputs: readonly Float32Array[], what: string): number {
  const K = outputs.length;
  if (K === 0) throw new BacError(`${what}: no step outputs given, expected K ≥ 1 arrays`);
  const D = outputs[0]!.length;
  for (let i = 0; i < K; i++) {
    const x = outputs[i]!;
    if (x.length !== D) {
      throw new BacError(`${what}: step ${i} output has ${x.length} elements, expected ${D} like step 0`);
    }
    for (let e = 0; e < D; e++) {
      const v = x[e]!;
      if (!Number.isFinite(v)) throw new BacError(`${what}: step ${i} output element ${e} is ${v}, expected finite`);
    }
  }
  return D;
}

/**
 * The K×K Gram matrix G[i][j] = ⟨X^(i), X^(j)⟩ (row-major, symmetric). O(K² · D).
 * The engine computes the same matrix with one ONNX Runtime MatMul.
 */
export function gramMatrix(outputs: readonly Float32Array[]): Float64Array {
  const K = outputs.length;
  const gram = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    const xi = outputs[i]!;
    for (let j = i; j < K; j++) {
      const xj = outputs[j]!;
      let dot = 0;
      for (let e = 0; e < xi.length; e++) dot += xi[e]! * xj[e]!;
      gram[i * K + j] = dot;
      gram[j * K + i] = dot;
    }
  }
  return gram;
}

/** Reorders K step outputs of length D into element-major columns for {@link meanPairwiseL1FromColumns}. O(K · D). */
export function toColumns(outputs: readonly Float32Array[]): Float32Array {
  const K = outputs.length;
  const D = K === 0 ? 0 : outputs[0]!.length;
  const columns = new Float32Array(K * D);
  for (let k = 0; k < K; k++) {
    const x = outputs[k]!;
    for (let e = 0; e < D; e++) columns[e * K + k] = x[e]!;
  }
  return columns;
}

/**
 * Computes a block's per-sample statistics from its K flattened outputs (all of length D): the
 * reference implementation, pure and exact. O(K² · D) for the cosine matrix, O(D · K log K) for E.
 * @throws BacError when K = 0, the lengths differ, or an output holds a non-finite value.
 */
export function sampleBlockStats(outputs: readonly Float32Array[], what = 'block'): SampleBlockStats {
  const D = checkOutputs(outputs, what);
  const K = outputs.length;
  return {
    sim: similarityFromGram(gramMatrix(outputs), K),
    l1: meanPairwiseL1FromColumns(toColumns(outputs), K, D),
  };
}
