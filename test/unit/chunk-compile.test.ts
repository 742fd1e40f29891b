import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseSchedule } from '../../src/core/schedule-format';
import type { Schedule } from '../../src/core/types';
import { openChunkRunner } from '../../src/engine/chunk-runner';
import { decodeModel } from '../../src/engine/onnx/proto';
import { loadOrt, loadPolicy, policyScheduler } from '../../src/engine/policy';
import { Rng } from '../../src/core/rng';
import { updateTable } from '../../src/engine/runner';

const root = resolve(__dirname, '..', '..');
const demoDir = join(root, 'fixtures/demo');

describe('bac compile --chunk', () => {
  it('writes a chunk model that one documented run turns into the chunk the chunk runner samples', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bac-chunk-compile-'));
    for (const f of ['policy.onnx', 'policy.bacschedule', 'policy.bacprofile'])
      copyFileSync(join(demoDir, f), join(dir, f));
    const out = join(dir, 'policy.chunk.onnx');
    const run = promisify(execFile);
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src/cli/main.ts'),
        'compile',
        join(dir, 'policy.bacschedule'),
        '--out',
        out,
        '--chunk',
        '--json',
      ],
      { cwd: root },
    );
    const result = JSON.parse(stdout) as { chunk: boolean; steps: number; batch: number };
    assert.deepEqual([result.chunk, result.steps, result.batch], [true, 100, 1]);
    assert.deepEqual(readdirSync(dir).sort(), [
      'policy.bacprofile',
      'policy.bacschedule',
      'policy.chunk.onnx',
      'policy.onnx',
    ]);

    const bytes = readFileSync(out);
    const meta = Object.fromEntries(decodeModel(bytes).metadataProps.map((p) => [p.key, p.value]));
    const chunkMeta = JSON.parse(meta['bac.chunk']!) as {
      steps: number;
      noiseSteps: number[];
      inputs: Record<string, string>;
    };
    assert.equal(chunkMeta.steps, 100);
    assert.deepEqual(Object.keys(chunkMeta.inputs), ['cond', 'initial_sample', 'step_noise']);
    assert.equal(chunkMeta.noiseSteps.length, 99, 'DDPM draws noise at every step but the last (t = 0)');

    // the deployer's call: one run with cond, initial_sample and step_noise [K, B, T, Da]
    const policy = await loadPolicy(join(dir, 'policy.onnx'));
    const parsed = parseSchedule(readFileSync(join(dir, 'policy.bacschedule'), 'utf8'));
    const schedule = (parsed as { schedule: Schedule }).schedule;
    const scheduler = policyScheduler(policy, schedule.sampler.steps, schedule.sampler.type);
    const rng = new Rng(3);
    const n = policy.horizon * policy.actionDim;
    const cond = rng.normalArray(policy.obsSteps * policy.condDim);
    const initialSample = rng.normalArray(n);
    const noise = new Rng(4).normalArray(100 * n);
    const ort = loadOrt();
    const session = await ort.InferenceSession.create(bytes);
    const got = await session.run({
      cond: new ort.Tensor('float32', cond, [1, policy.obsSteps, policy.condDim]),
      initial_sample: new ort.Tensor('float32', initialSample, [1, policy.horizon, policy.actionDim]),
      step_noise: new ort.Tensor('float32', noise, [100, 1, policy.horizon, policy.actionDim]),
    });
    await session.release();
    const runner = await openChunkRunner(
      policy,
      scheduler,
      updateTable(
        schedule,
        policy.info.blocks.map((b) => b.id),
      ),
    );
    try {
      const want = await runner.runChunk({ cond, initialSample, noise: (k) => noise.subarray(k * n, (k + 1) * n) });
      assert.deepEqual([...(got.chunk!.data as Float32Array)], [...want]);
    } finally {
      await runner.close();
    }
  });
});
