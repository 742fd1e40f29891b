import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeTolerance } from '../../src/core/quality';
import { defaultBudgets, defaultGrid, paretoFront, qualityLimit, recommend } from '../../src/core/sweep';
import {
  configId,
  configLabel,
  parseSweepReport,
  serializeSweepReport,
  type SweepConfig,
  type SweepResult,
} from '../../src/core/sweep-format';
import { sweepReport, sweepResult } from './helpers/sweep-report';

const result = sweepResult;
const ref: SweepConfig = { sampler: 'ddpm', steps: 100, method: 'full', budget: null };
const d10: SweepConfig = { sampler: 'ddim', steps: 10, method: 'full', budget: null };
const d10bac: SweepConfig = { sampler: 'ddim', steps: 10, method: 'bac', budget: 3 };
const d5: SweepConfig = { sampler: 'ddim', steps: 5, method: 'full', budget: null };

describe('sweep grid', () => {
  it('tries fewer-step samplers and caches at K ≥ 6 only', () => {
    assert.deepEqual(defaultBudgets(5), []);
    assert.deepEqual(defaultBudgets(6), [3]);
    assert.deepEqual(defaultBudgets(10), [3, 5]);
    assert.deepEqual(defaultBudgets(100), [10, 20]);
    const grid = defaultGrid({ sampler: 'ddpm', steps: 100 });
    const ids = grid.map(configId);
    assert.equal(ids[0], 'ddpm-100/full');
    for (const id of [
      'ddpm-10/full',
      'ddpm-5/full',
      'ddim-5/full',
      'dpmsolver++-4/full',
      'dpmsolver++-10/bac-3',
      'dpmsolver++-6/bac-3',
      'ddpm-100/uniform-20',
    ])
      assert.ok(ids.includes(id), id);
    assert.ok(!ids.some((id) => id.startsWith('ddim-5/bac')), 'no caching at K = 5');
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  });

  it('never exceeds the reference K', () => {
    const grid = defaultGrid({ sampler: 'dpmsolver++', steps: 10 });
    assert.ok(grid.every((c) => c.steps <= 10));
    assert.equal(grid.filter((c) => c.sampler === 'dpmsolver++' && c.steps === 10 && c.method === 'full').length, 1);
  });

  it('labels configurations as people write them', () => {
    assert.equal(configLabel(d10bac), 'DDIM-10 · BAC S=3');
    assert.equal(configLabel({ ...ref, sampler: 'dpmsolver++', steps: 10 }), 'DPM-Solver++-10 · full');
  });
});

