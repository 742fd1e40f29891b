/**
 * `bac sweep` on the demo policy, end to end on a small grid (the reference is DDIM-10 so that no
 * K = 100 run is needed): the report parses and is complete, the recommended schedule is accepted
 * by `bac eval`, `bac compile` and bac_runtime; cancel writes no report and resumes to the same
 * quality numbers. Timings are measured but never asserted.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/main';
import { buildBaseline, uniformSteps } from '../../src/core/baselines';
import { parseSchedule, serializeSchedule } from '../../src/core/schedule-format';
import { composeBlock, solveSchedule } from '../../src/core/solve';
import { configId, parseSweepReport } from '../../src/core/sweep-format';
import { budgetsBelowK, fullSchedule, gridOf, recommend } from '../../src/core/sweep';
import type { Schedule } from '../../src/core/types';
import {
  DEFAULT_TOLERANCE,
  resumePath,
  runSweep,
  sweepResumeKey,
  SWEEP_TRIAL_LAYOUTS,
  type SweepRequest,
} from '../../src/engine/sweep';
import { includedConfigs, rebasedSchedule, withFullModels } from '../../src/engine/sweep-include';
import type { MeasuredConfig } from '../../src/engine/sweep-measure';
import { syntheticProfile } from './helpers/synthetic-profile';

const repo = join(__dirname, '..', '..');
const model = join(repo, 'fixtures', 'demo', 'policy.onnx');
const episodes = join(repo, 'fixtures', 'demo', 'episodes', 'heldout.hdf5');
const checkpoint = join(repo, 'fixtures', 'demo', 'policy_ema.pt');

async function bac(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (t) => (stdout += t), err: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('bac sweep arguments', () => {
  it('user errors exit 1 with one message naming the fix, before any work', async () => {
    const base = ['sweep', '--model', 'm.onnx', '--episodes', 'e.hdf5', '--out', 'r.bacsweep'];
    const cases: [string[], RegExp][] = [
      [['sweep', '--model', 'm.onnx', '--episodes', 'e.hdf5'], /--out is missing/],
      [['sweep', '--model', 'm.onnx', '--episodes', 'e.hdf5', '--out', 'r.json'], /must end with \.bacsweep/],
      [[...base, '--samplers', 'ddpm-x'], /--samplers item "ddpm-x" is invalid/],
      [[...base, '--tolerance', 'x'], /--tolerance "x" is invalid/],
      [[...base, '--methods', 'acs'], /--methods item "acs" is invalid/],
      [[...base, '--measure', 'full-model-error'], /--measure full-model-error is invalid/],
      [[...base, '--trials', '100'], /--trials counts closed-loop episodes: it needs --measure closed-loop-failure/],
      ...[['2,x'], ['0'], ['2.5'], ['2,-1']].map(([b]): [string[], RegExp] => [
        [...base, '--budgets', b!],
        /--budgets item ".*" is invalid, expected integers ≥ 1 separated by commas, e\.g\. --budgets 2,3/,
      ]),
      [[...base, '--budgets', ','], /--budgets is empty, expected integers ≥ 1 separated by commas/],
      [[...base, '--budgets', '2', '--methods', 'none'], /--budgets sets the cache budgets: it needs --methods/],
      [
        [...base, '--include', 'a.bacschedule', '--include', 'b.bacschedule'],
        /--include is given more than once; list the schedules once, separated by commas/,
      ],
      [[...base, '--include', 'a.bacschedule,./a.bacschedule'], /--include names \.\/a\.bacschedule twice/],
      [
        [...base, '--include', 'r.bacschedule'],
        /an output would overwrite the input r\.bacschedule; choose another --out or --schedule/,
      ],
      [
        [...base, '--include', join(tmpdir(), 'no-such.bacschedule')],
        /no-such\.bacschedule: cannot read it: no such file or directory \(ENOENT\), expected a \.bacschedule/,
      ],
      [
        [
          'sweep',
          '--model',
          join(tmpdir(), 'no-such-model.onnx'),
          '--episodes',
          'e.hdf5',
          '--out',
          join(tmpdir(), 'r.bacsweep'),
        ],
        /no-such-model\.onnx: cannot read it: no such file or directory \(ENOENT\), expected a BAC-ready ONNX policy/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await bac(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
    }
  });
});

describe('sweep resume key and included schedules', () => {
  const profile = syntheticProfile({ layers: 2, steps: 10, seed: 5 });
  const solved = solveSchedule(profile, { budget: 3, topN: 1, forceLast: true, profile: null }, profile.model);
  const edited: Schedule = { ...solved, blocks: solved.blocks.map((b, i) => (i ? b : { ...b, manual: [7] })) };
  const dir = join(tmpdir(), 'bac-sweep-key');
  const swept = { sha256: solved.model.sha256, blockIds: solved.blocks.map((b) => b.id) };
  const include = (schedule: Schedule) =>
    includedConfigs([{ path: join(dir, 'tuned.bacschedule'), schedule }], join(dir, 'r.bacsweep'), swept);
  const samplers = [
    { sampler: 'ddim', steps: 10 },
    { sampler: 'ddim', steps: 4 },
  ];
  /** The grid's configurations with their schedules, BAC solved from a synthetic profile per K. */
  const measuredGrid = (budgets: number[], profileSeed: number): MeasuredConfig[] =>
    gridOf(samplers, ['bac'], budgetsBelowK(budgets)).map((config) => {
      const p = syntheticProfile({ layers: 2, steps: config.steps, seed: profileSeed });
      const schedule =
        config.method === 'full'
          ? fullSchedule(p, { type: config.sampler, steps: config.steps })
          : buildBaseline('bac', p, p.model, config.budget!, 1, true);
      return { config, schedule };
    });
  const key = (budgets: number[], included = include(solved), profileSeed = 5) =>
    sweepResumeKey({
      modelSha256: solved.model.sha256,
      episodesPath: '/e.hdf5',
      configs: [...measuredGrid(budgets, profileSeed), ...included],
      options: [24, 4, 64, 8, 1],
      runner: 'chunk graphs',
      closedLoop: null,
    });

  it("changes with the budgets measured and with an included schedule's update table", () => {
    assert.equal(key([2, 3]), key([3, 2]));
    assert.notEqual(key([2, 3]), key([2]));
    assert.notEqual(key([2, 3]), key([2, 4]), 'S = 4 is measured at K = 10');
    assert.equal(key([2, 3]), key([2, 3, 10]), 'S = 10 is measured at no K of this grid');
    assert.notEqual(key([2, 3]), key([2, 3], include(edited)), 'an edited schedule is measured again');
    assert.notEqual(key([2, 3]), key([2, 3], []));
    assert.notEqual(
      key([2, 3]),
      key([2, 3], include(solved), 6),
      'a cache schedule solved from another profile (e.g. --profile-samples) is measured again',
    );
  });

  it('identifies included schedules by file, refuses another model, adds their full models', () => {
    const [c] = include(solved);
    assert.equal(configId(c!.config), `ddpm-10/schedule-3@tuned.bacschedule`);
    assert.throws(
      () =>
        includedConfigs([{ path: '/x/other.bacschedule', schedule: solved }], '/x/r.bacsweep', {
          ...swept,
          sha256: 'f'.repeat(64),
        }),
      /^BacError: \/x\/other\.bacschedule: model\.sha256 .* does not match the model .*solved for another model/,
    );
    const twice = [
      { path: '/x/a.bacschedule', schedule: solved },
      { path: '/x/a.bacschedule', schedule: edited },
    ];
    assert.throws(() => includedConfigs(twice, '/x/r.bacsweep', swept), /included twice/);
    const euler: Schedule = { ...solved, sampler: { ...solved.sampler, type: 'euler' } };
    assert.throws(
      () => includedConfigs([{ path: '/x/euler.bacschedule', schedule: euler }], '/x/r.bacsweep', swept),
      /^BacError: \/x\/euler\.bacschedule: sampler\.type "euler" is not one BAC Studio runs \(ddpm, ddim, dpmsolver\+\+\)/,
    );
    const fewer: Schedule = { ...solved, blocks: solved.blocks.slice(1) };
    assert.throws(
      () => includedConfigs([{ path: '/x/fewer.bacschedule', schedule: fewer }], '/x/r.bacsweep', swept),
      /^BacError: \/x\/fewer\.bacschedule: its blocks \(5: /,
    );
    const grid = withFullModels(
      gridOf(samplers, [], () => []),
      include(solved),
    ).map(configId);
    assert.deepEqual(grid, ['ddim-10/full', 'ddim-4/full', 'ddpm-10/full']);
  });

  it("rebases an included schedule's model and profile paths to where the recommendation is written", () => {
    const withProfile: Schedule = {
      ...solved,
      model: { ...solved.model, path: '../policy.onnx' },
      solver: { ...solved.solver, profile: { path: 'p.bacprofile', sha256: 'b'.repeat(64) } },
    };
    const model = { path: 'models/policy.onnx', sha256: solved.model.sha256 };
    const out = rebasedSchedule(withProfile, '/w/runs/tuned.bacschedule', '/w/rec.bacschedule', model);
    assert.deepEqual(out.model, model);
    assert.equal(out.solver.profile!.path, 'runs/p.bacprofile');
    assert.deepEqual(out.blocks, solved.blocks);
  });
});

