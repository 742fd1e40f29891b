import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  meanAbsoluteError,
  meanSquaredError,
  normalizedEnergyDistance,
  summarizeDistances,
  summarizeErrors,
} from '../../src/core/quality';
import { Rng } from '../../src/core/rng';

describe('offline quality measures', () => {
  it('computes squared and absolute errors by hand', () => {
    assert.equal(meanSquaredError([1, 2, 3], [1, 0, 0]), (0 + 4 + 9) / 3);
    assert.equal(meanAbsoluteError([1, 2, 3], [1, 0, 0]), 5 / 3);
    assert.throws(() => meanSquaredError([1], [1, 2]), RangeError);
  });

  it('summarises mean, best-of-n and their spreads', () => {
    // window 0: draws 1, 3; window 1: draws 5, 7
    const s = summarizeErrors([
      [1, 3],
      [5, 7],
    ]);
    assert.equal(s.mean.value, 4);
    // per-draw means 3 and 5 → sample std √2
    assert.ok(Math.abs(s.mean.seedStd! - Math.SQRT2) < 1e-12);
    // per-window means 2 and 6 → std 2√2, / √2 = 2
    assert.ok(Math.abs(s.mean.windowSe - 2) < 1e-12);
    assert.equal(s.bestOfN.value, 3); // min 1 and 5
    assert.equal(s.bestOfN.seedStd, null);
    assert.ok(Math.abs(s.bestOfN.windowSe - 2) < 1e-12);
  });

  it('best-of-n never exceeds the mean, and one draw makes them equal', () => {
    const one = summarizeErrors([[2], [4]]);
    assert.equal(one.bestOfN.value, one.mean.value);
    assert.equal(one.mean.seedStd, 0);
    const many = summarizeErrors([
      [0.3, 0.1, 0.9],
      [0.5, 0.5, 0.2],
    ]);
    assert.ok(many.bestOfN.value <= many.mean.value);
  });

  it('rejects ragged or empty input', () => {
    assert.throws(() => summarizeErrors([]), RangeError);
    assert.throws(() => summarizeErrors([[1, 2], [3]]), /different draw counts/);
  });
});

describe('reference distance (normalised energy distance)', () => {
  const draws = (rng: Rng, D: number, shift: number, scale = 1) =>
    Array.from({ length: D }, () => rng.normalArray(4).map((x) => shift + scale * x));

  it('is exactly 0 for the same draws, and computed by hand on points', () => {
    const xs = [
      [0, 0],
      [3, 4],
    ];
    assert.equal(normalizedEnergyDistance(xs, xs), 0);
    // pairs with i ≠ j only: ‖x0 − y1‖ = ‖x1 − y0‖ = √13, ‖x0 − x1‖ = 5, ‖y0 − y1‖ = 3 (each twice)
    const ys = [
      [0, 2],
      [3, 2],
    ];
    const expected = (2 * 2 * Math.sqrt(13) - 2 * 5 - 2 * 3) / (2 * 2 * Math.sqrt(13));
    assert.ok(Math.abs(normalizedEnergyDistance(xs, ys) - expected) < 1e-12);
  });

  it('is near 0 for two samples of one distribution and grows with a shift or a wider spread', () => {
    const rng = new Rng(5);
    const same = Array.from({ length: 200 }, () => normalizedEnergyDistance(draws(rng, 8, 0), draws(rng, 8, 0)));
    const shifted = Array.from({ length: 200 }, () => normalizedEnergyDistance(draws(rng, 8, 1), draws(rng, 8, 0)));
    const wide = Array.from({ length: 200 }, () => normalizedEnergyDistance(draws(rng, 8, 0, 2), draws(rng, 8, 0)));
    const s = summarizeDistances(same);
    assert.ok(Math.abs(s.value) < 3 * s.windowSe + 1e-9, `same distribution: ${s.value} ± ${s.windowSe}`);
    assert.ok(summarizeDistances(shifted).value > 0.1);
    assert.ok(summarizeDistances(wide).value > 0.03);
  });

  it('rejects fewer than two draws, unequal counts or lengths, and no windows', () => {
    assert.throws(() => normalizedEnergyDistance([[1]], [[1]]), RangeError);
    assert.throws(() => normalizedEnergyDistance([[1], [2]], [[1], [2], [3]]), RangeError);
    assert.throws(() => normalizedEnergyDistance([[1], [2, 3]], [[1], [2]]), RangeError);
    assert.throws(() => summarizeDistances([]), RangeError);
  });
});