describe('Pareto front and recommendation', () => {
  const results = [
    result(ref, 1, 0.01, 2400),
    result(d10, 9, 0.011, 240),
    result(d10bac, 14, 0.0104, 100),
    result(d5, 18, 0.03, 120),
  ];

  it('keeps the undominated points, by speedup', () => {
    assert.deepEqual(paretoFront(results, 'demo-mse'), ['ddpm-100/full', 'ddim-10/bac-3', 'ddim-5/full']);
  });

  it('recommends the fastest within tolerance, the reference when nothing else qualifies', () => {
    assert.equal(recommend(results, ref, 'demo-mse', 0.05), 'ddim-10/bac-3');
    assert.equal(recommend(results, ref, 'demo-mse', 0.2), 'ddim-10/bac-3');
    assert.equal(recommend(results, ref, 'demo-mse', 3), 'ddim-5/full');
    assert.equal(recommend(results, ref, 'demo-mse', 0.001), 'ddpm-100/full');
    assert.throws(() => recommend(results.slice(1), ref, 'demo-mse', 0.05), /reference configuration ddpm-100\/full/);
  });

  it('bounds the reference distance absolutely (it is 0 at the reference), error measures relative to the reference', () => {
    const withDistance = (r: SweepResult, d: number): SweepResult => ({
      ...r,
      quality: { ...r.quality, 'reference-distance': { value: d, seedStd: null, windowSe: 0.005 } },
    });
    const rs = [
      withDistance(results[0]!, 0),
      withDistance(results[1]!, 0.015),
      withDistance(results[2]!, 0.03),
      withDistance(results[3]!, 0.06),
    ];
    assert.equal(qualityLimit(rs[0]!, 'reference-distance', 0.02), 0.02);
    assert.ok(Math.abs(qualityLimit(rs[0]!, 'demo-mse', 0.05) - 0.0105) < 1e-15);
    assert.equal(recommend(rs, ref, 'reference-distance', 0.02), 'ddim-10/full');
    assert.equal(recommend(rs, ref, 'reference-distance', 0.04), 'ddim-10/bac-3');
    assert.equal(recommend(rs, ref, 'reference-distance', 0.01), 'ddpm-100/full');
    // a report without the measure (null) never qualifies, whatever the tolerance
    assert.equal(recommend(results, ref, 'reference-distance', 1), 'ddpm-100/full');
  });

  it('bounds closed-loop failures by a margin of points above the reference', () => {
    const withFailures = (r: SweepResult, f: number): SweepResult => ({
      ...r,
      quality: { ...r.quality, 'closed-loop-failure': { value: f, seedStd: null, windowSe: 0.02 } },
    });
    // reference 20 % failures; then 22 %, 24 % and 35 %, each faster than the one before
    const rs = [
      withFailures(results[0]!, 0.2),
      withFailures(results[1]!, 0.22),
      withFailures(results[2]!, 0.24),
      withFailures(results[3]!, 0.35),
    ];
    assert.ok(Math.abs(qualityLimit(rs[0]!, 'closed-loop-failure', 0.03) - 0.23) < 1e-15);
    assert.equal(recommend(rs, ref, 'closed-loop-failure', 0.03), 'ddim-10/full');
    assert.equal(recommend(rs, ref, 'closed-loop-failure', 0.05), 'ddim-10/bac-3');
    assert.equal(recommend(rs, ref, 'closed-loop-failure', 0), 'ddpm-100/full');
    assert.equal(
      describeTolerance('closed-loop-failure', 0.03),
      "closed-loop-failure at most 3.0 points above the reference's",
    );
    assert.equal(describeTolerance('reference-distance', 0.02), 'reference-distance ≤ 0.02');
    assert.equal(describeTolerance('demo-mse', 0.05), 'demo-mse within 5.0 % of the reference');
  });
});

describe('.bacsweep format', () => {
  const report = sweepReport(ref, [result(ref, 1, 0.01), result(d10, 9, 0.011)], {
    pareto: ['ddpm-100/full', 'ddim-10/full'],
    recommendation: 'ddim-10/full',
    recommendedSchedule: 'x.bacschedule',
  });

  it('round-trips', () => {
    assert.deepEqual(parseSweepReport(serializeSweepReport(report)), report);
  });

  it('reads a report written before a measure existed with that measure null', () => {
    const old = JSON.parse(serializeSweepReport(report)) as { results: { quality: Record<string, unknown> }[] };
    for (const r of old.results) delete r.quality['reference-distance'];
    const read = parseSweepReport(JSON.stringify(old));
    assert.ok(read.results.every((r) => r.quality['reference-distance'] === null));
  });

  it('keeps the trial episodes of a closed-loop sweep, and rejects a malformed record of them', () => {
    const loop = { ...report, closedLoop: { episodes: 400, seed: 720_000, noiseSeed: 1 } };
    assert.deepEqual(parseSweepReport(serializeSweepReport(loop)), loop);
    assert.throws(
      () => parseSweepReport(JSON.stringify({ ...loop, closedLoop: { ...loop.closedLoop, episodes: 'many' } })),
      /closedLoop\.episodes must be an integer/,
    );
  });

  it('rejects broken reports with one actionable message', () => {
    assert.throws(() => parseSweepReport('{'), /not JSON.*re-run bac sweep/);
    assert.throws(() => parseSweepReport(JSON.stringify({ ...report, format: 'x' })), /format is "x"/);
    assert.throws(
      () => parseSweepReport(JSON.stringify({ ...report, recommendation: 'ddim-5/full' })),
      /recommendation ddim-5\/full is not one of the results/,
    );
    const bad = { ...report, results: [{ ...report.results[0], config: { ...ref, budget: 3 } }] };
    assert.throws(() => parseSweepReport(JSON.stringify(bad)), /results\[0\]\.config\.budget must be null for full/);
  });
});
