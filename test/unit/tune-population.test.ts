import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scheduleSpeedup } from '../../src/core/cost-target';
import { methodOf, solveAtBudget } from '../../src/core/methods';
import { manualEditsOf } from '../../src/core/solve';
import { updateTable } from '../../src/engine/runner';
import { scheduleFromTable } from '../../src/engine/tune-moves';
import { finalistIndices, solveTuneFamilies, tunePopulation } from '../../src/engine/tune-population';
import { syntheticProfile } from './helpers/synthetic-profile';

describe('tune population', () => {
  const profile = syntheticProfile({ layers: 6, steps: 10, seed: 4 });
  const blockIds = profile.blocks.map((b) => b.id);
  const target = { speedup: 2, by: 'flops' as const };
  const o = { topN: 3, forceLast: true, model: profile.model, profileRef: null };
  const K = profile.sampler.steps;
  const populationOf = (opts: typeof o, size: number, seed: number) =>
    tunePopulation(solveTuneFamilies(profile, target, opts), profile, target, opts.forceLast, blockIds, size, seed);

  it('the families first (the local search starts among them), then perturbations up to the size', () => {
    const p = populationOf(o, 14, 1);
    assert.equal(p.length, 14);
    const families = p.filter((c) => c.moves === 0);
    assert.deepEqual(
      families.map((c) => c.label),
      ['uniform', 'grid', 'bac (top-n 3)', 'acs', 'unified', 'bac (top-n 6)'],
    );
    assert.deepEqual(
      p.filter((c) => c.isStart).map((c) => c.method),
      ['uniform', 'grid', 'bac'],
    );
    assert.deepEqual(
      p.slice(6).map((c) => c.moves),
      [3, 6, 9, 12, 3, 6, 9, 12],
    );
    assert.ok(p.slice(6).every((c, i) => c.label.endsWith(`+ ${c.moves} random moves (draw ${i + 1})`)));
    assert.equal(new Set(p.map((c) => c.label)).size, p.length, 'labels are unique');
  });

  it('every candidate is within the target and keeps step 0 and the forced last step', () => {
    for (const c of populationOf(o, 30, 2)) {
      const schedule = scheduleFromTable(c.base, c.table);
      assert.ok(scheduleSpeedup(schedule, 'flops') >= 2 - 1e-9, `${c.label}: ${scheduleSpeedup(schedule, 'flops')}`);
      for (let i = 0; i < blockIds.length; i++) {
        assert.equal(c.table[i], 1, `${c.label}: block ${i} computes at step 0`);
        assert.equal(c.table[(K - 1) * blockIds.length + i], 1, `${c.label}: block ${i} computes at the last step`);
      }
    }
  });

  it('same seed → same population; another seed → other perturbations; families unchanged', () => {
    const a = populationOf(o, 12, 5);
    const b = populationOf(o, 12, 5);
    const c = populationOf(o, 12, 6);
    assert.deepEqual(
      a.map((x) => [...x.table]),
      b.map((x) => [...x.table]),
    );
    assert.deepEqual(
      a.slice(0, 6).map((x) => [...x.table]),
      c.slice(0, 6).map((x) => [...x.table]),
    );
    assert.notDeepEqual(
      a.slice(6).map((x) => [...x.table]),
      c.slice(6).map((x) => [...x.table]),
    );
    // A perturbation differs from its family.
    assert.ok(a.slice(6).some((x) => [...x.table].join() !== [...updateTable(x.base, blockIds)].join()));
  });

  it('the local search solves its starts only', () => {
    assert.deepEqual(
      solveTuneFamilies(profile, target, o, true).map((f) => f.label),
      ['uniform', 'grid', 'bac (top-n 3)'],
    );
  });

  it('a size below the families keeps every family', () => {
    assert.equal(populationOf(o, 1, 0).length, 6);
  });

  it('top-n 6 asked for: no duplicate bac (top-n 6) family', () => {
    const p = populationOf({ ...o, topN: 6 }, 1, 0);
    assert.deepEqual(
      p.map((c) => c.label),
      ['uniform', 'grid', 'bac (top-n 6)', 'acs', 'unified'],
    );
  });

  it('finalists: the lowest scores in order (ties: the earlier), and the start always among them', () => {
    assert.deepEqual(finalistIndices([0.3, 0.1, 0.2, 0.1], 2, 1), [1, 3]);
    assert.deepEqual(finalistIndices([0.3, 0.1, 0.2, 0.1], 2, 0), [1, 3, 0]);
    assert.deepEqual(finalistIndices([0.3, 0.1], 5, 0), [1, 0]);
  });

  it('a tuned table is written as its start plus edits, and re-solving it keeps the table', () => {
    for (const c of populationOf(o, 24, 3).filter((x) => x.moves > 0 && x.method !== 'grid')) {
      const schedule = scheduleFromTable(c.base, c.table);
      assert.deepEqual(updateTable(schedule, blockIds), c.table, c.label);
      assert.deepEqual(schedule.solver, c.base.solver, 'the start family and its parameters');
      const changed = schedule.blocks.reduce((a, b) => a + b.manual.length + b.manualOff.length, 0);
      const start = updateTable(c.base, blockIds);
      const differs = c.table.reduce((a, v, i) => a + (v !== start[i] ? 1 : 0), 0);
      assert.equal(changed, differs, 'every changed cell is one edit');
      const resolved = solveAtBudget(methodOf(schedule), profile, schedule.solver.budget, {
        ...o,
        topN: schedule.solver.topN,
        edits: manualEditsOf(schedule),
      });
      assert.deepEqual(updateTable(resolved, blockIds), c.table, `${c.label}: re-solved with its own controls`);
    }
  });
});
