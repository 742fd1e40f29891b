import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { solveAcs } from '../../src/core/acs';
import { buildBaseline, fullSteps, uniformSteps } from '../../src/core/baselines';
import { updateSteps } from '../../src/core/blocks';
import { expectedSpeedup, summarizeSchedule } from '../../src/core/cost';
import { predictedError } from '../../src/core/error-proxy';
import { manualEditsOf, solveSchedule } from '../../src/core/solve';
import type { FileRef } from '../../src/core/types';
import { tinyProfile } from './helpers/tiny-profile';

const model: FileRef = { path: 'model.onnx', sha256: 'a'.repeat(64) };

describe('baselines', () => {
  it('Uniform(10) on K = 100 updates exactly at 0, 10, …, 90', () => {
    assert.deepEqual(uniformSteps(100, 10), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    assert.deepEqual(uniformSteps(4, 4), [0, 1, 2, 3]);
    assert.deepEqual(fullSteps(3), [0, 1, 2]);
    assert.throws(() => uniformSteps(100, 0), /budget 0 is out of range/);
  });

  it('builds Full, Uniform, Unified ACS, ACS w/o BUA and BAC from one profile', () => {
    const p = tinyProfile(3, 20);
    const full = buildBaseline('full', p, model, 10, 2, true);
    assert.ok(full.blocks.every((b) => updateSteps(b).length === 20));
    const uni = buildBaseline('uniform', p, model, 5, 2, true);
    assert.ok(uni.blocks.every((b) => updateSteps(b).join() === '0,4,8,12,16'));
    const unified = buildBaseline('unified-acs', p, model, 5, 2, true);
    const ref = solveAcs({ size: 20, data: p.blocks[0]!.simMean }, 5, { forceLast: true }).steps;
    assert.ok(unified.blocks.every((b) => updateSteps(b).join() === ref.join()));
    const noBua = buildBaseline('acs-no-bua', p, model, 5, 2, true);
    assert.ok(noBua.blocks.every((b) => b.bua.length === 0 && b.acs.length === 5 && b.acs.at(-1) === 19));
    const bac = buildBaseline('bac', p, model, 5, 2, true);
    assert.ok(
      bac.blocks.some((b) => b.bua.length > 0),
      'BUA added error-correction steps',
    );
    assert.deepEqual(
      bac.blocks.map((b) => b.acs),
      noBua.blocks.map((b) => b.acs),
      'BUA keeps the ACS sets',
    );
  });
});

describe('solveSchedule', () => {
  it('keeps every invariant: sorted, disjoint origins, step 0 present, budget respected', () => {
    const p = tinyProfile(4, 30, 9);
    const s = solveSchedule(p, { budget: 6, topN: 3, forceLast: true, profile: null }, model);
    assert.equal(s.blocks.length, 12);
    for (const b of s.blocks) {
      const all = updateSteps(b);
      assert.equal(new Set(all).size, all.length, `${b.id}: origins overlap`);
      assert.equal(all[0], 0);
      assert.equal(b.acs.length, 6);
      for (const list of [b.acs, b.bua]) for (let i = 1; i < list.length; i++) assert.ok(list[i]! > list[i - 1]!);
    }
  });

  it('carries manual additions and removals across a re-solve with another budget', () => {
    const p = tinyProfile(2, 20, 3);
    const first = solveSchedule(p, { budget: 4, topN: 1, forceLast: true, profile: null }, model);
    const b0 = first.blocks[0]!;
    const removed = b0.acs[1]!;
    const added = [...Array(20).keys()].find((k) => !updateSteps(b0).includes(k))!;
    const edited = {
      ...first,
      blocks: first.blocks.map((b, i) => (i === 0 ? { ...b, manual: [added], manualOff: [removed] } : b)),
    };
    const again = solveSchedule(
      p,
      { budget: 6, topN: 1, forceLast: true, profile: null },
      model,
      manualEditsOf(edited),
    );
    const a0 = again.blocks[0]!;
    assert.ok(updateSteps(a0).includes(added) && a0.manual.includes(added));
    assert.ok(!updateSteps(a0).includes(removed));
    assert.deepEqual(a0.manualOff, [removed]);
  });
});

describe('cost model', () => {
  it('reproduces full/cached by hand', () => {
    // K = 4, c0 = 10 FLOPs, two blocks of 20 FLOPs updating 2 and 1 times:
    // full = 4·(10 + 40) = 200, cached = 4·10 + 2·20 + 1·20 = 100 → 2×.
    const s = expectedSpeedup(
      { flops: 10, timeUs: 0 },
      [
        { cost: { flops: 20, timeUs: 0 }, updates: 2 },
        { cost: { flops: 20, timeUs: 0 }, updates: 1 },
      ],
      4,
    );
    assert.equal(s.flops, 2);
    assert.equal(s.time, null, 'no measured time → no time speedup');
    // Time: c0 = 1 µs, blocks 3 and 6 µs updating 4 and 1 times: full = 4·10 = 40, cached = 4 + 12 + 6 = 22.
    const t = expectedSpeedup(
      { flops: 0, timeUs: 1 },
      [
        { cost: { flops: 0, timeUs: 3 }, updates: 4 },
        { cost: { flops: 0, timeUs: 6 }, updates: 1 },
      ],
      4,
    );
    assert.equal(t.time, 40 / 22);
  });

  it('summarises a schedule: Full is 1×, fewer updates are faster', () => {
    const p = tinyProfile(2, 10);
    const full = summarizeSchedule(buildBaseline('full', p, model, 10, 0, false));
    assert.deepEqual(full, { updates: 60, fullUpdates: 60, speedupFlops: 1, speedupTime: 1 });
    const uni = summarizeSchedule(buildBaseline('uniform', p, model, 2, 0, false));
    assert.equal(uni.updates, 12);
    // c0 = 500; per call Σc_b = 2·(1000+1000+2000) = 8000 → full = 10·8500, cached = 10·500 + 2·8000.
    assert.equal(uni.speedupFlops, 85000 / 21000);
  });
});

describe('predicted-error proxy', () => {
  it('is 0 for Full and grows as the budget shrinks', () => {
    const p = tinyProfile(3, 40, 5);
    assert.equal(predictedError(buildBaseline('full', p, model, 40, 0, false), p).total, 0);
    const errs = [20, 10, 5, 2].map((M) => predictedError(buildBaseline('uniform', p, model, M, 0, false), p).total);
    for (let i = 1; i < errs.length; i++) assert.ok(errs[i]! > errs[i - 1]!, `proxy ${errs.join(', ')} must grow`);
  });

  it('matches a hand computation and ranks ACS at least as well as Uniform per block', () => {
    const p = tinyProfile(1, 4, 2);
    const s = buildBaseline('uniform', p, model, 2, 0, false); // updates {0, 2}
    let expected = 0;
    const meanL1 = p.blocks.reduce((a, b) => a + b.l1Mean, 0) / 3;
    for (const b of p.blocks) {
      const sim = (i: number, j: number) => b.simMean[i * 4 + j]!;
      expected += (b.l1Mean / meanL1) * (1 - sim(0, 1) + (1 - sim(2, 3)));
    }
    assert.ok(Math.abs(predictedError(s, p).total - expected / 12) < 1e-9);
    const q = tinyProfile(2, 30, 11);
    const acs = predictedError(buildBaseline('acs-no-bua', q, model, 6, 0, false), q).total;
    const uni = predictedError(buildBaseline('uniform', q, model, 6, 0, false), q).total;
    assert.ok(acs <= uni, `ACS ${acs} should not be worse than Uniform ${uni} on the proxy`);
  });
});

describe('trade-off curves', () => {
  it('gives one point per budget, consistent with solving each budget alone', async () => {
    const { tradeoffCurves } = await import('../../src/core/tradeoff');
    const p = tinyProfile(2, 12, 4);
    const curves = tradeoffCurves(p, 2, true);
    assert.equal(curves.uniform.length, 12);
    assert.equal(curves.bac.length, 11, 'M = 1 is infeasible with forceLast');
    for (const pt of curves.bac) {
      const s = solveSchedule(p, { budget: pt.budget, topN: 2, forceLast: true, profile: null }, model);
      assert.equal(pt.speedupFlops, summarizeSchedule(s).speedupFlops);
      assert.equal(pt.predictedError, predictedError(s, p).total);
    }
    assert.equal(curves.bac.at(-1)!.predictedError, 0, 'M = K is the full run');
  });
});
