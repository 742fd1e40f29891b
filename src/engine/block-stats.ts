import { Worker } from 'node:worker_threads';
import { meanPairwiseL1FromColumns, similarityFromGram, type SampleBlockStats } from '../core/stats';
import { DataType, encodeModel, makeGraph, makeNode, tensorValueInfo, attrInts } from './onnx/proto';

/**
 * Fast per-sample block statistics for profiling, computed on a worker thread so that they overlap
 * the next batch's denoiser calls on the main thread. The plain reference
 * (`test/unit/helpers/reference-stats.ts`) is O(K²·D) in JS; here the Gram matrices come from one
 * batched ONNX Runtime MatMul per block in the worker's own single-threaded session, and the mean
 * pairwise L1 — O(m·K log K) by sorting each of m element columns — follows in plain JS.
 *
 * The L1 is exact when m = D. Sorting all D = T·d columns costs more than the sample's denoiser
 * calls (24 blocks × 1 280 columns × K = 100 for the demo policy), so by default
 * the profiler passes a fresh seeded random subset of m columns per sample and block: E is a mean
 * over elements, so the subset mean is an unbiased estimate of it, and because every sample draws
 * its own subset the error of ℓ (the mean over N samples) shrinks like 1/√(N·m).
 *
 * Layout of a batch: `X[j][k][s][e]` — block j, step k, sample s, element e of the flattened
 * [T, d] block output; J·K·B·D float32. One denoiser call's output of block j is then one
 * contiguous B·D run that ORT writes in place (scattered per-sample copies into a fresh 100 MB
 * buffer per batch were the largest cost after the model itself). Results come back per row
 * g = j·B + s.
 * Buffers travel to the worker and back (transferred, never copied) and are reused.
 */

/**
 * Builds the Gram graph of one block: gram[s] = X[:,s,:] · X[:,s,:]ᵀ for X [K, B, D]. Run block by
 * block, so its transposed copies stay a few MB instead of the whole batch's ≈ 100 MB twice.
 */
function gramModel(): Uint8Array {
  const graph = makeGraph('bac_gram');
  graph.input.push(tensorValueInfo('X', DataType.FLOAT, ['K', 'B', 'D']));
  graph.output.push(tensorValueInfo('gram', DataType.FLOAT, ['B', 'K', 'K']));
  graph.node.push(makeNode('Transpose', ['X'], ['XS'], 'by_sample', [attrInts('perm', [1, 0, 2])]));
  graph.node.push(makeNode('Transpose', ['XS'], ['XT'], 'transpose', [attrInts('perm', [0, 2, 1])]));
  graph.node.push(makeNode('MatMul', ['XS', 'XT'], ['gram'], 'gram'));
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
parentPort.on('message', async ({ id, X, G, B, K, D, subsets, m }) => {
  try {
    const J = G / B;
    const blockLength = K * B * D;
    const scratch = new Float32Array(blockLength);
    const sims = [];
    for (let j = 0; j < J; j++) {
      scratch.set(X.subarray(j * blockLength, (j + 1) * blockLength));
      const gram = (await (await session).run({ X: new ort.Tensor('float32', scratch, [K, B, D]) })).gram.data;
      for (let s = 0; s < B; s++) sims.push(similarityFromGram(gram.subarray(s * K * K, (s + 1) * K * K), K));
    }
    const out = new Float64Array(G);
    const columns = new Float32Array(K * m);
    for (let g = 0; g < G; g++) {
      // Row g = block·B + sample: element e of step k sits at ((block·K + k)·B + sample)·D + e.
      const blockBase = Math.floor(g / B) * K * B * D + (g % B) * D;
      const stepStride = B * D;
      if (subsets === null) {
        for (let k = 0; k < K; k++) {
          const at = blockBase + k * stepStride;
          for (let e = 0; e < D; e++) columns[e * K + k] = X[at + e];
        }
      } else {
        for (let i = 0; i < m; i++) {
          const at = blockBase + subsets[g * m + i];
          for (let k = 0; k < K; k++) columns[i * K + k] = X[at + k * stepStride];
        }
      }
      out[g] = meanPairwiseL1FromColumns(columns, K, m);
    }
    parentPort.postMessage({ id, out, sims, X }, [out.buffer, X.buffer, ...sims.map((s) => s.buffer)]);
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
`;

/** One batch's result from the worker: per row the similarity matrix and the L1. */
interface WorkerReply {
  readonly id: number;
  /** The batch's buffer, handed back for reuse. */
  readonly X?: Float32Array;
  readonly out?: Float64Array;
  readonly sims?: Float64Array[];
  readonly error?: string;
}

/** Computes batch statistics; create once per profile, `close()` when done. */
export class BatchStatsComputer {
  private nextId = 0;
  /** Batch buffers returned by the worker, ready for reuse. */
  private readonly spare: Float32Array[] = [];
  private readonly pending = new Map<
    number,
    { resolve: (v: SampleBlockStats[]) => void; reject: (e: Error) => void }
  >();

  private constructor(private readonly worker: Worker) {
    this.worker.on('message', ({ id, out, sims, error, X }: WorkerReply) => {
      if (X) this.spare.push(X);
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
   * A buffer of `length` floats for the next batch: a returned one when one of that size is free
   * (its pages are already mapped), else a new one. A returned buffer still holds an earlier
   * batch: the caller must write every element (the profiler writes all J·K·B·D).
   */
  buffer(length: number): Float32Array {
    const i = this.spare.findIndex((b) => b.length === length);
    return i < 0 ? new Float32Array(length) : this.spare.splice(i, 1)[0]!;
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
    B: number,
    K: number,
    D: number,
    subsets: Uint32Array | null = null,
  ): Promise<() => Promise<SampleBlockStats[]>> {
    if (G % B !== 0 || X.length !== G * K * D)
      throw new RangeError(`batch of ${X.length} values is not ${G}·${K}·${D} with B = ${B}`);
    const m = subsets === null ? D : subsets.length / G;
    if (!Number.isInteger(m) || m < 1 || m > D)
      throw new RangeError(`element subsets: ${subsets?.length} indices for ${G} rows of ${D}`);
    const id = this.nextId++;
    const result = new Promise<SampleBlockStats[]>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // A rejection before the caller awaits `finish` must not count as unhandled.
    result.catch(() => undefined);
    this.worker.postMessage({ id, X, G, B, K, D, subsets, m }, [X.buffer as ArrayBuffer]);
    return () => result;
  }

  /** Stops the worker (its session goes with it). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
