/**
 * `bac sweep` on the demo policy, end to end on a small grid (the reference is DDIM-10 so that no
 * K = 100 run is needed): the report parses and is complete, the recommended schedule is accepted
 * by `bac eval`, `bac compile` and bac_runtime; cancel writes no report and resumes to the same
 * quality numbers. Timings are measured but never asserted.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/main';
import { configId, parseSweepReport } from '../../src/core/sweep-format';
import { gridOf, recommend } from '../../src/core/sweep';
import {
  DEFAULT_TOLERANCE,
  resumePath,
  runSweep,
  SWEEP_TRIAL_LAYOUTS,
  type SweepRequest,
} from '../../src/engine/sweep';

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
    const cases: [string[], RegExp][] = [
      [['sweep', '--model', 'm.onnx', '--episodes', 'e.hdf5'], /--out is missing/],
      [['sweep', '--model', 'm.onnx', '--episodes', 'e.hdf5', '--out', 'r.json'], /must end with \.bacsweep/],
      [
        ['sweep', '--model', 'm.onnx', '--episodes', 'e.hdf5', '--out', 'r.bacsweep', '--samplers', 'ddpm-x'],
        /--samplers item "ddpm-x" is invalid/,
      ],
      [
        ['sweep', '--model', 'm.onnx', '--episodes', 'e.hdf5', '--out', 'r.bacsweep', '--tolerance', 'x'],
        /--tolerance "x" is invalid/,
      ],
      [
        ['sweep', '--model', 'm.onnx', '--episodes', 'e.hdf5', '--out', 'r.bacsweep', '--methods', 'acs'],
        /--methods item "acs" is invalid/,
      ],
      [
        ['sweep', '--model', 'm.onnx', '--episodes', 'e.hdf5', '--out', 'r.bacsweep', '--measure', 'full-model-error'],
        /--measure full-model-error is invalid/,
      ],
      [
        ['sweep', '--model', 'm.onnx', '--episodes', 'e.hdf5', '--out', 'r.bacsweep', '--trials', '100'],
        /--trials counts closed-loop episodes: it needs --measure closed-loop-failure/,
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
