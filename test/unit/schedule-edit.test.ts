import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { originOf, updateSteps } from '../../src/core/blocks';
import { formatSpeedup, summarizeSchedule } from '../../src/core/cost';
import { methodOf } from '../../src/core/methods';
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
    const r = ok(
      resolveWithControls(edited, profile, { method: 'bac', budget: 8, topN: 1, forceLast: false }),
    ).schedule;
    assert.equal(r.solver.budget, 8);
    assert.deepEqual(r.solver.profile, profileRef);
    const blk = r.blocks.find((b) => b.id === '1.ca')!;
    assert.equal(originOf(blk, 7), wasUpdate ? null : 'manual');
  });

  it('re-solves with another method, records it in the file, and keeps it on the next budget change', () => {
    const edited = ok(toggleStep(base, '1.ca', 7)).schedule;
    const uniform = ok(
      resolveWithControls(edited, profile, { method: 'uniform', budget: 4, topN: 2, forceLast: true }),
    ).schedule;
    assert.equal(methodOf(uniform), 'uniform');
    assert.equal(
      originOf(
        uniform.blocks.find((b) => b.id === '1.ca')!,
        7,
      ) !== null,
      true,
      'the hand edit is kept',
    );
    const text = serializeSchedule(uniform);
    assert.match(text, /^ {4}"method": "uniform",$/m);
    const reread = parseSchedule(text);
    assert.ok(reread.ok);
    assert.equal(methodOf(reread.schedule), 'uniform');
    assert.equal(serializeSchedule(reread.schedule), text);
    // the editor's next budget change sends the state's method: still uniform, not BAC
    const again = ok(
      resolveWithControls(reread.schedule, profile, { method: 'uniform', budget: 5, topN: 2, forceLast: true }),
    ).schedule;
    assert.equal(methodOf(again), 'uniform');
    const state = validState(
      'x.bacschedule',
      again,
      { state: 'ok', message: '', path: 'model.bacprofile' },
      { state: 'ok', message: '' },
      null,
      false,
    );
    assert.equal(state.solver.method, 'uniform');
    // back to BAC: the file names no method (bac is the default), byte-identical to a plain solve
    const bac = ok(
      resolveWithControls(again, profile, { method: 'bac', budget: 5, topN: 2, forceLast: true }),
    ).schedule;
    assert.doesNotMatch(serializeSchedule(bac), /"method"/);
  });

  it("solves for a target speedup: the method's largest budget that meets it, or a sentence why not", () => {
    for (const method of ['bac', 'uniform', 'grid'] as const) {
      const r = ok(
        resolveWithControls(base, profile, {
          method,
          budget: 5,
          topN: 2,
          forceLast: true,
          target: { speedup: 2, by: 'flops' },
        }),
      ).schedule;
      assert.ok(summarizeSchedule(r).speedupFlops >= 2, `${method}: ${summarizeSchedule(r).speedupFlops}`);
      assert.equal(methodOf(r), method);
    }
    const far = resolveWithControls(base, profile, {
      method: 'uniform',
      budget: 5,
      topN: 2,
      forceLast: true,
      target: { speedup: 1000, by: 'flops' },
    });
    assert.ok(!far.ok);
    assert.match(far.reason, /^Target 1000× by flops is out of reach for uniform: .*lower the target speedup.*\.$/);
  });

  it('refuses out-of-range controls with a sentence', () => {
    assert.match(
      (resolveWithControls(base, profile, { method: 'bac', budget: 0, topN: 1, forceLast: true }) as { reason: string })
        .reason,
      /Budget 0/,
    );
    assert.match(
      (
        resolveWithControls(base, profile, { method: 'bac', budget: 21, topN: 1, forceLast: true }) as {
          reason: string;
        }
      ).reason,
      /1…20/,
    );
    assert.match(
      (resolveWithControls(base, profile, { method: 'bac', budget: 1, topN: 1, forceLast: true }) as { reason: string })
        .reason,
      /at least 2/,
    );
    assert.match(
      (
        resolveWithControls(base, profile, { method: 'bac', budget: 5, topN: 10, forceLast: true }) as {
          reason: string;
        }
      ).reason,
      /Top-n 10/,
    );
    assert.ok(resolveWithControls(base, profile, { method: 'bac', budget: 1, topN: 1, forceLast: false }).ok);
    assert.ok(
      !resolveWithControls(base, tinyProfile(3, 10), { method: 'bac', budget: 5, topN: 1, forceLast: true }).ok,
    );
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
