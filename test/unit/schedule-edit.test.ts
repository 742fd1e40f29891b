import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { originOf, updateSteps } from '../../src/core/blocks';
import { formatSpeedup } from '../../src/core/cost';
import { analyse, profileMismatch, samplerLabel, validState } from '../../src/core/editor-view';
import { resolveWithControls, STEP_ZERO_REASON, toggleStep } from '../../src/core/schedule-edit';
import { parseSchedule, serializeSchedule } from '../../src/core/schedule-format';
import { solveSchedule } from '../../src/core/solve';
import { tradeoffCurves } from '../../src/core/tradeoff';
import { tinyProfile } from './helpers/tiny-profile';

const model = { path: 'model.onnx', sha256: 'a'.repeat(64) };
const profileRef = { path: 'model.bacprofile', sha256: 'b'.repeat(64) };
const profile = tinyProfile(3, 20);
const base = solveSchedule(profile, { budget: 5, topN: 2, forceLast: true, profile: profileRef }, model);

function ok<T extends { ok: boolean }>(r: T): Extract<T, { ok: true }> {
  assert.ok(r.ok, JSON.stringify(r));
  return r as Extract<T, { ok: true }>;
}

describe('toggleStep', () => {
  it('refuses step 0 with the reason, and unknown blocks or steps', () => {
    assert.deepEqual(toggleStep(base, '0.sa', 0), { ok: false, reason: STEP_ZERO_REASON });
    assert.ok(!toggleStep(base, '9.sa', 3).ok);
    assert.ok(!toggleStep(base, '0.sa', 20).ok);
  });

  it('removes an ACS step into manualOff and re-adds it as manual', () => {
    const b = base.blocks[0]!;
    const step = b.acs.find((s) => s > 0)!;
    const off = ok(toggleStep(base, b.id, step)).schedule;
    assert.equal(originOf(off.blocks[0]!, step), null);
    assert.ok(off.blocks[0]!.manualOff.includes(step));
    const on = ok(toggleStep(off, b.id, step)).schedule;
    assert.equal(originOf(on.blocks[0]!, step), 'manual');
    assert.ok(!on.blocks[0]!.manualOff.includes(step));
    assert.ok(parseSchedule(serializeSchedule(on)).ok);
  });

  it('adds and removes a manual step, leaving other blocks alone', () => {
    const b = base.blocks[1]!;
    const step = [...Array(20).keys()].find((k) => originOf(b, k) === null)!;
    const on = ok(toggleStep(base, b.id, step)).schedule;
    assert.equal(originOf(on.blocks[1]!, step), 'manual');
    assert.equal(on.blocks[0], base.blocks[0]);
    const off = ok(toggleStep(on, b.id, step)).schedule;
    assert.equal(serializeSchedule(off), serializeSchedule(base));
  });
});

describe('resolveWithControls', () => {
  it('re-solves and keeps manual edits', () => {
    const edited = ok(toggleStep(base, '1.ca', 7)).schedule;
    const wasUpdate =
      originOf(
        base.blocks.find((b) => b.id === '1.ca')!,
        7,
      ) !== null;
    const r = ok(resolveWithControls(edited, profile, { budget: 8, topN: 1, forceLast: false })).schedule;
    assert.equal(r.solver.budget, 8);
    assert.deepEqual(r.solver.profile, profileRef);
    const blk = r.blocks.find((b) => b.id === '1.ca')!;
    assert.equal(originOf(blk, 7), wasUpdate ? null : 'manual');
  });

  it('refuses out-of-range controls with a sentence', () => {
    assert.match(
      (resolveWithControls(base, profile, { budget: 0, topN: 1, forceLast: true }) as { reason: string }).reason,
      /Budget 0/,
    );
    assert.match(
      (resolveWithControls(base, profile, { budget: 21, topN: 1, forceLast: true }) as { reason: string }).reason,
      /1…20/,
    );
    assert.match(
      (resolveWithControls(base, profile, { budget: 1, topN: 1, forceLast: true }) as { reason: string }).reason,
      /at least 2/,
    );
    assert.match(
      (resolveWithControls(base, profile, { budget: 5, topN: 10, forceLast: true }) as { reason: string }).reason,
      /Top-n 10/,
    );
    assert.ok(resolveWithControls(base, profile, { budget: 1, topN: 1, forceLast: false }).ok);
    assert.ok(!resolveWithControls(base, tinyProfile(3, 10), { budget: 5, topN: 1, forceLast: true }).ok);
  });
});

describe('editor view model', () => {
  it('similarity to the cache source is 1 at updates and the profile entry elsewhere', () => {
    const a = analyse(base, profile, null);
    base.blocks.forEach((b, i) => {
      const ups = new Set(updateSteps(b));
      let src = 0;
      for (let k = 0; k < 20; k++) {
        if (ups.has(k)) src = k;
        const expected = profile.blocks[i]!.simMean[src * 20 + k]!;
        assert.ok(Math.abs(a.simToSource[i]![k]! - expected) < 1e-4);
      }
      assert.equal(a.l1[i]!.mean, profile.blocks[i]!.l1Mean);
    });
    assert.ok(a.predictedError > 0);
  });

  it('builds a valid state with summary and tradeoff curves', () => {
    const curves = tradeoffCurves(profile, 2, true);
    const s = validState(
      'x.bacschedule',
      base,
      { state: 'ok', message: '', path: 'model.bacprofile' },
      { state: 'ok', message: '' },
      analyse(base, profile, curves),
      false,
    );
    assert.equal(s.blocks.length, 9);
    assert.equal(s.blocks[4]!.kind, 'ca');
    assert.equal(s.blocks[4]!.layer, 1);
    assert.equal(s.analysis!.tradeoff!.uniform.length, 20);
    assert.equal(s.summary.fullUpdates, 180);
  });

  it('explains why a profile does not fit', () => {
    assert.equal(profileMismatch(base, profile), null);
    assert.match(profileMismatch(base, tinyProfile(3, 10))!, /K = 10/);
    assert.match(profileMismatch(base, tinyProfile(2, 20))!, /blocks differ/);
  });

  it('formats speedups with one decimal', () => {
    assert.equal(formatSpeedup(3.444), '3.44×');
    assert.equal(formatSpeedup(null), 'n/a');
  });

  it('names samplers as people write them', () => {
    assert.equal(samplerLabel('ddpm'), 'DDPM');
    assert.equal(samplerLabel('ddim'), 'DDIM');
    assert.equal(samplerLabel('dpmsolver++'), 'DPM-Solver++');
  });
});
