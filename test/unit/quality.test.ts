import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { meanAbsoluteError, meanSquaredError, summarizeErrors } from '../../src/core/quality';

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
