import { BacError } from './errors';

/**
 * Paired robot trials: how many to run, and what their outcome says. Two policies (e.g. the full
 * model and a cached schedule) are run on the same episode setups; each setup gives a pair of
 * successes/failures. McNemar's test looks only at the discordant pairs: b setups where only the
 * first succeeded, c where only the second did. Pure math, no I/O.
 */

/** Standard normal CDF Φ(x). Abramowitz–Stegun 7.1.26 erf (absolute error < 1.5e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * Standard normal quantile Φ⁻¹(p) for 0 < p < 1 (Acklam's rational approximation, relative error
 * < 1.2e-9). @throws RangeError outside (0, 1).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p = ${p}, expected 0 < p < 1`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo || p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(p < lo ? p : 1 - p));
    const x =
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
    return p < lo ? x : -x;
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/** ln(i!) for i < length, grown on demand (memoised; values never change). */
const logFactorials: number[] = [0];

/** log C(n, k), O(1) amortised. */
function logChoose(n: number, k: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials.push(logFactorials[i - 1]! + Math.log(i));
  return logFactorials[n]! - logFactorials[k]! - logFactorials[n - k]!;
}

/**
 * Exact (binomial) two-sided McNemar p-value for b and c discordant pairs: under H0 each discordant
 * pair goes either way with probability ½, p = min(1, 2·P[Binom(b+c, ½) ≤ min(b, c)]). 1 when
 * b + c = 0. O(min(b, c)).
 */
