import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeTolerance } from '../../src/core/quality';
import {
  budgetsBelowK,
  defaultBudgets,
  defaultGrid,
  gridOf,
  paretoFront,
  qualityLimit,
  recommend,
} from '../../src/core/sweep';
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
/** Two included schedules at the same sampler, K and budget: only their files tell them apart. */
const tuned: SweepConfig = {
  sampler: 'dpmsolver++',
  steps: 6,
  method: 'schedule',
  budget: 3,
  file: 'tuned.bacschedule',
};
const hand: SweepConfig = { ...tuned, file: 'runs/hand.bacschedule' };

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
    assert.equal(configLabel({ ...tuned, file: undefined }), 'DPM-Solver++-6 · this schedule S=3');
  });

  it('tries given budgets below K at every K; a K with none left gets no cache rows', () => {
    const at = budgetsBelowK([3, 2, 3]);
    assert.deepEqual(at(10), [2, 3], 'ascending, without repeats');
    assert.deepEqual(at(3), [2], 'S = K is the full model');
    assert.deepEqual(at(2), []);
    const ids = gridOf(
      [
        { sampler: 'ddim', steps: 10 },
        { sampler: 'ddpm', steps: 2 },
      ],
      ['uniform', 'bac'],
      at,
    ).map(configId);
    assert.deepEqual(ids, [
      'ddim-10/full',
      'ddim-10/uniform-2',
      'ddim-10/uniform-3',
      'ddim-10/bac-2',
      'ddim-10/bac-3',
      'ddpm-2/full',
    ]);
    for (const bad of [[], [0], [2, 1.5], [-1]]) assert.throws(() => budgetsBelowK(bad), /integers ≥ 1/);
  });

  it('tells included schedules apart by their files, in ids and labels', () => {
    assert.equal(configId(tuned), 'dpmsolver++-6/schedule-3@tuned.bacschedule');
    assert.notEqual(configId(tuned), configId(hand));
    assert.equal(configLabel(tuned), 'DPM-Solver++-6 · tuned.bacschedule S=3');
    assert.equal(configLabel(hand), 'DPM-Solver++-6 · runs/hand.bacschedule S=3');
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

  it('recommends an included schedule when it is the fastest within tolerance', () => {
    const withIncluded = [...results, result(tuned, 16, 0.0102, 60), result(hand, 17, 0.02, 50)];
    assert.equal(recommend(withIncluded, ref, 'demo-mse', 0.05), 'dpmsolver++-6/schedule-3@tuned.bacschedule');
    assert.equal(recommend(withIncluded, ref, 'demo-mse', 1.5), 'dpmsolver++-6/schedule-3@runs/hand.bacschedule');
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

  it("keeps an included schedule's file, and writes reports without one as before", () => {
    const withFile = sweepReport(ref, [result(ref, 1, 0.01), result(tuned, 9, 0.011), result(hand, 9, 0.011)], {
      recommendation: configId(hand),
    });
    const read = parseSweepReport(serializeSweepReport(withFile));
    assert.deepEqual(read, withFile);
    assert.equal(read.results[2]!.config.file, 'runs/hand.bacschedule');
    assert.ok(!serializeSweepReport(report).includes('"file"'));
    const broken = (config: object) => JSON.stringify({ ...report, results: [{ ...report.results[0], config }] });
    assert.throws(
      () => parseSweepReport(broken({ ...ref, file: 'x.bacschedule' })),
      /config\.file .*only with method schedule/,
    );
    assert.throws(() => parseSweepReport(broken({ ...tuned, file: 3 })), /config\.file must be a schedule's path/);
    const twice = sweepReport(ref, [result(ref, 1, 0.01), result(tuned, 9, 0.011), result(tuned, 9, 0.011)]);
    assert.throws(() => parseSweepReport(serializeSweepReport(twice)), /results\[2\] repeats configuration/);
  });

  it('reads the demo report written before included schedules, and writes it back the same', () => {
    const text = readFileSync(join(__dirname, '..', '..', 'fixtures', 'demo', 'sweep', 'demo.bacsweep'), 'utf8');
    const read = parseSweepReport(text);
    assert.ok(read.results.every((r) => r.config.file === undefined));
    assert.ok(read.results.some((r) => configId(r.config) === read.recommendation));
    // the reader fills in the measure the demo report predates; everything else is byte for byte
    assert.equal(serializeSweepReport(read).replace(/,\n\s*"closed-loop-failure": null/g, ''), text);
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
