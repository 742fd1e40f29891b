import { Worker } from 'node:worker_threads';
import { meanPairwiseL1FromColumns, similarityFromGram, type SampleBlockStats } from '../core/stats';
import { DataType, encodeModel, makeGraph, makeNode, tensorValueInfo, attrInts } from './onnx/proto';

/**
 * Fast per-sample block statistics for profiling, computed on a worker thread so that they overlap
 * the next batch's denoiser calls on the main thread. The reference (`sampleBlockStats` in core) is
 * O(K²·D) in plain JS; here the Gram matrices of a whole batch come from ONE ONNX Runtime MatMul
 * in the worker's own single-threaded session (≈ 30× faster than JS), and the mean pairwise L1 —
 * O(m·K log K) by sorting each of m element columns — follows in plain JS.
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
// `similarityFromGram` and `meanPairwiseL1FromColumns`, which reference nothing outside their own
// bodies, and loads onnxruntime-node by the absolute path the parent resolved (an eval'd worker
// resolves bare module names from the process's working directory, not from this bundle).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortEntry);
const similarityFromGram = ${similarityFromGram.toString()};
const meanPairwiseL1FromColumns = ${meanPairwiseL1FromColumns.toString()};
const session = ort.InferenceSession.create(workerData.gramModel, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
parentPort.on('message', async ({ id, X, G, K, D, subsets, m }) => {
  try {
    const result = await (await session).run({ X: new ort.Tensor('float32', X, [G, K, D]) });
    const gram = result.gram.data;
    const sims = [];
    for (let g = 0; g < G; g++) sims.push(similarityFromGram(gram.subarray(g * K * K, (g + 1) * K * K), K));
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
    parentPort.postMessage({ id, out, sims }, [out.buffer, ...sims.map((s) => s.buffer)]);
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
`;

/** One batch's result from the worker: per row the similarity matrix and the L1. */
interface WorkerReply {
  readonly id: number;
  readonly out?: Float64Array;
  readonly sims?: Float64Array[];
  readonly error?: string;
}

/** Computes batch statistics; create once per profile, `close()` when done. */
export class BatchStatsComputer {
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (v: SampleBlockStats[]) => void; reject: (e: Error) => void }
  >();

  private constructor(private readonly worker: Worker) {
    this.worker.on('message', ({ id, out, sims, error }: WorkerReply) => {
      const p = this.pending.get(id);
      this.pending.delete(id);
      if (!p) return;
      if (error !== undefined || !out || !sims) p.reject(new Error(`block statistics worker: ${error ?? 'no result'}`));
      else p.resolve(sims.map((sim, g) => ({ sim, l1: out[g]! })));
    });
    this.worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
    // An exit with work outstanding (e.g. the worker ran out of memory) must not leave the
    // profiler waiting forever.
    this.worker.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`block statistics worker exited (code ${code})`));
      this.pending.clear();
    });
  }

  /** Starts the worker with its Gram session (CPU, one thread: the main thread runs the model). */
  static async create(): Promise<BatchStatsComputer> {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ortEntry: require.resolve('onnxruntime-node'), gramModel: gramModel() },
    });
    return new BatchStatsComputer(worker);
  }

  /**
   * Starts the statistics of one batch on the worker and returns at once; the returned `finish`
   * resolves to the G per-row results — so the caller can run the next batch's denoiser calls
   * before awaiting it. `X` is transferred to the worker: do not use it after the call.
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
    const id = this.nextId++;
    const result = new Promise<SampleBlockStats[]>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // A rejection before the caller awaits `finish` must not count as unhandled.
    result.catch(() => undefined);
    this.worker.postMessage({ id, X, G, K, D, subsets, m }, [X.buffer as ArrayBuffer]);
    return () => result;
  }

  /** Stops the worker (its session goes with it). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
