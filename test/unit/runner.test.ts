import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildBaseline } from '../../src/core/baselines';
import { serializeSchedule } from '../../src/core/schedule-format';
import { CACHE_INPUT, CACHE_OUTPUT, UPDATE_INPUT } from '../../src/engine/onnx/io-names';
import { openSession } from '../../src/engine/ort';
import { denoiserFeeds, loadOrt, loadPolicy, policyScheduler } from '../../src/engine/policy';
import { runProfile } from '../../src/engine/profiler';
import { Rng } from '../../src/core/rng';
import { CachedRunner, PlainRunner, updateTable } from '../../src/engine/runner';
import { buildGatedModel } from '../../src/engine/onnx/gate';

const root = resolve(__dirname, '..', '..');
const model = join(root, 'test/fixtures/engine/small-dpt.onnx');
const episodes = join(root, 'fixtures/demo/episodes/heldout.hdf5');

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'bac-runner-test-'));
  const { profile } = await runProfile({
    modelPath: model,
    episodesPath: episodes,
    samples: 2,
    seed: 3,
    executionProvider: 'cpu',
    outPath: join(dir, 'p.bacprofile'),
  });
  const policy = await loadPolicy(model);
  return { dir, profile, policy, scheduler: policyScheduler(policy) };
}

function chunkInputs(policy: Awaited<ReturnType<typeof loadPolicy>>, seed: number) {
  const rng = new Rng(seed);
  return {
    batch: 1,
    cond: rng.normalArray(policy.obsSteps * policy.condDim),
    initialSample: rng.normalArray(policy.horizon * policy.actionDim),
    noise: new Rng(seed + 1),
  };
}

describe('cached runner', () => {
  it('with every block updating at every step equals the plain model bit for bit', async () => {
    const { profile, policy, scheduler } = await setup();
    const full = buildBaseline('full', profile, profile.model, scheduler.numInferenceSteps, 0, false);
    const plain = await PlainRunner.open(policy, 'cpu');
    const cached = await CachedRunner.open(policy, 'cpu');
    const a = await plain.runChunk(scheduler, chunkInputs(policy, 11));
    const b = await cached.runChunk(scheduler, updateTable(full, cached.blockIds), chunkInputs(policy, 11));
    assert.deepEqual([...b], [...a]);
    await plain.release();
    await cached.release();
  });

  it('with a schedule equals a step-by-step reference that carries each block cache by hand', async () => {
    const { profile, policy, scheduler } = await setup();
    const bac = buildBaseline('bac', profile, profile.model, 4, 2, true);
    const cached = await CachedRunner.open(policy, 'cpu');
    const table = updateTable(bac, cached.blockIds);
    const got = await cached.runChunk(scheduler, table, chunkInputs(policy, 5));

    // Reference: the gated graph driven one call at a time; reused blocks get the output they
    // produced at their last update step, kept per block here (not as one packed tensor).
    const ort = loadOrt();
    const gated = buildGatedModel(policy.bytes);
    const { session } = await openSession(gated.bytes, 'cpu');
    const n = cached.blockIds.length;
    const per = policy.horizon * (policy.info.blockShape[2] as number);
    const lastOutput = Array.from({ length: n }, () => new Float32Array(per));
    const inputs = chunkInputs(policy, 5);
    let x = inputs.initialSample;
    const K = scheduler.numInferenceSteps;
    for (let k = 0; k < K; k++) {
      const t = scheduler.timesteps[k]!;
      const feeds = denoiserFeeds(ort, policy, x, t, inputs.cond, 1);
      const gates = table.slice(k * n, (k + 1) * n);
      const cache = new Float32Array(n * per);
      lastOutput.forEach((o, i) => cache.set(o, i * per));
      feeds[UPDATE_INPUT] = new ort.Tensor('bool', gates, [n]);
      feeds[CACHE_INPUT] = new ort.Tensor('float32', cache, [
        n,
        1,
        policy.horizon,
        policy.info.blockShape[2] as number,
      ]);
      const out = await session.run(feeds);
      const packed = out[CACHE_OUTPUT]!.data as Float32Array;
      for (let i = 0; i < n; i++) {
        const row = packed.slice(i * per, (i + 1) * per);
        if (gates[i]) lastOutput[i] = row;
        else
          assert.deepEqual(
            [...row],
            [...lastOutput[i]!],
            `step ${k}: reused block ${cached.blockIds[i]} must return its cache`,
          );
      }
      const eps = out[policy.info.prediction]!.data as Float32Array;
      x = scheduler.step(eps, t, x, scheduler.usesNoise(t) ? inputs.noise.normalArray(x.length) : undefined);
    }
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - got[i]!));
    assert.ok(worst <= 1e-5, `runner vs reference: ${worst}`);

    const plain = await PlainRunner.open(policy, 'cpu');
    const full = await plain.runChunk(scheduler, chunkInputs(policy, 5));
    assert.ok(
      full.some((v, i) => v !== got[i]),
      'a sparse schedule changes the result (the caches are really used)',
    );
    await Promise.all([plain.release(), cached.release(), session.release()]);
  });

  it('batch-specialized (staticBatch 1): all-on equals its plain runner bit for bit, a schedule stays within 1e-5 of the unspecialized runner, other batches are refused', async () => {
    const { profile, policy, scheduler } = await setup();
    const K = scheduler.numInferenceSteps;
    const full = buildBaseline('full', profile, profile.model, K, 0, false);
    const bac = buildBaseline('bac', profile, profile.model, 4, 2, true);
    const options = { threads: 1, staticBatch: 1 };
    const plain = await PlainRunner.open(policy, 'cpu', options);
    const cached = await CachedRunner.open(policy, 'cpu', options);
    const dynamic = await CachedRunner.open(policy, 'cpu', { threads: 1 });
    try {
      assert.equal(cached.gated.gate.cacheShape[1], 1, 'the gated graph was built from the batch-1 model');
      const a = await plain.runChunk(scheduler, chunkInputs(policy, 7));
      const b = await cached.runChunk(scheduler, updateTable(full, cached.blockIds), chunkInputs(policy, 7));
      assert.deepEqual([...b], [...a]);
      const table = updateTable(bac, cached.blockIds);
      const c = await cached.runChunk(scheduler, table, chunkInputs(policy, 8));
      const d = await dynamic.runChunk(scheduler, table, chunkInputs(policy, 8));
      const worst = c.reduce((w, v, i) => Math.max(w, Math.abs(v - d[i]!)), 0);
      assert.ok(worst <= 1e-5, `batch-1 vs as-exported cached runner: ${worst}`);
      const two = { ...chunkInputs(policy, 9), batch: 2 };
      await assert.rejects(plain.runChunk(scheduler, two), /opened for batch 1, got a chunk of batch 2/);
      await assert.rejects(cached.runChunk(scheduler, table, two), /opened for batch 1, got a chunk of batch 2/);
    } finally {
      await Promise.all([plain.release(), cached.release(), dynamic.release()]);
    }
  });

  it('refuses a schedule made for another model', async () => {
    const { profile } = await setup();
    const bac = buildBaseline('bac', profile, profile.model, 4, 2, true);
    assert.throws(
      () =>
        updateTable(
          { ...bac, blocks: bac.blocks.slice(1) },
          bac.blocks.map((b) => b.id),
        ),
      /solved for another model/,
    );
  });
});

