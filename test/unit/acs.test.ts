import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acsObjective, solveAcs, solveAcsAllBudgets } from '../../src/core/acs';
import { BacError } from '../../src/core/errors';
import { squareFromRows, type SquareMatrix } from '../../src/core/matrix';
import { seededRandom } from './helpers/rng';

/** A random symmetric "similarity-like" matrix with unit diagonal; `levels` > 0 quantises to force ties. */
function randomSim(K: number, seed: number, levels = 0): SquareMatrix {
  const rnd = seededRandom(seed);
  const data = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    data[i * K + i] = 1;
    for (let j = i + 1; j < K; j++) {
      let v = rnd() * 2 - 1;
      if (levels > 0) v = Math.round(v * levels) / levels;
      data[i * K + j] = v;
      data[j * K + i] = v;
    }
  }
  return { size: K, data };
}

/** Exhaustive maximum over all update sets of size M that start at 0 (and end at K−1 if forced). */
function exhaustive(sim: SquareMatrix, M: number, forceLast: boolean): { best: number; feasible: boolean } {
  const K = sim.size;
  let best = -Infinity;
  let feasible = false;
  for (let mask = 0; mask < 1 << (K - 1); mask++) {
    const steps = [0];
    for (let s = 1; s < K; s++) if (mask & (1 << (s - 1))) steps.push(s);
    if (steps.length !== M) continue;
    if (forceLast && K > 1 && steps[steps.length - 1] !== K - 1) continue;
    feasible = true;
    best = Math.max(best, acsObjective(sim, steps));
  }
  return { best, feasible };
}

function assertValidSet(steps: number[], K: number, M: number, forceLast: boolean): void {
  assert.equal(steps.length, M, `expected ${M} updates, got ${steps.join(',')}`);
  assert.equal(steps[0], 0);
  for (let i = 1; i < steps.length; i++) assert.ok(steps[i]! > steps[i - 1]!, 'strictly increasing');
  assert.ok(steps[steps.length - 1]! < K);
  if (forceLast) assert.equal(steps[steps.length - 1], K - 1);
}

describe('ACS dynamic programme', () => {
  it('equals exhaustive search for every K ≤ 12 and every M ≤ K, with and without forceLast', () => {
    for (let K = 1; K <= 12; K++) {
      for (const seed of [1, 2, 3]) {
        const sim = randomSim(K, K * 100 + seed);
        for (const forceLast of [false, true]) {
          const sweep = solveAcsAllBudgets(sim, { forceLast });
          for (let M = 1; M <= K; M++) {
            const truth = exhaustive(sim, M, forceLast);
            if (!truth.feasible) {
              assert.throws(() => solveAcs(sim, M, { forceLast }), BacError, `K=${K} M=${M} must be rejected`);
              assert.equal(sweep[M - 1], null);
              continue;
            }
            const r = solveAcs(sim, M, { forceLast });
            assertValidSet(r.steps, K, M, forceLast);
            const ctx = `K=${K} M=${M} forceLast=${forceLast} seed=${seed}`;
            assert.ok(
              Math.abs(r.objective - truth.best) <= 1e-9 * Math.max(1, Math.abs(truth.best)),
              `${ctx}: DP ${r.objective} vs max ${truth.best}`,
            );
            assert.ok(
              Math.abs(acsObjective(sim, r.steps) - truth.best) <= 1e-9 * Math.max(1, Math.abs(truth.best)),
              `${ctx}: set does not attain the max`,
            );
            assert.deepEqual(sweep[M - 1], r, `${ctx}: all-budgets sweep differs from the single solve`);
          }
        }
      }
    }
  });

  it('stays optimal and deterministic with many ties, breaking toward the earlier segment end', () => {
    for (let K = 2; K <= 10; K++) {
      const sim = randomSim(K, 7 * K, 2);
      for (let M = 1; M <= K; M++) {
        const r = solveAcs(sim, M, { forceLast: false });
        assert.ok(Math.abs(r.objective - exhaustive(sim, M, false).best) < 1e-9);
        assert.deepEqual(solveAcs(sim, M, { forceLast: false }), r);
      }
    }
    // All-equal similarities: every set ties; the smaller j wins at every level, so the
    // updates are packed at the start.
    const flat: SquareMatrix = { size: 6, data: new Float64Array(36).fill(1) };
    assert.deepEqual(solveAcs(flat, 3, { forceLast: false }).steps, [0, 1, 2]);
  });

  it('handles the edge cases M = 1, M = K and K = 1', () => {
    const sim = randomSim(8, 42);
    assert.deepEqual(solveAcs(sim, 1, { forceLast: false }).steps, [0]);
    assert.deepEqual(solveAcs(sim, 8, { forceLast: false }).steps, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(solveAcs(sim, 8, { forceLast: true }).steps, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(solveAcs(sim, 2, { forceLast: true }).steps, [0, 7]);
    const one = squareFromRows([[1]]);
    assert.deepEqual(solveAcs(one, 1, { forceLast: true }), { steps: [0], objective: 1 });
    assert.deepEqual(solveAcs(one, 1, { forceLast: false }).steps, [0]);
  });

  it('prefers to update where similarity drops (a hand-worked example)', () => {
    // Steps 0-2 are alike, 3-5 are alike, the two groups are dissimilar: with M = 2 the second
    // update must be at step 3.
    const K = 6;
    const rows = Array.from({ length: K }, (_, i) =>
      Array.from({ length: K }, (_, j) => (i === j ? 1 : Math.floor(i / 3) === Math.floor(j / 3) ? 0.9 : 0.1)),
    );
    assert.deepEqual(solveAcs(squareFromRows(rows), 2, { forceLast: false }).steps, [0, 3]);
  });

  it('rejects NaN, non-square matrices and budgets out of range with a clear error', () => {
    const sim = randomSim(5, 3);
    const withNaN = Float64Array.from(sim.data as Float64Array);
    withNaN[7] = Number.NaN;
    assert.throws(
      () => solveAcs({ size: 5, data: withNaN }, 2, { forceLast: false }),
      /entry \[1\]\[2\] is NaN, expected a finite number/,
    );
    assert.throws(
      () => solveAcs({ size: 5, data: new Float64Array(24) }, 2, { forceLast: false }),
      /has 24 entries, expected 5×5 = 25 \(square\)/,
    );
    assert.throws(() => squareFromRows([[1, 0], [0]]), /row 1 has 1 entries, expected 2/);
    assert.throws(() => solveAcs(sim, 0, { forceLast: false }), /budget 0 is out of range, expected an integer in 1…5/);
    assert.throws(() => solveAcs(sim, 6, { forceLast: false }), /budget 6 is out of range/);
    assert.throws(() => solveAcs(sim, 2.5, { forceLast: false }), /budget 2.5 is out of range/);
    assert.throws(
      () => solveAcs(sim, 1, { forceLast: true }),
      /budget 1 cannot hold both step 0 and the forced last step 4/,
    );
    assert.throws(() => squareFromRows([]), /is empty/);
  });
});
