import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  discordantPairs,
  failureRate,
  independentDiscordance,
  mcnemarExactP,
  mcnemarExactPower,
  normalCdf,
  normalQuantile,
  planPairedTrials,
} from '../../src/core/trials';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/** Brute-force power: every (b, c) of the trinomial (only-A, only-B, concordant), exact p-value each. */
function bruteForcePower(n: number, p10: number, p01: number, alpha: number): number {
  const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1));
  let power = 0;
  for (let b = 0; b <= n; b++)
    for (let c = 0; b + c <= n; c++) {
      const prob =
        (fact(n) / (fact(b) * fact(c) * fact(n - b - c))) * p10 ** b * p01 ** c * (1 - p10 - p01) ** (n - b - c);
      if (mcnemarExactP(b, c) <= alpha) power += prob;
    }
  return power;
}

describe('normal distribution', () => {
  it('matches tabulated quantiles and CDF values', () => {
    close(normalQuantile(0.975), 1.959963985, 1e-8, 'z 0.975');
    close(normalQuantile(0.8), 0.841621234, 1e-8, 'z 0.8');
    close(normalQuantile(0.01), -2.326347874, 1e-8, 'z 0.01');
    close(normalCdf(1.96), 0.9750021, 2e-7, 'Φ(1.96)');
    close(normalCdf(-1), 0.1586553, 2e-7, 'Φ(−1)');
    assert.throws(() => normalQuantile(1), RangeError);
  });
});

describe('exact McNemar test', () => {
  it('gives the binomial two-sided p-values computed by hand', () => {
    close(mcnemarExactP(0, 6), 0.03125, 1e-12, '(0, 6)'); // 2 · 0.5^6
    close(mcnemarExactP(2, 8), 0.109375, 1e-12, '(2, 8)'); // 2 · (1 + 10 + 45) / 1024
    close(mcnemarExactP(8, 2), 0.109375, 1e-12, 'symmetric');
    assert.equal(mcnemarExactP(5, 5), 1);
    assert.equal(mcnemarExactP(0, 0), 1);
    assert.throws(() => mcnemarExactP(-1, 2), RangeError);
  });

  it('computes power exactly (agrees with brute force over the trinomial)', () => {
    for (const [n, p10, p01] of [
      [12, 0.3, 0.05],
      [20, 0.2, 0.1],
      [15, 0.1, 0.1],
    ] as const) {
      close(mcnemarExactPower(n, { p10, p01 }, 0.05), bruteForcePower(n, p10, p01, 0.05), 1e-9, `n ${n}`);
    }
  });
});

describe('paired outcomes', () => {
  it('counts discordant pairs', () => {
    assert.deepEqual(discordantPairs([true, true, false, false, true], [true, false, true, false, false]), {
      b: 2,
      c: 1,
    });
    assert.throws(() => discordantPairs([true], []), RangeError);
  });

  it('gives the failure rate as the fraction of episodes that did not succeed', () => {
    assert.equal(failureRate([true, false, true, true, false]), 0.4);
    assert.equal(failureRate([true, true]), 0);
    assert.ok(Number.isNaN(failureRate([])));
  });
});

describe('paired trials planning', () => {
  it("gives Connor's sample size (hand-computed values)", () => {
    // (1.95996·√0.35 + 0.84162·√(0.35 − 0.15²))² / 0.15² = 119.71
    assert.equal(planPairedTrials({ success: 0.8, drop: 0.15, discordance: { p10: 0.25, p01: 0.1 } }).pairs, 120);
    // independent outcomes at 80 % vs 70 %: p10 = 0.24, p01 = 0.14 → 295.89
    const plan = planPairedTrials({ success: 0.8, drop: 0.1 });
    close(plan.discordance.p10, independentDiscordance(0.8, 0.7).p10, 1e-12, 'p10');
    close(plan.discordance.p01, 0.14, 1e-12, 'p01');
    assert.equal(plan.pairs, 296);
    // the exact test's power at that n is near the normal approximation's 80 %
    close(plan.exactPower, 0.8, 0.04, 'exact power at Connor n');
  });

  it('needs more trials for smaller drops and higher power', () => {
    const base = planPairedTrials({ success: 0.75, drop: 0.1 }).pairs;
    assert.ok(planPairedTrials({ success: 0.75, drop: 0.05 }).pairs > 3 * base);
    assert.ok(planPairedTrials({ success: 0.75, drop: 0.1, power: 0.9 }).pairs > base);
  });

  it('rejects impossible plans with a message', () => {
    assert.throws(() => planPairedTrials({ success: 0.5, drop: 0.6 }), /drop 0.6/);
    assert.throws(() => planPairedTrials({ success: 0, drop: 0.1 }), /success rate/);
    assert.throws(() => planPairedTrials({ success: 0.8, drop: 0.1, alpha: 0 }), /alpha/);
  });
});