describe('bac sweep on the demo policy', { skip: !existsSync(model) && 'fixtures/demo/policy.onnx is missing' }, () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bac-sweep-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a complete report and a schedule that bac eval, bac compile and bac_runtime accept', async () => {
    const out = join(dir, 'demo.bacsweep');
    const r = await bac(
      'sweep',
      '--model',
      model,
      '--episodes',
      episodes,
      '--out',
      out,
      '--reference',
      'ddim-10',
      '--samplers',
      'ddim-10,dpmsolver++-5,ddpm-5',
      '--methods',
      'bac',
      '--windows',
      '2',
      '--draws',
      '2',
      '--distance-windows',
      '3',
      '--distance-draws',
      '2',
      '--profile-samples',
      '2',
      '--success',
      '0.78',
      '--ep',
      'cpu',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const report = parseSweepReport(readFileSync(out, 'utf8'));
    assert.deepEqual(report.results.map((x) => configId(x.config)).sort(), [
      'ddim-10/bac-3',
      'ddim-10/bac-5',
      'ddim-10/full',
      'ddpm-5/full',
      'dpmsolver++-5/full',
    ]);
    const ref = report.results.find((x) => configId(x.config) === 'ddim-10/full')!;
    assert.equal(ref.measuredSpeedup, 1);
    for (const x of report.results) {
      assert.ok(
        x.quality['demo-mse']!.value > 0 && x.quality['demo-mse-best-of-n']!.value <= x.quality['demo-mse']!.value,
      );
      assert.equal(x.quality['full-model-error'] === null, x.config.method === 'full');
      const d = x.quality['reference-distance']!;
      assert.ok(Number.isFinite(d.value) && d.value <= 1 && d.seedStd === null, JSON.stringify(d));
    }
    assert.equal(ref.quality['reference-distance']!.value, 0, 'the reference is its own distribution');
    assert.equal(report.measure, 'reference-distance');
    assert.deepEqual(report.distanceSample, { windows: 3, draws: 2 });
    assert.ok(report.pareto.includes(report.recommendation!));
    assert.ok(report.trials && report.trials.plan.pairs > 100);
    assert.ok(!existsSync(resumePath(out)), 'the resume file is removed after success');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('.')),
      [],
      'no temporary files',
    );

    const schedule = join(dir, 'demo.bacschedule');
    const ev = await bac('eval', schedule, '--episodes', episodes, '--samples', '1', '--ep', 'cpu', '--json');
    assert.equal(ev.code, 0, ev.stderr + ev.stdout);
    // Without --verbose a user reads one line about the execution provider, and why.
    const text = await bac('eval', schedule, '--episodes', episodes, '--samples', '1', '--ep', 'cpu', '--no-record');
    assert.equal(text.code, 0, text.stderr + text.stdout);
    const providerLines = `${text.stdout}\n${text.stderr}`.split('\n').filter((l) => /execution provider/i.test(l));
    assert.deepEqual(providerLines, ['execution provider: cpu (requested)']);
    const co = await bac('compile', schedule, '--out', join(dir, 'demo.cached.onnx'), '--json');
    assert.equal(co.code, 0, co.stderr + co.stdout);
    if (!existsSync(checkpoint)) return; // bac_runtime needs the PyTorch checkpoint
    const py = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        [
          'import sys, torch',
          `sys.path.insert(0, ${JSON.stringify(join(repo, 'python'))})`,
          'import bac_runtime, make_runtime_vectors as m',
          'model, meta = m._load(sys.argv[1], None)',
          's = bac_runtime.load_schedule(sys.argv[2])',
          'x = torch.zeros(1, meta["horizon"], model.input_emb.in_features)',
          'cond = torch.zeros(1, meta["n_obs_steps"], model.cond_obs_emb.in_features)',
          'with torch.no_grad(), bac_runtime.apply(model, s, num_inference_steps=s.K):',
          '    for t in range(s.K): model(x, torch.tensor([s.K - 1 - t]), cond)',
          'print(s.sampler.type, s.K, "ok")',
        ].join('\n'),
        checkpoint,
        schedule,
      ],
      { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } },
    );
    assert.equal(py.status, 0, py.stderr);
    assert.match(py.stdout, /ok/);
  });

  it('cancel writes no report; rerunning resumes and gives the same quality numbers', async () => {
    const request = (name: string): SweepRequest => ({
      modelPath: model,
      episodesPath: episodes,
      outPath: join(dir, `${name}.bacsweep`),
      schedulePath: join(dir, `${name}.bacschedule`),
      reference: { sampler: 'ddim', steps: 5 },
      grid: () =>
        gridOf(
          [
            { sampler: 'ddim', steps: 5 },
            { sampler: 'ddpm', steps: 3 },
          ],
          [],
          () => [],
        ),
      windows: 3,
      draws: 2,
      distanceWindows: 3,
      distanceDraws: 2,
      ep: 'cpu',
    });
    const abort = new AbortController();
    const cancelled = request('cancelled');
    await assert.rejects(
      runSweep(cancelled, {
        signal: abort.signal,
        onProgress: (p) => {
          if (p.phase === 'measure' && p.done === 2) abort.abort();
        },
      }),
      /interrupted: the sweep was cancelled/,
    );
    assert.ok(!existsSync(cancelled.outPath) && !existsSync(cancelled.schedulePath));
    const state = JSON.parse(readFileSync(resumePath(cancelled.outPath), 'utf8')) as { records: unknown[] };
    assert.equal(state.records.length, 2);
    const logs: string[] = [];
    const resumed = await runSweep(cancelled, { log: (l) => logs.push(l) });
    assert.ok(
      logs.some((l) => /resuming: 2\/3 windows/.test(l)),
      logs.join('\n'),
    );
    const fresh = await runSweep(request('fresh'));
    const quality = (r: typeof fresh) => r.report.results.map((x) => x.quality);
    assert.deepEqual(quality(resumed), quality(fresh), 'same windows and noise → same quality numbers');
    assert.ok(!existsSync(resumePath(cancelled.outPath)));

    // cancelled in the batched distance pass: the timing windows and the finished distances are kept
    const late = request('late');
    const lateAbort = new AbortController();
    await assert.rejects(
      runSweep(late, {
        signal: lateAbort.signal,
        onProgress: (p) => {
          if (p.phase === 'distance' && p.done === 1) lateAbort.abort();
        },
      }),
      /interrupted: the sweep was cancelled/,
    );
    assert.ok(!existsSync(late.outPath) && !existsSync(late.schedulePath));
    const lateState = JSON.parse(readFileSync(resumePath(late.outPath), 'utf8')) as {
      records: unknown[];
      distances: Record<string, unknown>;
    };
    assert.equal(lateState.records.length, 3);
    assert.equal(Object.keys(lateState.distances).length, 1);
    const lateResumed = await runSweep(late);
    assert.deepEqual(quality(lateResumed), quality(fresh), 'resumed in the distance pass → same numbers');
  });

  it('--include measures given schedules beside the grid; a schedule of another model is refused', async () => {
    // Two DPM-Solver++-6 schedules at S = 3 that differ in one block's table: same sampler, K, budget.
    const demo = parseSchedule(readFileSync(join(repo, 'fixtures', 'demo', 'policy.bacschedule'), 'utf8'));
    assert.ok(demo.ok);
    const steps = uniformSteps(6, 3);
    const at6 = (manual: number[]): Schedule => ({
      ...demo.schedule,
      model: { ...demo.schedule.model, path: relative(dir, model) },
      sampler: { type: 'dpmsolver++', steps: 6 },
      solver: { budget: 3, topN: 0, forceLast: false, profile: null },
      blocks: demo.schedule.blocks.map((b, i) =>
        composeBlock(b.id, b.cost, steps, [], { manual: i ? [] : manual, manualOff: [] }),
      ),
    });
    const files = {
      a: join(dir, 'inc-a.bacschedule'),
      b: join(dir, 'inc-b.bacschedule'),
      other: join(dir, 'other.bacschedule'),
    };
    writeFileSync(files.a, serializeSchedule(at6([])));
    writeFileSync(files.b, serializeSchedule(at6([5])));
    const other = at6([]);
    writeFileSync(files.other, serializeSchedule({ ...other, model: { ...other.model, sha256: 'f'.repeat(64) } }));
    const sweep = (include: string, ...extra: string[]) =>
      bac(
        'sweep',
        '--model',
        model,
        '--episodes',
        episodes,
        '--out',
        join(dir, 'inc.bacsweep'),
        '--reference',
        'dpmsolver++-6',
        '--samplers',
        'dpmsolver++-6',
        '--methods',
        'none',
        '--windows',
        '2',
        '--draws',
        '1',
        '--distance-windows',
        '2',
        '--distance-draws',
        '2',
        '--include',
        include,
        '--ep',
        'cpu',
        '--json',
        ...extra,
      );
    const refused = await sweep(`${files.a},${files.other}`);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /other\.bacschedule: model\.sha256 ffffffffffff… does not match the model/);

    // a generous tolerance, so the recommendation is whichever measured fastest
    const r = await sweep(`${files.a},${files.b}`, '--tolerance', '10');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const report = parseSweepReport(readFileSync(join(dir, 'inc.bacsweep'), 'utf8'));
    assert.deepEqual(
      report.results.map((x) => configId(x.config)),
      [
        'dpmsolver++-6/full',
        'dpmsolver++-6/schedule-3@inc-a.bacschedule',
        'dpmsolver++-6/schedule-3@inc-b.bacschedule',
      ],
    );
    for (const x of report.results.slice(1)) {
      assert.ok(x.measuredSpeedup > 0 && Number.isFinite(x.measuredSpeedup), JSON.stringify(x));
      assert.ok(x.quality['full-model-error']!.value > 0 && x.quality['reference-distance'] !== null);
    }
    assert.equal(report.results[2]!.updates, report.results[1]!.updates + 1, 'each runs its own table');
    const rec = report.results.find((x) => configId(x.config) === report.recommendation)!;
    const written = parseSchedule(readFileSync(join(dir, 'inc.bacschedule'), 'utf8'));
    assert.ok(written.ok);
    assert.deepEqual(written.schedule.sampler, { type: 'dpmsolver++', steps: 6 });
    if (rec.config.file) {
      const chosen = at6(rec.config.file === 'inc-a.bacschedule' ? [] : [5]);
      assert.deepEqual(written.schedule.blocks, chosen.blocks, 'the recommended included schedule is written as it is');
      assert.equal(written.schedule.model.path, relative(dir, model));
    }
  });

  it('closed-loop-failure: every configuration runs the same trials; success decides; a cancel there resumes', async () => {
    const request: SweepRequest = {
      modelPath: model,
      episodesPath: episodes,
      outPath: join(dir, 'loop.bacsweep'),
      schedulePath: join(dir, 'loop.bacschedule'),
      reference: { sampler: 'ddim', steps: 5 },
      grid: () =>
        gridOf(
          [
            { sampler: 'ddim', steps: 5 },
            { sampler: 'ddpm', steps: 3 },
            { sampler: 'dpmsolver++', steps: 3 },
          ],
          [],
          () => [],
        ),
      windows: 2,
      draws: 1,
      distanceWindows: 2,
      distanceDraws: 2,
      measure: 'closed-loop-failure',
      trials: 6,
      ep: 'cpu',
    };
    const abort = new AbortController();
    await assert.rejects(
      runSweep(request, {
        signal: abort.signal,
        onProgress: (p) => {
          if (p.phase === 'closed-loop' && p.done === 1) abort.abort();
        },
      }),
      /interrupted: the sweep was cancelled/,
    );
    assert.ok(!existsSync(request.outPath) && !existsSync(request.schedulePath));
    const state = JSON.parse(readFileSync(resumePath(request.outPath), 'utf8')) as { loops: Record<string, string> };
    assert.equal(Object.keys(state.loops).length, 1);
    const { report } = await runSweep(request);
    assert.deepEqual(report.closedLoop, { episodes: 6, seed: SWEEP_TRIAL_LAYOUTS, noiseSeed: 1 });
    for (const r of report.results) {
      const f = r.quality['closed-loop-failure']!;
      assert.ok(Number.isInteger(f.value * 6) && f.value >= 0 && f.value <= 1, JSON.stringify(f));
    }
    assert.equal(
      report.recommendation,
      recommend(report.results, report.reference, 'closed-loop-failure', DEFAULT_TOLERANCE['closed-loop-failure']),
    );
    assert.ok(!existsSync(resumePath(request.outPath)));
  });
});
