/**
 * Spearman rank correlation, used to ask which offline measure orders schedules as closed-loop
 * success does (docs/fidelity-study.md). Pure math.
 */

/** Ranks 1 … n with ties given their average rank. O(n log n). */
export function averageRanks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const r = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[order[t]![1]] = r;
    i = j + 1;
  }
  return ranks;
}

/** Pearson correlation; NaN when either side is constant or n < 2. O(n). */
export function pearson(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2 || ys.length !== n) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** Spearman's ρ: Pearson correlation of the average ranks (ties handled). NaN when undefined. */
export function spearman(xs: readonly number[], ys: readonly number[]): number {
  return pearson(averageRanks(xs), averageRanks(ys));
}

/**
 * Two-sided permutation p-value of Spearman's ρ: the share of `permutations` seeded shuffles of
 * `ys` whose |ρ| is at least the observed one (with the observed arrangement counted). O(P · n log n).
 */
export function spearmanPermutationP(
  xs: readonly number[],
  ys: readonly number[],
  permutations: number,
  random: () => number,
): number {
  const observed = Math.abs(spearman(xs, ys));
  if (!Number.isFinite(observed)) return NaN;
  const rx = averageRanks(xs);
  const ry = averageRanks(ys);
  let atLeast = 1;
  const perm = ry.slice();
  for (let p = 0; p < permutations; p++) {
    for (let i = perm.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    if (Math.abs(pearson(rx, perm)) >= observed - 1e-12) atLeast++;
  }
  return atLeast / (permutations + 1);
}