describe('bac eval and bac compile refuse a schedule for a different model', () => {
  it('names the sha256 mismatch, exits 1 and writes nothing', async () => {
    const { dir, profile } = await setup();
    copyFileSync(model, join(dir, 'model.onnx'));
    const schedule = buildBaseline('bac', profile, { path: 'model.onnx', sha256: 'f'.repeat(64) }, 4, 2, true);
    writeFileSync(join(dir, 's.bacschedule'), serializeSchedule(schedule));
    const run = promisify(execFile);
    const cli = ['--import', 'tsx', join(root, 'src/cli/main.ts')];
    for (const args of [
      ['eval', join(dir, 's.bacschedule'), '--episodes', episodes, '--samples', '1', '--ep', 'cpu'],
      ['compile', join(dir, 's.bacschedule'), '--out', join(dir, 'out.onnx')],
    ]) {
      const r = await run(process.execPath, [...cli, ...args], { cwd: root }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
      assert.equal(r.code, 1, `${args[0]} exit code`);
      assert.match(r.stderr, /sha256/);
      assert.match(r.stderr, /(another|different) model/);
    }
    assert.ok(!readdirSync(dir).includes('out.onnx'), 'compile wrote nothing');
    assert.ok(readFileSync(join(dir, 's.bacschedule'), 'utf8').includes('ffffffff'), 'the schedule is untouched');
  });

  it('bac eval names the schedule, not the model, when the engine cannot run its sampler or K on the policy', async () => {
    const { dir, profile } = await setup();
    copyFileSync(model, join(dir, 'model.onnx'));
    const schedule = buildBaseline('bac', profile, { path: 'model.onnx', sha256: profile.model.sha256 }, 4, 2, true);
    const euler = { ...schedule, sampler: { ...schedule.sampler, type: 'euler' } };
    writeFileSync(join(dir, 'euler.bacschedule'), serializeSchedule(euler));
    const cli = ['--import', 'tsx', join(root, 'src/cli/main.ts')];
    const args = ['eval', join(dir, 'euler.bacschedule'), '--episodes', episodes, '--samples', '1', '--ep', 'cpu'];
    const r = await promisify(execFile)(process.execPath, [...cli, ...args], { cwd: root }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /euler\.bacschedule: sampler\.type "euler" is not one BAC Studio runs \(ddpm, ddim, dpmsolver\+\+\)/,
    );

    // A K the policy's training noise schedule cannot give is the schedule's fault too.
    const tooMany = { ...schedule, sampler: { ...schedule.sampler, steps: 100_000 } };
    writeFileSync(join(dir, 'k.bacschedule'), serializeSchedule(tooMany));
    const args2 = ['eval', join(dir, 'k.bacschedule'), '--episodes', episodes, '--samples', '1', '--ep', 'cpu'];
    const r2 = await promisify(execFile)(process.execPath, [...cli, ...args2], { cwd: root }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r2.code, 1, r2.stderr);
    assert.match(r2.stderr, new RegExp(`k\\.bacschedule: ${schedule.sampler.type} at K = 100000 on model\\.onnx: `));
  });
});
