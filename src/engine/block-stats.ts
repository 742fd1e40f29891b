import { Worker } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { meanPairwiseL1FromColumns, similarityFromGram, type SampleBlockStats } from '../core/stats';
import { DataType, encodeModel, makeGraph, makeNode, tensorValueInfo, attrInts } from './onnx/proto';

/**
 * Fast per-sample block statistics for profiling. The reference (`sampleBlockStats` in core) is
 * O(K²·D) in plain JS; here the Gram matrices of a whole batch come from ONE ONNX Runtime MatMul
 * (≈ 30× faster than JS), and the mean pairwise L1 — O(m·K log K) by sorting each of m element
 * columns — runs on a worker thread so it overlaps the next batch's denoiser calls.
 *
 * The L1 is exact when m = D. Sorting all D = T·d columns costs more than the sample's denoiser
 * calls (≈ 120 ms per sample for the demo's 24 × 1 280 columns, K = 100, measured), so by default
 * the profiler passes a fresh seeded random subset of m columns per sample and block: E is a mean
 * over elements, so the subset mean is an unbiased estimate of it, and because every sample draws
 * its own subset the error of ℓ (the mean over N samples) shrinks like 1/√(N·m).
 *
 * Layout of a batch: `X[g][k][e]`, g = block-major sample rows (g = block·B + s), k = step, e =
 * element of the flattened [T, d] block output; G·K·D float32.
 */

/** Builds the Gram graph: gram[g] = X[g] · X[g]ᵀ for X [G, K, D]. */
function gramModel(): Uint8Array {
  const graph = makeGraph('bac_gram');
  graph.input.push(tensorValueInfo('X', DataType.FLOAT, ['G', 'K', 'D']));
  graph.output.push(tensorValueInfo('gram', DataType.FLOAT, ['G', 'K', 'K']));
  graph.node.push(makeNode('Transpose', ['X'], ['XT'], 'transpose', [attrInts('perm', [0, 2, 1])]));
  graph.node.push(makeNode('MatMul', ['X', 'XT'], ['gram'], 'gram'));
  return encodeModel({
    irVersion: 8,
    producerName: 'bac-studio',
    graph,
    opsetImport: [{ domain: '', version: 17 }],
    metadataProps: [],
  });
}

// The worker is evaluated from source so it needs no separate bundle entry; it embeds core's
// `meanPairwiseL1FromColumns`, which references nothing outside its own body.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const meanPairwiseL1FromColumns = ${meanPairwiseL1FromColumns.toString()};
parentPort.on('message', ({ id, X, G, K, D, subsets, m }) => {
  const out = new Float64Array(G);
  const columns = new Float32Array(K * m);
  for (let g = 0; g < G; g++) {
    const base = g * K * D;
    if (subsets === null) {
      for (let k = 0; k < K; k++) for (let e = 0; e < D; e++) columns[e * K + k] = X[base + k * D + e];
    } else {
      for (let j = 0; j < m; j++) {
        const e = subsets[g * m + j];
        for (let k = 0; k < K; k++) columns[j * K + k] = X[base + k * D + e];
      }
    }
    out[g] = meanPairwiseL1FromColumns(columns, K, m);
  }
  parentPort.postMessage({ id, out }, [out.buffer]);
});
`;

/** Computes batch statistics; create once per profile, `close()` when done. */
export class BatchStatsComputer {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: Float64Array) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly ort: typeof Ort,
    private readonly gram: Ort.InferenceSession,
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.on('message', ({ id, out }: { id: number; out: Float64Array }) => {
      this.pending.get(id)?.resolve(out);
      this.pending.delete(id);
    });
    this.worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  /** Opens the Gram session (CPU, one thread: the worker uses the other core) and the L1 worker. */
  static async create(ort: typeof Ort): Promise<BatchStatsComputer> {
    const gram = await ort.InferenceSession.create(gramModel(), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    return new BatchStatsComputer(ort, gram);
  }

  /**
   * Starts the statistics of one batch. The Gram part runs before this resolves (inside ORT); the
   * L1 part is then running on the worker, and the returned `finish` resolves to the G per-row
   * results — so the caller can run the next batch's denoiser calls before awaiting it.
   * `X` is transferred to the worker: do not use it after the call.
   * @param subsets null for the exact L1 over all D elements, else G·m element indices (row g's
   *   are `subsets[g·m … g·m + m − 1]`, each in 0 … D−1): row g's L1 is averaged over those only.
   */
  async start(
    X: Float32Array,
    G: number,
    K: number,
    D: number,
    subsets: Uint32Array | null = null,
  ): Promise<() => Promise<SampleBlockStats[]>> {
    const m = subsets === null ? D : subsets.length / G;
    if (!Number.isInteger(m) || m < 1 || m > D)
      throw new RangeError(`element subsets: ${subsets?.length} indices for ${G} rows of ${D}`);
    const result = await this.gram.run({ X: new this.ort.Tensor('float32', X, [G, K, D]) });
    const gram = result['gram']!.data as Float32Array;
    const sims: Float64Array[] = [];
    for (let g = 0; g < G; g++) sims.push(similarityFromGram(gram.subarray(g * K * K, (g + 1) * K * K), K));
    const id = this.nextId++;
    const l1 = new Promise<Float64Array>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.postMessage({ id, X, G, K, D, subsets, m }, [X.buffer as ArrayBuffer]);
    return async () => {
      const l1s = await l1;
      return sims.map((sim, g) => ({ sim, l1: l1s[g]! }));
    };
  }

  /** Stops the worker and releases the session. */
  async close(): Promise<void> {
    await this.worker.terminate();
    await this.gram.release();
  }
}