export function mcnemarExactP(b: number, c: number): number {
  if (!Number.isInteger(b) || !Number.isInteger(c) || b < 0 || c < 0) {
    throw new RangeError(`mcnemarExactP: counts ${b}, ${c} must be non-negative integers`);
  }
  const n = b + c;
  if (n === 0) return 1;
  const m = Math.min(b, c);
  let tail = 0;
  for (let i = 0; i <= m; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

/** Discordant-pair probabilities of a paired design: p10 = P(only A succeeds), p01 = P(only B succeeds). */
export interface Discordance {
  readonly p10: number;
  readonly p01: number;
}

/**
 * Discordance when the two policies' outcomes on a setup are independent, given success rates pA and
 * pB: p10 = pA(1 − pB), p01 = pB(1 − pA). Pairing helps when outcomes are positively correlated (the
 * same hard setups fail for both), so this is the cautious assumption when nothing was measured.
 */
export function independentDiscordance(pA: number, pB: number): Discordance {
  return { p10: pA * (1 - pB), p01: pB * (1 - pA) };
}

/**
 * Power of the exact McNemar test at two-sided level `alpha` with n pairs, computed exactly: the
 * number of discordant pairs m ~ Binomial(n, p10 + p01), and given m, b ~ Binomial(m, p10/(p10+p01));
 * the test rejects when {@link mcnemarExactP}(b, m − b) ≤ alpha. O(n²).
 */
export function mcnemarExactPower(n: number, disc: Discordance, alpha: number): number {
  const psi = disc.p10 + disc.p01;
  if (psi <= 0) return 0;
  const q = disc.p10 / psi;
  let power = 0;
  for (let m = 0; m <= n; m++) {
    const pm = Math.exp(logChoose(n, m) + (m ? m * Math.log(psi) : 0) + (n - m ? (n - m) * Math.log(1 - psi) : 0));
    if (pm < 1e-300) continue;
    // Largest k with 2·P[Binom(m, ½) ≤ k] ≤ alpha (−1 when none): the lower critical value.
    let k = -1;
    let tail = 0;
    for (let i = 0; i <= m / 2; i++) {
      tail += Math.exp(logChoose(m, i) - m * Math.LN2);
      if (2 * tail > alpha) break;
      k = i;
    }
    if (k < 0) continue;
    // Reject when b ≤ k or b ≥ m − k.
    let reject = 0;
    for (let b = 0; b <= m; b++) {
      if (b > k && b < m - k) continue;
      reject += Math.exp(logChoose(m, b) + (b ? b * Math.log(q) : 0) + (m - b ? (m - b) * Math.log(1 - q) : 0));
    }
    power += pm * reject;
  }
  return Math.min(1, power);
}

/** A trials plan for detecting a drop in success rate with paired trials. */
export interface TrialsPlan {
  /** Paired trials (setups run with both policies), Connor's (1987) normal-approximation formula. */
  readonly pairs: number;
  /** Exact power of the exact McNemar test at `pairs` (may differ slightly from the target). */
  readonly exactPower: number;
  readonly alpha: number;
  readonly power: number;
  /** The discordance assumed. */
  readonly discordance: Discordance;
}

/**
 * Paired trials needed to detect a drop of `drop` (fraction, e.g. 0.10 for 10 points) from success
 * rate `success`, with a two-sided McNemar test at level `alpha` and power `power`:
 * n = ⌈(z_{1−α/2}·√ψ + z_{power}·√(ψ − δ²))² / δ²⌉ with ψ = p10 + p01, δ = p10 − p01 (Connor 1987).
 * Discordance defaults to {@link independentDiscordance}.
 * @throws BacError for arguments out of range (they come from users).
 */
export function planPairedTrials(options: {
  success: number;
  drop: number;
  alpha?: number;
  power?: number;
  discordance?: Discordance;
}): TrialsPlan {
  const { success, drop } = options;
  const alpha = options.alpha ?? 0.05;
  const power = options.power ?? 0.8;
  if (!(success > 0 && success <= 1)) throw new BacError(`success rate ${success} must be in (0, 1]`);
  if (!(drop > 0 && drop <= success)) throw new BacError(`drop ${drop} must be in (0, success rate ${success}]`);
  if (!(alpha > 0 && alpha < 1)) throw new BacError(`alpha ${alpha} must be in (0, 1)`);
  if (!(power > 0 && power < 1)) throw new BacError(`power ${power} must be in (0, 1)`);
  const disc = options.discordance ?? independentDiscordance(success, success - drop);
  const psi = disc.p10 + disc.p01;
  const delta = Math.abs(disc.p10 - disc.p01);
  if (!(delta > 0) || psi <= delta * delta) {
    throw new BacError(`discordance p10 = ${disc.p10}, p01 = ${disc.p01} cannot show a difference`);
  }
  const za = normalQuantile(1 - alpha / 2);
  const zb = normalQuantile(power);
  const pairs = Math.ceil((za * Math.sqrt(psi) + zb * Math.sqrt(psi - delta * delta)) ** 2 / (delta * delta));
  return { pairs, exactPower: mcnemarExactPower(pairs, disc, alpha), alpha, power, discordance: disc };
}

/** One line a report or the editor shows for a plan. */
export function describePlan(success: number, drop: number, plan: TrialsPlan): string {
  return `${plan.pairs} paired trials detect a drop of ${(drop * 100).toFixed(0)} points from ${(success * 100).toFixed(1)} % (McNemar, two-sided α = ${plan.alpha}, power ${(plan.power * 100).toFixed(0)} %; exact power ${(plan.exactPower * 100).toFixed(0)} %; outcomes assumed independent per setup unless measured)`;
}

/**
 * Discordant counts of paired outcomes (same setups, same order): b = only `first` succeeded, c =
 * only `second` did. @throws RangeError when the lengths differ.
 */
export function discordantPairs(first: readonly boolean[], second: readonly boolean[]): { b: number; c: number } {
  if (first.length !== second.length) {
    throw new RangeError(`paired outcomes need equal lengths, got ${first.length} and ${second.length}`);
  }
  let b = 0;
  let c = 0;
  for (let i = 0; i < first.length; i++) {
    if (first[i] && !second[i]) b++;
    else if (!first[i] && second[i]) c++;
  }
  return { b, c };
}

/**
 * Fraction of episodes that failed, from per-episode outcomes (`true`: the episode succeeded): the
 * closed-loop score both the tuner minimises and the sweep reports. NaN for no episodes.
 */
export function failureRate(succeeded: readonly boolean[]): number {
  return succeeded.filter((s) => !s).length / succeeded.length;
}
