import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSweepHostMessage, isSweepWebviewMessage } from '../../src/core/protocol';
import { solveSchedule } from '../../src/core/solve';
import { isFullSchedule, scheduleUpdates } from '../../src/core/sweep';
import type { SweepConfig } from '../../src/core/sweep-format';
import { pointScheduleFile, scheduleForSweepPoint, sweepPanelState } from '../../src/core/sweep-view';
import { sweepReport, sweepResult } from './helpers/sweep-report';
import { syntheticProfile } from './helpers/synthetic-profile';

const profile = syntheticProfile({ layers: 2, steps: 20, seed: 3 });
const target = solveSchedule(profile, { budget: 5, topN: 1, forceLast: true, profile: null }, profile.model);
const res = sweepResult;
const ref: SweepConfig = { sampler: 'ddpm', steps: 20, method: 'full', budget: null };
const report = sweepReport(
  ref,
  [
    res(ref, 1, 1),
    res({ sampler: 'ddim', steps: 5, method: 'full', budget: null }, 4, 1.01),
    res({ sampler: 'ddpm', steps: 20, method: 'uniform', budget: 5 }, 3, 1.5),
    res({ sampler: 'ddpm', steps: 20, method: 'bac', budget: 5 }, 2.5, 1.2),
  ],
  {
    model: profile.model,
    pareto: ['ddpm-20/full', 'ddim-5/full'],
    recommendation: 'ddim-5/full',
    recommendedSchedule: 'r.bacschedule',
    notes: ['n'],
  },
);

describe('Sweep panel state and apply', () => {
  it('labels every point, marks the front and the recommendation, says which can be applied', () => {
    const s = sweepPanelState(report, 'demo.bacsweep', 'policy.bacschedule');
    assert.equal(s.points.length, 4);
    const rec = s.points.find((p) => p.recommended)!;
    assert.equal(rec.label, 'DDIM-5 · full');
    assert.ok(rec.pareto && rec.applicable);
    assert.deepEqual(
      s.points.map((p) => p.applicable),
      [true, true, true, false],
      'BAC at a budget needs its profile (only the recommendation ships one)',
    );
    assert.equal(s.target, 'policy.bacschedule');
    assert.equal(s.qualityScale, 'log');
    assert.ok(Math.abs(s.qualityLimit! - 1.05) < 1e-12, 'demo-mse: the reference · (1 + 0.05)');
    assert.equal(rec.qualityText, '1.01e+0 ±1.0e-1');
  });

  it('draws the reference distance on a linear axis with its absolute limit and standard error', () => {
    const withDistance = sweepReport(
      ref,
      report.results.map((r, i) => ({
        ...r,
        quality: {
          ...r.quality,
          'reference-distance': { value: [0, 0.012, -0.001, 0.05][i]!, seedStd: null, windowSe: 0.004 },
        },
      })),
      { model: profile.model, measure: 'reference-distance', tolerance: 0.02 },
    );
    const s = sweepPanelState(withDistance, 'demo.bacsweep', null);
    assert.equal(s.qualityScale, 'linear');
    assert.equal(s.qualityLimit, 0.02);
    assert.deepEqual(
      s.points.map((p) => p.qualityText),
      ['0.000 ±0.004', '0.012 ±0.004', '-0.001 ±0.004', '0.050 ±0.004'],
    );
  });

  it('writes sampler type and K into the schedule, keeping its model and block costs', () => {
    const full = scheduleForSweepPoint(report, 'ddim-5/full', target, null);
    assert.deepEqual(full.sampler, { type: 'ddim', steps: 5 });
    assert.ok(isFullSchedule(full));
    assert.deepEqual(full.model, target.model);
    assert.deepEqual(
      full.blocks.map((b) => b.cost),
      target.blocks.map((b) => b.cost),
    );
    const uni = scheduleForSweepPoint(report, 'ddpm-20/uniform-5', target, null);
    assert.equal(scheduleUpdates(uni), 5 * target.blocks.length);
    assert.throws(() => scheduleForSweepPoint(report, 'ddpm-20/bac-5', target, null), /needs its profile/);
    assert.throws(() => scheduleForSweepPoint(report, 'nope', target, null), /not in the sweep report/);
    const other = { ...target, model: { ...target.model, sha256: 'f'.repeat(64) } };
    assert.throws(() => scheduleForSweepPoint(report, 'ddim-5/full', other, null), /another model/);
  });

  it('labels included schedules by file and applies one as its own schedule file', () => {
    const tuned: SweepConfig = { sampler: 'ddpm', steps: 20, method: 'schedule', budget: 5, file: 'tuned.bacschedule' };
    const hand: SweepConfig = { ...tuned, file: 'hand.bacschedule' };
    const withIncluded = { ...report, results: [...report.results, res(tuned, 3.2, 1.3), res(hand, 3.1, 1.4)] };
    const s = sweepPanelState(withIncluded, 'demo.bacsweep', 'policy.bacschedule');
    const points = s.points.filter((p) => p.id.includes('/schedule-'));
    assert.deepEqual(
      points.map((p) => [p.label, p.applicable]),
      [
        ['DDPM-20 · tuned.bacschedule S=5', true],
        ['DDPM-20 · hand.bacschedule S=5', true],
      ],
    );
    assert.equal(pointScheduleFile(withIncluded, points[1]!.id), 'hand.bacschedule');
    assert.equal(pointScheduleFile(withIncluded, 'ddim-5/full'), 'r.bacschedule', 'the recommendation');
    assert.equal(pointScheduleFile(withIncluded, 'ddpm-20/bac-5'), null);
    const stored = {
      ...target,
      sampler: { type: 'ddpm', steps: 20 },
      model: { ...target.model, path: 'elsewhere.onnx' },
    };
    const applied = scheduleForSweepPoint(withIncluded, points[1]!.id, target, stored);
    assert.deepEqual(applied, { ...stored, model: target.model });
    assert.throws(
      () => scheduleForSweepPoint(withIncluded, points[0]!.id, target, null),
      /tuned\.bacschedule .*missing or not a valid schedule/,
    );
  });

  it('guards the panel messages', () => {
    assert.ok(isSweepWebviewMessage({ type: 'ready' }));
    assert.ok(isSweepWebviewMessage({ type: 'applySweepConfig', id: 'ddim-5/full' }));
    assert.ok(!isSweepWebviewMessage({ type: 'applySweepConfig', id: 3 }));
    assert.ok(!isSweepWebviewMessage({ type: 'toggleStep' }));
    assert.ok(isSweepHostMessage({ type: 'sweepState', state: sweepPanelState(report, 'x', null) }));
    assert.ok(!isSweepHostMessage({ type: 'state', state: {} }));
  });
});
