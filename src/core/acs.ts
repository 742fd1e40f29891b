import { BacError } from './errors';
import { minBudget } from './solver-params';
import { assertFiniteSquare, type SquareMatrix } from './matrix';

/**
 * Adaptive Caching Scheduler (ACS): the per-block dynamic programme of docs/method.md.
 *
 * Given a block's K×K similarity matrix Sim and a budget M, choose update steps
 * 0 = c_1 < c_2 < … < c_M ≤ K−1 maximising Σ_m cost(c_m, c_{m+1} − 1) with c_{M+1} = K, where
 * cost(a, e) = Σ_{t=a}^{e} Sim[a][t] is the similarity gained by serving steps a … e from the
 * cache made at step a (the constant Sim[a][a] included, as in the official code).
 */

/** Options of the programme. */
export interface AcsOptions {
  /**
   * Make step K−1 an update inside the programme, so the budget M counts it (docs/method.md "Ours").
   * With K > 1 this needs M ≥ 2: step 0 and step K−1 are both updates.
   */
  readonly forceLast: boolean;
}

/** An optimal update set and its objective value. */
export interface AcsResult {
  /** Update steps, strictly increasing, starting with 0; length = the budget M. */
  readonly steps: number[];
  /** Σ over segments of cost(c_m, c_{m+1} − 1) for `steps`. */
  readonly objective: number;
}

/**
 * Row prefix sums of Sim: `pre[a * (K + 1) + t] = Σ_{u < t} Sim[a][u]`, so
 * cost(a, e) = pre[a(K+1) + e + 1] − pre[a(K+1) + a]. O(K²) time and memory.
 */
function rowPrefixSums(sim: SquareMatrix): Float64Array {
  const K = sim.size;
  const pre = new Float64Array(K * (K + 1));
  for (let a = 0; a < K; a++) {
    let acc = 0;
    const base = a * (K + 1);
    for (let t = 0; t < K; t++) {
      acc += sim.data[a * K + t]!;
      pre[base + t + 1] = acc;
    }
  }
  return pre;
}

/**
 * Filled DP tables for budgets 1 … `maxM`.
 * `dp[m * K + i]` = best objective covering steps 0 … i with m updates, the last segment ending
 * at i (−∞ where infeasible); `parent[m * K + i]` = the j of that optimum (the previous segment
 * ends at j, so step j + 1 is the m-th update).
 */
interface AcsTable {
  readonly K: number;
  readonly maxM: number;
  readonly dp: Float64Array;
  readonly parent: Int32Array;
}

/**
 * Runs the programme for every budget 1 … maxM at once. O(maxM · K²) time, O(maxM · K) memory.
 * Ties are broken toward the smaller j (strict `>`), so results are deterministic.
 */
function fillTable(sim: SquareMatrix, maxM: number): AcsTable {
  const K = sim.size;
  const pre = rowPrefixSums(sim);
  const stride = K + 1;
  const dp = new Float64Array((maxM + 1) * K).fill(-Infinity);
  const parent = new Int32Array((maxM + 1) * K).fill(-1);
  // m = 1: the single segment [0, i].
  for (let i = 0; i < K; i++) dp[K + i] = pre[i + 1]! - pre[0]!;
  for (let m = 2; m <= maxM; m++) {
    const prev = (m - 1) * K;
    const cur = m * K;
    for (let i = m - 1; i < K; i++) {
      let best = -Infinity;
      let arg = -1;
      // The new segment starts at a = j + 1 and ends at i.
      for (let j = m - 2; j <= i - 1; j++) {
        const a = j + 1;
        const v = dp[prev + j]! + (pre[a * stride + i + 1]! - pre[a * stride + a]!);
        if (v > best) {
          best = v;
          arg = j;
        }
      }
      dp[cur + i] = best;
      parent[cur + i] = arg;
    }
  }
  return { K, maxM, dp, parent };
}

