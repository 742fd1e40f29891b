import { BacError } from './errors';

/**
 * Similarity statistics of one block's outputs over the K steps of one sampler run, and their
 * streaming aggregation over observation samples (docs/method.md "Profiling").
 */

/** Statistics of one block for one observation sample. */
export interface SampleBlockStats {
  /** K×K row-major cosine similarity Sim^n[i][j] = cos(X^(i), X^(j)); symmetric, unit diagonal. */
  readonly sim: Float64Array;
  /** E^n: mean over pairs i < j of mean_elements |X^(i) − X^(j)|. 0 when K = 1. */
  readonly l1: number;
}

/**
 * Cosine similarity matrix from a K×K Gram matrix: Sim[i][j] = G[i][j] / √(G[i][i]·G[j][j]),
 * clamped to [−1, 1], unit diagonal. Cosine of two zero vectors is 1 (identical), of a zero and a
 * non-zero vector 0. O(K²).
 */
export function similarityFromGram(gram: ArrayLike<number>, K: number): Float64Array {
  const sim = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    const ni = Math.sqrt(Math.max(0, gram[i * K + i]!));
    for (let j = 0; j < K; j++) {
      const nj = Math.sqrt(Math.max(0, gram[j * K + j]!));
      sim[i * K + j] =
        i === j || (ni === 0 && nj === 0)
          ? 1
          : ni === 0 || nj === 0
            ? 0
            : Math.min(1, Math.max(-1, gram[i * K + j]! / (ni * nj)));
    }
  }
  return sim;
}

/**
 * E = mean over pairs i < j of mean_elements |X^(i) − X^(j)|, without visiting the pairs: for each
 * element, sort its K values descending (v_0 ≥ … ≥ v_{K−1}); then Σ_{i<j} |v_i − v_j| =
 * Σ_r v_r · (K − 1 − 2r). O(D · K log K) instead of O(K² · D). 0 when K = 1.
 * @param columns element-major values: `columns[e * K + k]` is element e at step k (not modified).
 */
export function meanPairwiseL1FromColumns(columns: Float32Array, K: number, D: number): number {
  if (K < 2 || D === 0) return 0;
  let total = 0;
  // Copying into one scratch array and sorting it is faster in V8 than sorting subarray views.
  const col = new Float32Array(K);
  for (let e = 0; e < D; e++) {
    for (let k = 0; k < K; k++) col[k] = columns[e * K + k]!;
    col.sort();
    // Ascending order: weight of rank r is 2r − (K − 1).
    let s = 0;
    for (let r = 0; r < K; r++) s += col[r]! * (2 * r - (K - 1));
    total += s;
  }
  return total / (D * ((K * (K - 1)) / 2));
}

/** Aggregated statistics of one block over N samples. */
export interface AggregatedBlockStats {
  /** Number of samples aggregated. */
  readonly count: number;
  /** Per-entry mean of Sim^n (K×K, row-major). */
  readonly simMean: Float32Array;
  /** Per-entry population standard deviation of Sim^n (zeros when N = 1). */
  readonly simStd: Float32Array;
  /** Mean of E^n. */
  readonly l1Mean: number;
  /** Population standard deviation of E^n. */
  readonly l1Std: number;
}

/**
 * Streams per-sample statistics of one block into means and spreads without keeping the samples
 * (Welford's update, numerically stable). Memory O(K²) regardless of N; each `add` is O(K²).
 */
export class BlockStatsAccumulator {
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private l1MeanAcc = 0;
  private l1M2 = 0;
  private n = 0;

  /** @param K number of sampler steps; every added matrix must be K×K. */
  constructor(readonly K: number) {
    if (!Number.isInteger(K) || K < 1) throw new BacError(`steps K = ${K} is invalid, expected an integer ≥ 1`);
    this.mean = new Float64Array(K * K);
    this.m2 = new Float64Array(K * K);
  }

  /** Samples added so far. */
  get count(): number {
    return this.n;
  }

  /**
   * Adds one sample's statistics.
   * @throws BacError when the matrix is not K×K or holds a non-finite value.
   */
  add(sample: SampleBlockStats): void {
    const { sim, l1 } = sample;
    if (sim.length !== this.K * this.K) {
      throw new BacError(`similarity matrix has ${sim.length} entries, expected ${this.K}×${this.K}`);
    }
    if (!Number.isFinite(l1)) throw new BacError(`reuse error ${l1} is not finite`);
    this.n++;
    const n = this.n;
    for (let i = 0; i < sim.length; i++) {
      const x = sim[i]!;
      if (!Number.isFinite(x)) throw new BacError(`similarity entry ${i} is ${x}, expected finite`);
      const d = x - this.mean[i]!;
      this.mean[i]! += d / n;
      this.m2[i]! += d * (x - this.mean[i]!);
    }
    const d = l1 - this.l1MeanAcc;
    this.l1MeanAcc += d / n;
    this.l1M2 += d * (l1 - this.l1MeanAcc);
  }

  /**
   * The aggregate so far.
   * @throws BacError when no sample was added.
   */
  result(): AggregatedBlockStats {
    if (this.n === 0) throw new BacError('no samples were aggregated, expected at least one');
    const simStd = new Float32Array(this.m2.length);
    for (let i = 0; i < simStd.length; i++) simStd[i] = Math.sqrt(Math.max(0, this.m2[i]! / this.n));
    return {
      count: this.n,
      simMean: Float32Array.from(this.mean),
      simStd,
      l1Mean: this.l1MeanAcc,
      l1Std: Math.sqrt(Math.max(0, this.l1M2 / this.n)),
    };
  }
}
