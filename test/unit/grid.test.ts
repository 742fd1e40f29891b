import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { updateSteps } from '../../src/core/blocks';
import { blockCostCapacity, scheduleSpeedup } from '../../src/core/cost-target';
import { reuseMismatch } from '../../src/core/error-proxy';
import { gridIntervals, gridSchedule, gridSteps, solveGrid } from '../../src/core/grid';
import { solveMultipleChoiceKnapsack, type KnapsackOption } from '../../src/core/knapsack';
import type { FileRef } from '../../src/core/types';
import { seededRandom } from './helpers/rng';
import { tinyProfile } from './helpers/tiny-profile';

const model: FileRef = { path: 'model.onnx', sha256: 'a'.repeat(64) };

/** Every combination, the least value within capacity (null when none fits). */
function bruteForce(groups: KnapsackOption[][], capacity: number): number | null {
  let best: number | null = null;
  const walk = (i: number, cost: number, value: number): void => {
    if (cost > capacity) return;
    if (i === groups.length) {
      if (best === null || value < best) best = value;
      return;
    }
    for (const o of groups[i]!) walk(i + 1, cost + o.cost, value + o.value);
  };
  walk(0, 0, 0);
  return best;
}

function randomGroups(rnd: () => number, integer: boolean): KnapsackOption[][] {
  const G = 1 + Math.floor(rnd() * 5);
  return Array.from({ length: G }, () =>
    Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => ({
      cost: integer ? Math.floor(rnd() * 20) : rnd() * 20,
      value: Math.round(rnd() * 1000) / 10,
    })),
  );
}

describe('multiple-choice knapsack', () => {
  it('equals brute force on 300 small cases with integer costs', () => {
    const rnd = seededRandom(7);
    for (let t = 0; t < 300; t++) {
      const groups = randomGroups(rnd, true);
      const capacity = Math.floor(rnd() * 60);
      const want = bruteForce(groups, capacity);
      const got = solveMultipleChoiceKnapsack(groups, capacity);
      if (want === null) {
        assert.equal(got, null, `case ${t}: nothing fits, the solver found something`);
        continue;
      }
      assert.ok(got, `case ${t}: a solution exists`);
      assert.ok(got.exact);
      assert.ok(got.cost <= capacity, `case ${t}: cost ${got.cost} > ${capacity}`);
      assert.ok(Math.abs(got.value - want) < 1e-9, `case ${t}: value ${got.value}, brute force ${want}`);
      assert.equal(got.choice.length, groups.length);
    }
  });

  it('with real costs never exceeds the capacity and stays near the optimum', () => {
    const rnd = seededRandom(11);
    for (let t = 0; t < 300; t++) {
      const groups = randomGroups(rnd, false);
      const capacity = rnd() * 60;
      const want = bruteForce(groups, capacity);
      const got = solveMultipleChoiceKnapsack(groups, capacity);
      if (!got) continue; // rounding up may refuse a case that fits by less than a unit per group
      assert.ok(want !== null);
      assert.ok(got.cost <= capacity, `case ${t}: cost ${got.cost} > ${capacity}`);
      assert.ok(got.value >= want - 1e-9, `case ${t}: better than brute force, impossible`);
      // Rounding up loses at most a unit per group: the solver is optimal at capacity − G units.
      const slack = bruteForce(groups, capacity - (groups.length * capacity) / 100_000);
      if (slack !== null) assert.ok(got.value <= slack + 1e-9, `case ${t}: ${got.value} > ${slack}`);
    }
  });
});

describe('grid', () => {
  it('intervals are the divisors of K; steps start at 0 and honour forceLast', () => {
    assert.deepEqual(gridIntervals(100), [1, 2, 4, 5, 10, 20, 25, 50, 100]);
    assert.deepEqual(gridIntervals(10), [1, 2, 5, 10]);
    assert.deepEqual(gridSteps(10, 5, false), [0, 5]);
    assert.deepEqual(gridSteps(10, 5, true), [0, 5, 9]);
    assert.deepEqual(gridSteps(10, 1, true), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('equals brute force over every interval combination (6 blocks, K = 4)', () => {
    for (const seed of [1, 2, 3]) {
      const p = tinyProfile(2, 4, seed);
      const meanL1 = p.blocks.reduce((s, b) => s + b.l1Mean, 0) / p.blocks.length;
      const groups = p.blocks.map((b) =>
        gridIntervals(4).map((n) => {
          const steps = gridSteps(4, n, true);
          return { cost: steps.length * b.cost.flops, value: (b.l1Mean / meanL1) * reuseMismatch(b.simMean, 4, steps) };
        }),
      );
      for (const X of [1, 1.2, 1.5, 1.8]) {
        const target = { speedup: X, by: 'flops' as const };
        const want = bruteForce(groups, blockCostCapacity(p, target));
        const { steps } = solveGrid(p, target, true);
        const got = p.blocks.reduce(
          (s, b) => s + (b.l1Mean / meanL1) * reuseMismatch(b.simMean, 4, steps.get(b.id)!),
          0,
        );
        assert.ok(want !== null);
        assert.ok(Math.abs(got - want) < 1e-9, `seed ${seed}, X ${X}: grid ${got}, brute force ${want}`);
      }
    }
  });

  it('never exceeds the cost target, by FLOPs or by time, and keeps steps aligned', () => {
    const p = tinyProfile(4, 100, 5);
    for (const by of ['flops', 'time'] as const) {
      let lastUpdates = Infinity;
      for (const X of [1, 1.5, 2, 3, 4, 6, 8]) {
        const s = gridSchedule(p, { speedup: X, by }, true, model, null);
        assert.ok(scheduleSpeedup(s, by) >= X, `${by} ${X}: ${scheduleSpeedup(s, by)}`);
        const updates = s.blocks.reduce((n, b) => n + updateSteps(b).length, 0);
        assert.ok(updates <= lastUpdates, `${by} ${X}: a higher target uses more updates`);
        lastUpdates = updates;
        for (const b of s.blocks) {
          const steps = updateSteps(b);
          assert.equal(steps[0], 0);
          assert.equal(steps.at(-1), 99, 'forceLast');
          const n = steps[1] === 99 ? 100 : steps[1]!;
          assert.deepEqual(steps, gridSteps(100, n, true), `${b.id} is not on an aligned grid`);
        }
      }
    }
  });

  it('an unreachable target is a user error naming the method', () => {
    const p = tinyProfile(2, 10, 1);
    assert.throws(() => solveGrid(p, { speedup: 50, by: 'flops' }, true), /out of reach for grid/);
  });
});
