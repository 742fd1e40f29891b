import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseSchedule, serializeSchedule } from '../../src/core/schedule-format';
import { solveSchedule } from '../../src/core/solve';
import {
  budgetRange,
  checkSolverParams,
  fitSolverDefaults,
  MIN_BUDGET,
  METHOD_LABELS,
  MIN_TOP_N,
  minBudget,
  SCHEDULE_METHODS,
  SOLVER_DEFAULTS,
} from '../../src/core/solver-params';
import { carryEdits, solveAndWriteSchedule } from '../../src/engine/schedule-service';
import { syntheticProfile } from './helpers/synthetic-profile';

const root = join(__dirname, '..', '..');

describe('solver parameters (one module)', () => {
  it("the schedule methods are the schema's solver.method pattern, each with a label", () => {
    const schema = JSON.parse(readFileSync(join(root, 'schemas', 'bacschedule.schema.json'), 'utf8'));
    const pattern: string = schema.properties.solver.properties.method.pattern;
    assert.deepEqual(SCHEDULE_METHODS, /^\^\((.*)\)\$$/.exec(pattern)![1]!.split('|'));
    assert.deepEqual(Object.keys(METHOD_LABELS), [...SCHEDULE_METHODS]);
  });

  it("package.json's bac.solver.* defaults and minima are the module's", () => {
    const props = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).contributes.configuration.properties;
    assert.equal(props['bac.solver.budget'].default, SOLVER_DEFAULTS.budget);
    assert.equal(props['bac.solver.budget'].minimum, MIN_BUDGET);
    assert.equal(props['bac.solver.topN'].default, SOLVER_DEFAULTS.topN);
    assert.equal(props['bac.solver.topN'].minimum, MIN_TOP_N);
    assert.equal(props['bac.solver.forceLast'].default, SOLVER_DEFAULTS.forceLast);
  });

  it('forceLast needs a budget of 2 when K > 1 (step 0 and step K−1)', () => {
    assert.equal(minBudget(10, true), 2);
    assert.equal(minBudget(1, true), 1);
    assert.equal(minBudget(10, false), 1);
    assert.deepEqual(budgetRange(20, true), { min: 2, max: 20 });
  });

  it('explicit values out of range are refused with a sentence; in range they pass', () => {
    const limits = { K: 20, blocks: 6 };
    assert.match(checkSolverParams({ budget: 21, topN: 1, forceLast: true }, limits)!, /Budget 21 .* 1…20/);
    assert.match(checkSolverParams({ budget: 1, topN: 1, forceLast: true }, limits)!, /at least 2/);
    assert.match(checkSolverParams({ budget: 5, topN: 7, forceLast: true }, limits)!, /Top-n 7 .* 0…6/);
    assert.equal(checkSolverParams({ budget: 1, topN: 0, forceLast: false }, limits), undefined);
  });

  it('settings are fitted into the model range and every fit is reported', () => {
    const { params, notes } = fitSolverDefaults({ budget: 50, topN: 99, forceLast: true }, { K: 20, blocks: 6 });
    assert.deepEqual(params, { budget: 20, topN: 6, forceLast: true });
    assert.equal(notes.length, 2);
    assert.match(notes[0]!, /bac\.solver\.budget 50 is outside 2…20 for this model; using 20/);
    assert.deepEqual(fitSolverDefaults(SOLVER_DEFAULTS, { K: 100, blocks: 24 }).notes, []);
  });
});

describe('solve and write a schedule (one service)', () => {
  const profile = syntheticProfile({ layers: 2, steps: 20, seed: 4 });
  const params = { budget: 5, topN: 2, forceLast: true };
  const solved = solveSchedule(profile, { ...params, profile: null }, profile.model);

  it('keeps edits that fit, names those that do not (block missing, step beyond K)', () => {
    const existing = {
      ...solved,
      sampler: { ...solved.sampler, steps: 30 },
      blocks: [
        ...solved.blocks.map((b, i) => (i === 1 ? { ...b, manual: [19, 25] } : b)),
        { ...solved.blocks[0]!, id: '2.sa', manual: [3] },
      ],
    };
    const { edits, kept, dropped } = carryEdits(existing, profile);
    assert.deepEqual(kept, ['0.ca']);
    assert.deepEqual(edits.get('0.ca'), { manual: [19], manualOff: [] });
    assert.deepEqual(
      dropped.map((d) => [d.block, d.reason]),
      [
        ['0.ca', "step 25 beyond the profile's last step 19"],
        ['2.sa', 'block not in the profiled model'],
      ],
    );
  });

  it('refuses (nothing written) unless dropping was allowed, then writes and reports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bac-service-'));
    try {
      const out = join(dir, 's.bacschedule');
      const existing = { ...solved, blocks: solved.blocks.map((b, i) => (i === 0 ? { ...b, id: '0.sa' } : b)) };
      const withGhost = {
        ...existing,
        blocks: [...existing.blocks, { ...solved.blocks[0]!, id: '2.sa', manual: [3] }],
      };
      const req = {
        profile,
        profilePath: join(dir, 'p.bacprofile'),
        profileSha256: 'a'.repeat(64),
        outPath: out,
        params,
      };
      await assert.rejects(
        solveAndWriteSchedule({ ...req, existing: withGhost }),
        /2\.sa \(block not in the profiled model\)/,
      );
      assert.deepEqual(readdirSync(dir), []);
      const r = await solveAndWriteSchedule({ ...req, existing: withGhost, dropUnkeepable: true });
      assert.deepEqual(
        r.dropped.map((d) => d.block),
        ['2.sa'],
      );
      const text = readFileSync(out, 'utf8');
      assert.equal(text, serializeSchedule(r.schedule));
      const parsed = parseSchedule(text);
      assert.ok(
        parsed.ok &&
          parsed.schedule.model.path === 'model.onnx' &&
          parsed.schedule.solver.profile?.path === 'p.bacprofile',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
