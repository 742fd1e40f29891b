import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlockStatsAccumulator } from '../../src/core/stats';
import { sampleBlockStats } from './helpers/reference-stats';
import { seededRandom } from './helpers/rng';

const f32 = (...v: number[]) => Float32Array.from(v);

describe('per-sample block statistics', () => {
  it('computes the cosine matrix and mean pairwise L1 by hand', () => {
    // X0 = (1, 0), X1 = (0, 2), X2 = (1, 1)
    const { sim, l1 } = sampleBlockStats([f32(1, 0), f32(0, 2), f32(1, 1)]);
    const c = Math.SQRT1_2;
    const expected = [1, 0, c, 0, 1, c, c, c, 1];
    expected.forEach((v, i) => assert.ok(Math.abs(sim[i]! - v) < 1e-12, `entry ${i}: ${sim[i]} vs ${v}`));
    // mean |X0−X1| = (1 + 2)/2 = 1.5; |X0−X2| = (0 + 1)/2 = 0.5; |X1−X2| = (1 + 1)/2 = 1 → mean 1.
    assert.ok(Math.abs(l1 - 1) < 1e-12);
  });

  it('defines zero vectors sensibly and K = 1 as a unit matrix with no reuse error', () => {
    const { sim } = sampleBlockStats([f32(0, 0), f32(0, 0), f32(1, 0)]);
    assert.equal(sim[1], 1, 'two zero outputs are identical');
    assert.equal(sim[2], 0, 'zero vs non-zero is orthogonal');
    assert.deepEqual(sampleBlockStats([f32(3, 4)]), { sim: Float64Array.of(1), l1: 0 });
  });

  it('rejects empty input, ragged outputs and non-finite values', () => {
    assert.throws(() => sampleBlockStats([]), /expected K ≥ 1/);
    assert.throws(
      () => sampleBlockStats([f32(1, 2), f32(1)], '3.ca'),
      /3.ca: step 1 output has 1 elements, expected 2/,
    );
    assert.throws(() => sampleBlockStats([f32(1, Number.NaN)]), /element 1 is NaN/);
  });
});

describe('streaming aggregation over samples', () => {
  it('matches the two-pass mean and population std without keeping the samples', () => {
    const rnd = seededRandom(5);
    const K = 6;
    const samples = Array.from({ length: 25 }, () =>
      sampleBlockStats(Array.from({ length: K }, () => Float32Array.from({ length: 16 }, () => rnd() * 2 - 1))),
    );
    const acc = new BlockStatsAccumulator(K);
    for (const s of samples) acc.add(s);
    const r = acc.result();
    assert.equal(r.count, 25);
    for (let e = 0; e < K * K; e++) {
      const xs = samples.map((s) => s.sim[e]!);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
      assert.ok(Math.abs(r.simMean[e]! - mean) < 1e-6);
      assert.ok(Math.abs(r.simStd[e]! - std) < 1e-6);
    }
    const l1s = samples.map((s) => s.l1);
    const l1Mean = l1s.reduce((a, b) => a + b, 0) / l1s.length;
    assert.ok(Math.abs(r.l1Mean - l1Mean) < 1e-12);
    assert.ok(r.l1Std > 0);
  });

  it('rejects a matrix of the wrong size and an empty result', () => {
    const acc = new BlockStatsAccumulator(3);
    assert.throws(() => acc.result(), /no samples were aggregated/);
    assert.throws(() => acc.add({ sim: new Float64Array(4), l1: 0 }), /has 4 entries, expected 3×3/);
    assert.throws(() => new BlockStatsAccumulator(0), /K = 0 is invalid/);
  });
});
