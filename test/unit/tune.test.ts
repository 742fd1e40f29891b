import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { updateSteps } from '../../src/core/blocks';
import { scheduleSpeedup } from '../../src/core/cost-target';
import type { Profile } from '../../src/core/types';
import type { WindowSample } from '../../src/engine/episodes';
import { loadPolicy, policyScheduler, type Policy } from '../../src/engine/policy';
import { loadWindows } from '../../src/engine/profiler';
import { tuneAndWrite, tuneSchedule, TuneCancelledError, type TuneRequest } from '../../src/engine/tune';
import { syntheticProfile } from './helpers/synthetic-profile';

const root = join(__dirname, '..', '..');

/**
 * The demo policy under DDIM-10 with a synthetic profile of its 24 blocks (the search only needs
 * the profile's costs and the start schedules; the measure comes from the real model).
 */
describe('bac tune (demo policy, DDIM-10, 3 windows)', () => {
  let policy: Policy;
  let request: TuneRequest;
  let dir: string;

  before(async () => {
    policy = await loadPolicy(join(root, 'fixtures/demo/policy.onnx'));
    const episodes = join(root, 'fixtures/demo/episodes/heldout.hdf5');
    const windows: WindowSample[] = await loadWindows(policy, episodes, 9, 3);
    const profile: Profile = syntheticProfile({ layers: 8, steps: 10, seed: 2 });
    request = {
      policy,
      scheduler: policyScheduler(policy, 10, 'ddim'),
      profile,
      target: { speedup: 2, by: 'flops' },
      forceLast: true,
      topN: 3,
      model: profile.model,
      profileRef: null,
      objective: {
        kind: 'offline',
        measure: 'firstAction',
        tuneWindows: windows.slice(0, 3),
        heldoutWindows: windows.slice(3, 6),
        selectionWindows: windows.slice(6),
      },
      search: { kind: 'local', iterations: 8 },
      seed: 5,
      threads: 1,
    };
    dir = mkdtempSync(join(tmpdir(), 'bac-tune-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('same seed → same schedule; never exceeds the cost target; never worse than its start on the tuning windows', async () => {
    const a = await tuneSchedule(request);
    const b = await tuneSchedule(request);
    assert.deepEqual(
      a.schedule.blocks.map((x) => updateSteps(x)),
      b.schedule.blocks.map((x) => updateSteps(x)),
    );
    assert.ok(scheduleSpeedup(a.schedule, 'flops') >= 2, `speedup ${scheduleSpeedup(a.schedule, 'flops')}`);
    assert.ok(a.tune.tuned <= a.tune.start);
    assert.ok(['uniform', 'grid', 'bac'].includes(a.start));
    for (const blk of a.schedule.blocks) {
      const steps = updateSteps(blk);
      assert.equal(steps[0], 0);
      assert.equal(steps.at(-1), 9, 'forceLast keeps the last step');
    }
    assert.ok(Number.isFinite(a.heldout.start) && Number.isFinite(a.heldout.tuned));
  });

  it('cancel leaves no file', async () => {
    const abort = new AbortController();
    const out = join(dir, 'tuned.bacschedule');
    await assert.rejects(
      tuneAndWrite({ ...request, signal: abort.signal, onProgress: (p) => p.iteration === 2 && abort.abort() }, out),
      TuneCancelledError,
    );
    assert.deepEqual(readdirSync(dir), []);
    await tuneAndWrite({ ...request, search: { kind: 'local', iterations: 1 } }, out);
    assert.deepEqual(readdirSync(dir), ['tuned.bacschedule']);
  });

  it('closed-loop success as the objective: paired trials, deterministic, within the cost target', async () => {
    const closedLoop: TuneRequest = {
      ...request,
      search: { kind: 'local', iterations: 3 },
      objective: {
        kind: 'closedLoop',
        trials: { episodes: 6, seed: 700_000, noiseSeed: 5 },
        heldout: { episodes: 6, seed: 710_000, noiseSeed: 6 },
        selection: { episodes: 6, seed: 730_000, noiseSeed: 7 },
      },
    };
    const a = await tuneSchedule(closedLoop);
    const b = await tuneSchedule(closedLoop);
    assert.equal(a.measure, 'success');
    assert.deepEqual(a.schedule.blocks.map(updateSteps), b.schedule.blocks.map(updateSteps));
    assert.deepEqual([a.tune, a.heldout], [b.tune, b.heldout]);
    assert.ok(scheduleSpeedup(a.schedule, 'flops') >= 2);
    assert.ok(a.tune.tuned <= a.tune.start);
    // Failure rates of 6 episodes.
    for (const v of [a.tune.start, a.tune.tuned, a.heldout.start, a.heldout.tuned, ...Object.values(a.startScores)]) {
      assert.ok(v! >= 0 && v! <= 1 && Number.isInteger(v! * 6), `failure rate ${v}`);
    }
  });

  it('cancel during a closed-loop evaluation leaves no file', async () => {
    const abort = new AbortController();
    const out = join(dir, 'cancelled-loop.bacschedule');
    setTimeout(() => abort.abort(), 50);
    await assert.rejects(
      tuneAndWrite(
        {
          ...request,
          signal: abort.signal,
          objective: {
            kind: 'closedLoop',
            trials: { episodes: 64, seed: 700_000, noiseSeed: 5 },
            heldout: { episodes: 64, seed: 710_000, noiseSeed: 6 },
            selection: { episodes: 64, seed: 730_000, noiseSeed: 7 },
          },
        },
        out,
      ),
      TuneCancelledError,
    );
    assert.ok(!readdirSync(dir).includes('cancelled-loop.bacschedule'));
  });

  it('population search: deterministic, within the target, never worse than its start on the selection set', async () => {
    const population: TuneRequest = { ...request, search: { kind: 'population', size: 9, finalists: 2 } };
    const a = await tuneSchedule(population);
    const b = await tuneSchedule(population);
    assert.deepEqual(a.schedule.blocks.map(updateSteps), b.schedule.blocks.map(updateSteps));
    assert.deepEqual(a.search, b.search);
    assert.ok(scheduleSpeedup(a.schedule, 'flops') >= 2, `speedup ${scheduleSpeedup(a.schedule, 'flops')}`);
    const search = a.search;
    assert.equal(search.kind, 'population');
    if (search.kind !== 'population') return;
    assert.equal(search.size, 9);
    const finalists = search.finalists;
    assert.ok(finalists.length >= 2 && finalists.length <= 3, `${finalists.length} finalists`);
    const chosen = finalists.find((f) => f.label === search.chosen);
    assert.ok(chosen, 'the chosen candidate is a finalist');
    const start = finalists.find((f) => f.label === a.start || f.label === `${a.start} (top-n 3)`);
    assert.ok(start, `the start (${a.start}) is always a finalist: ${finalists.map((f) => f.label).join(', ')}`);
    assert.ok(
      finalists.every((f) => chosen.selection <= f.selection),
      'the best on the selection set is kept',
    );
    assert.equal(a.tune.tuned, chosen.tuning);
    assert.equal(search.selection.tuned, chosen.selection);
    assert.equal(search.selection.start, start.selection);
    assert.ok(search.selection.tuned <= search.selection.start);
    for (const blk of a.schedule.blocks) {
      assert.equal(updateSteps(blk)[0], 0);
      assert.equal(updateSteps(blk).at(-1), 9, 'forceLast keeps the last step');
    }
  });

  it('population search: cancel leaves no file', async () => {
    const abort = new AbortController();
    const out = join(dir, 'population.bacschedule');
    await assert.rejects(
      tuneAndWrite(
        {
          ...request,
          search: { kind: 'population', size: 9, finalists: 2 },
          signal: abort.signal,
          onProgress: (p) => p.iteration === 3 && abort.abort(),
        },
        out,
      ),
      TuneCancelledError,
    );
    assert.ok(!readdirSync(dir).includes('population.bacschedule'));
  });

  it('an unreachable target is a user error before any model run', async () => {
    await assert.rejects(tuneSchedule({ ...request, target: { speedup: 40, by: 'flops' } }), /out of reach/);
  });
});
