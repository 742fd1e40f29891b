import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { updateSteps } from '../../src/core/blocks';
import { blockCostCapacity, largestMeeting, scheduleSpeedup } from '../../src/core/cost-target';
import { solveAtBudget, solveForTarget, type MethodOptions } from '../../src/core/methods';
import { SCHEDULE_METHODS } from '../../src/core/solver-params';
import { BacError } from '../../src/core/errors';
import type { Profile } from '../../src/core/types';
import { tinyProfile } from './helpers/tiny-profile';

const options: MethodOptions = {
  topN: 3,
  forceLast: true,
  model: { path: 'model.onnx', sha256: 'a'.repeat(64) },
  profileRef: null,
};
const updates = (s: { blocks: readonly Parameters<typeof updateSteps>[0][] }) =>
  s.blocks.reduce((n, b) => n + updateSteps(b).length, 0);

describe('cost targets', () => {
  it('every method meets the target, by FLOPs and by time, and never goes below X', () => {
    const p = tinyProfile(4, 50, 3);
    for (const method of SCHEDULE_METHODS)
      for (const by of ['flops', 'time'] as const)
        for (const X of [1, 1.3, 2, 3.5, 5]) {
          const { schedule, budget } = solveForTarget(method, p, { speedup: X, by }, options);
          assert.ok(scheduleSpeedup(schedule, by) >= X, `${method} ${by} ${X}: ${scheduleSpeedup(schedule, by)}`);
          if (method !== 'grid') {
            assert.ok(budget !== null);
            // The next budget would miss the target (monotone cost for these methods on this profile).
            if (budget < 50) {
              const next = solveAtBudget(method, p, budget + 1, options);
              assert.ok(scheduleSpeedup(next, by) < X, `${method} ${by} ${X}: budget ${budget + 1} also meets X`);
            }
          }
        }
  });

  it('a higher target never buys more updates (uniform, acs, grid)', () => {
    const p = tinyProfile(3, 40, 8);
    for (const method of ['uniform', 'acs', 'unified', 'grid'] as const) {
      let last = Infinity;
      for (const X of [1, 1.5, 2, 2.5, 3, 4, 6]) {
        const n = updates(solveForTarget(method, p, { speedup: X, by: 'flops' }, options).schedule);
        assert.ok(n <= last, `${method}: X ${X} uses ${n} updates, more than ${last}`);
        last = n;
      }
    }
  });

  it('X = 1 gives the full schedule for the budget methods', () => {
    const p = tinyProfile(2, 12, 2);
    const { schedule, budget } = solveForTarget('acs', p, { speedup: 1, by: 'flops' }, options);
    assert.equal(budget, 12);
    assert.equal(updates(schedule), 12 * p.blocks.length);
  });

  it('an unreachable or invalid target is one clear user error', () => {
    const p = tinyProfile(2, 10, 1);
    for (const method of SCHEDULE_METHODS) {
      assert.throws(
        () => solveForTarget(method, p, { speedup: 40, by: 'flops' }, options),
        (e: unknown) => e instanceof BacError && /out of reach/.test(e.message) && e.message.includes(method),
      );
    }
    assert.throws(() => solveForTarget('bac', p, { speedup: 0.5, by: 'flops' }, options), /expected a number ≥ 1/);
    const untimed: Profile = {
      ...p,
      baseCost: { ...p.baseCost, timeUs: 0 },
      blocks: p.blocks.map((b) => ({ ...b, cost: { ...b.cost, timeUs: 0 } })),
    };
    assert.throws(() => solveForTarget('bac', untimed, { speedup: 2, by: 'time' }, options), /no measured block times/);
  });

  it('manual edits count toward the cost', () => {
    const p = tinyProfile(2, 20, 4);
    const edits = new Map([['0.sa', { manual: [1, 2, 3, 5, 6, 7], manualOff: [] }]]);
    const target = { speedup: 2, by: 'flops' as const };
    const plain = solveForTarget('acs', p, target, options);
    const edited = solveForTarget('acs', p, target, { ...options, edits });
    assert.ok(scheduleSpeedup(edited.schedule, 'flops') >= 2);
    assert.ok(edited.budget! <= plain.budget!);
    assert.deepEqual(edited.schedule.blocks[0]!.manual, [1, 2, 3, 5, 6, 7]);
  });

  it('capacity and bisection: the largest parameter meeting the target', () => {
    const p = tinyProfile(1, 10, 1);
    assert.ok(blockCostCapacity(p, { speedup: 100, by: 'flops' }) < 0);
    const found = largestMeeting(2, 10, (M) => solveAtBudget('acs', p, M, options), { speedup: 1.5, by: 'flops' });
    assert.ok(found && scheduleSpeedup(found.schedule, 'flops') >= 1.5);
    assert.equal(
      largestMeeting(2, 10, (M) => solveAtBudget('acs', p, M, options), { speedup: 50, by: 'flops' }),
      null,
    );
  });
});