/** Recovers the update steps of the optimum `dp[m][i]` by backtracking. O(m). */
function backtrack(table: AcsTable, m: number, i: number): number[] {
  const steps: number[] = [];
  let end = i;
  for (let level = m; level >= 2; level--) {
    const j = table.parent[level * table.K + end]!;
    steps.push(j + 1);
    end = j;
  }
  steps.push(0);
  return steps.reverse();
}

function validate(sim: SquareMatrix, M: number, options: AcsOptions, what: string): void {
  assertFiniteSquare(sim, what);
  const K = sim.size;
  if (!Number.isInteger(M) || M < 1 || M > K) {
    throw new BacError(`${what}: budget ${M} is out of range, expected an integer in 1…${K} (K = ${K} steps)`);
  }
  if (M < minBudget(K, options.forceLast)) {
    throw new BacError(
      `${what}: budget 1 cannot hold both step 0 and the forced last step ${K - 1}; use a budget ≥ 2 or disable forceLast`,
    );
  }
}

/** Reads the answer for budget M out of a filled table. */
function answer(table: AcsTable, sim: SquareMatrix, M: number, options: AcsOptions): AcsResult {
  const K = table.K;
  if (options.forceLast && K > 1) {
    // The last segment is the single step K−1; the first M−1 updates cover 0 … K−2.
    const last = sim.data[(K - 1) * K + (K - 1)]!;
    const steps = backtrack(table, M - 1, K - 2);
    steps.push(K - 1);
    return { steps, objective: table.dp[(M - 1) * K + (K - 2)]! + last };
  }
  return { steps: backtrack(table, M, K - 1), objective: table.dp[M * K + (K - 1)]! };
}

/**
 * Solves ACS for one block and one budget.
 * O(M · K²) time, O(M · K) memory.
 * @param sim the block's K×K similarity matrix (finite entries).
 * @param M the budget: number of updates, 1 ≤ M ≤ K (≥ 2 with `forceLast` when K > 1).
 * @throws BacError for a non-square matrix, a non-finite entry or a budget out of range.
 */
export function solveAcs(sim: SquareMatrix, M: number, options: AcsOptions, what = 'similarity matrix'): AcsResult {
  validate(sim, M, options, what);
  const table = fillTable(sim, options.forceLast && sim.size > 1 ? M - 1 : M);
  return answer(table, sim, M, options);
}

/**
 * Solves ACS for every feasible budget at once (the Pareto sweep): entry M − 1 of the result is
 * the optimum for budget M; infeasible budgets (M = 1 with `forceLast` and K > 1) are `null`.
 * O(K³) time (one table shared by all budgets), O(K²) memory.
 * @throws BacError for a non-square matrix or a non-finite entry.
 */
export function solveAcsAllBudgets(
  sim: SquareMatrix,
  options: AcsOptions,
  what = 'similarity matrix',
): (AcsResult | null)[] {
  assertFiniteSquare(sim, what);
  const K = sim.size;
  const table = fillTable(sim, K);
  const results: (AcsResult | null)[] = [];
  for (let M = 1; M <= K; M++) {
    results.push(M < minBudget(K, options.forceLast) ? null : answer(table, sim, M, options));
  }
  return results;
}

/**
 * The ACS objective of an arbitrary update set: Σ over segments of cost(c_m, c_{m+1} − 1).
 * Used to compare schedules and by tests against exhaustive search. O(K).
 * @param steps strictly increasing, starting with 0, all < K.
 */
export function acsObjective(sim: SquareMatrix, steps: readonly number[]): number {
  const K = sim.size;
  let total = 0;
  for (let m = 0; m < steps.length; m++) {
    const a = steps[m]!;
    const end = m + 1 < steps.length ? steps[m + 1]! - 1 : K - 1;
    for (let t = a; t <= end; t++) total += sim.data[a * K + t]!;
  }
  return total;
}
