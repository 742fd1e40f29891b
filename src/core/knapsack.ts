/**
 * Multiple-choice knapsack: from every group pick exactly one option so that the total cost stays
 * within a capacity and the total value (an error, to be minimised) is smallest.
 *
 * Solved by dynamic programming over integer cost units. When every cost and the capacity are
 * integers and the capacity is at most {@link MAX_UNITS} multiples of their greatest common divisor,
 * the programme is exact. Otherwise costs are measured in units of capacity / {@link MAX_UNITS} and
 * rounded **up**, so a solution that fits in units always fits the real capacity (it may miss the
 * true optimum by at most one unit per group); the cost bound is never traded for value.
 */

/** One choice inside a group. */
export interface KnapsackOption {
  /** Non-negative cost. */
  readonly cost: number;
  /** Value to minimise (e.g. an error). */
  readonly value: number;
}

/** The chosen option of every group, and the totals. */
export interface KnapsackSolution {
  /** Index of the chosen option per group. */
  readonly choice: number[];
  /** Σ of the chosen costs (real, not rounded), ≤ capacity. */
  readonly cost: number;
  /** Σ of the chosen values. */
  readonly value: number;
  /** Whether the programme was exact (integer costs) or rounded costs up. */
  readonly exact: boolean;
}

/** Largest number of cost units the table spans. */
export const MAX_UNITS = 100_000;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Unit size and rounding: exact for integer costs of a small gcd range, else capacity / MAX_UNITS. */
function costUnit(groups: readonly (readonly KnapsackOption[])[], capacity: number): { unit: number; exact: boolean } {
  const costs = groups.flatMap((g) => g.map((o) => o.cost));
  if (Number.isSafeInteger(capacity) && costs.every((c) => Number.isSafeInteger(c))) {
    const g = costs.reduce((a, c) => gcd(a, c), 0);
    if (g === 0) return { unit: 1, exact: true };
    if (capacity / g <= MAX_UNITS) return { unit: g, exact: true };
  }
  return { unit: capacity / MAX_UNITS, exact: false };
}

/**
 * The best choice per group under `capacity`, or null when even the cheapest option of every group
 * does not fit. Ties go to the lower option index (deterministic). O(G · options · units) time,
 * O(G · units) memory with units ≤ {@link MAX_UNITS}.
 */
export function solveMultipleChoiceKnapsack(
  groups: readonly (readonly KnapsackOption[])[],
  capacity: number,
): KnapsackSolution | null {
  if (!(capacity >= 0) || groups.some((g) => g.length === 0)) return null;
  const { unit, exact } = costUnit(groups, capacity);
  const U = unit > 0 ? Math.min(MAX_UNITS, Math.floor(capacity / unit + (exact ? 0 : 1e-9))) : 0;
  const weight = groups.map((g) =>
    g.map((o) => (unit > 0 ? (exact ? o.cost / unit : Math.ceil(o.cost / unit - 1e-12)) : o.cost > 0 ? Infinity : 0)),
  );
  // best[c]: least value of the groups so far with total units ≤ c.
  let best = new Float64Array(U + 1);
  const choice = groups.map(() => new Uint16Array(U + 1));
  for (let i = 0; i < groups.length; i++) {
    const next = new Float64Array(U + 1).fill(Infinity);
    const opts = groups[i]!;
    const w = weight[i]!;
    const pick = choice[i]!;
    for (let c = 0; c <= U; c++) {
      let v = Infinity;
      let arg = 0;
      for (let o = 0; o < opts.length; o++) {
        const wo = w[o]!;
        if (wo > c) continue;
        const cand = best[c - wo]! + opts[o]!.value;
        if (cand < v) {
          v = cand;
          arg = o;
        }
      }
      next[c] = v;
      pick[c] = arg;
    }
    best = next;
  }
  if (!Number.isFinite(best[U]!)) return null;
  const picked = new Array<number>(groups.length);
  let c = U;
  for (let i = groups.length - 1; i >= 0; i--) {
    const o = choice[i]![c]!;
    picked[i] = o;
    c -= weight[i]![o]!;
  }
  const cost = picked.reduce((s, o, i) => s + groups[i]![o]!.cost, 0);
  const value = picked.reduce((s, o, i) => s + groups[i]![o]!.value, 0);
  return { choice: picked, cost, value, exact };
}
