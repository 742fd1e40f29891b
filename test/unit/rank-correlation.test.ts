import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { averageRanks, spearman, spearmanPermutationP } from '../../src/core/rank-correlation';
import { seededRandom } from './helpers/rng';

describe('Spearman rank correlation', () => {
  it('ranks ties by their average', () => {
    assert.deepEqual(averageRanks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  });

  it('is ±1 for monotone relations, and matches a hand-computed value', () => {
    assert.equal(spearman([1, 2, 3, 4], [1, 4, 9, 16]), 1);
    assert.equal(spearman([1, 2, 3, 4], [8, 4, 2, 1]), -1);
    // d = rank differences (0, −2, 1, 1, 0): ρ = 1 − 6·Σd²/(n(n²−1)) = 1 − 36/120 = 0.7
    assert.ok(Math.abs(spearman([1, 2, 3, 4, 5], [1, 4, 2, 3, 5]) - 0.7) < 1e-12);
    assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
  });

  it('permutation p-value: small for a perfect order of 10, large for noise', () => {
    const xs = Array.from({ length: 10 }, (_, i) => i);
    assert.ok(spearmanPermutationP(xs, xs, 2000, seededRandom(1)) < 0.01);
    const rnd = seededRandom(3);
    const noise = xs.map(() => rnd());
    assert.ok(spearmanPermutationP(xs, noise, 2000, seededRandom(2)) > 0.05);
  });
});
