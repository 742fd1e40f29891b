import { BacError } from './errors';

/**
 * Similarity statistics of one block's outputs over the K steps of one sampler run, and their
 * streaming aggregation over observation samples (METHOD.md "Profiling").
 */

/** Statistics of one block for one observation sample. */
export interface SampleBlockStats {
  /** K×K row-major cosine similarity Sim^n[i][j] = cos(X^(i), X^(j)); symmetric, unit diagonal. */
  readonly sim: Float64Array;
  /** E^n: mean over pairs i < j of mean_elements |X^(i) − X^(j)|. 0 when K = 1. */
  readonly l1: number;
}

/**
 * Computes a block's per-sample statistics from its K flattened outputs (all of length D).
 * Cosine of two zero vectors is defined as 1 (identical), of a zero and a non-zero vector as 0.
 * O(K² · D) time, O(K²) extra memory; one pass over each pair computes both statistics.
 * @throws BacError when K = 0, the lengths differ, or an output holds a non-finite value.
 */
export function sampleBlockStats(outputs: readonly Float32Array[], what = 'block'): SampleBlockStats {
  const K = outputs.length;
  if (K === 0) throw new BacError(`${what}: no step outputs given, expected K ≥ 1 arrays`);
  const D = outputs[0]!.length;
  const norms = new Float64Array(K);
  for (let i = 0; i < K; i++) {
    const x = outputs[i]!;
    if (x.length !== D) {
      throw new BacError(`${what}: step ${i} output has ${x.length} elements, expected ${D} like step 0`);
    }
    let s = 0;
    for (let e = 0; e < D; e++) {
      const v = x[e]!;
      if (!Number.isFinite(v)) throw new BacError(`${what}: step ${i} output element ${e} is ${v}, expected finite`);
      s += v * v;
    }
    norms[i] = Math.sqrt(s);
  }
  const sim = new Float64Array(K * K);
  let l1Total = 0;
  for (let i = 0; i < K; i++) {
    sim[i * K + i] = 1;
    const xi = outputs[i]!;
    for (let j = i + 1; j < K; j++) {
      const xj = outputs[j]!;
      let dot = 0;
      let abs = 0;
      for (let e = 0; e < D; e++) {
        const a = xi[e]!;
        const b = xj[e]!;
        dot += a * b;
        abs += Math.abs(a - b);
      }
      const ni = norms[i]!;
      const nj = norms[j]!;
      const c = ni === 0 && nj === 0 ? 1 : ni === 0 || nj === 0 ? 0 : Math.min(1, Math.max(-1, dot / (ni * nj)));
      sim[i * K + j] = c;
      sim[j * K + i] = c;
      l1Total += D === 0 ? 0 : abs / D;
    }
  }
  const pairs = (K * (K - 1)) / 2;
  return { sim, l1: pairs === 0 ? 0 : l1Total / pairs };
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
