import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parseProfile } from '../../src/core/profile-format';
import { BlockStatsAccumulator } from '../../src/core/stats';
import { sampleBlockStats } from './helpers/reference-stats';
import { BacError } from '../../src/core/errors';
import { openSession } from '../../src/engine/ort';
import { denoiserFeeds, loadOrt, loadPolicy, policyScheduler } from '../../src/engine/policy';
import { profileInChildProcess, ProfileCancelledError } from '../../src/engine/profile-process';
import {
  elementSubsetPicker,
  loadWindows,
  PROFILE_BATCH_BUFFER_BYTES,
  profileBatchSize,
  runProfile,
} from '../../src/engine/profiler';
import { DEFAULT_L1_ELEMENTS } from '../../src/engine/profile-protocol';
import { Rng } from '../../src/core/rng';
import { runSampler } from '../../src/engine/samplers';

const root = resolve(__dirname, '..', '..');
const model = join(root, 'test/fixtures/engine/small-dpt.onnx');
const episodes = join(root, 'fixtures/demo/episodes/heldout.hdf5');
const fixtures = (p: string) => join(root, 'test/fixtures', p);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'bac-profile-test-'));
}

describe('profiling', () => {
  it('matches the pure reference statistics computed from a hand-driven sampler loop', async () => {
    const request = {
      modelPath: model,
      episodesPath: episodes,
      // Batches of 2, 2, 2, 1: the third reuses the first batch's buffer once the worker handed it back.
      samples: 7,
      seed: 5,
      executionProvider: 'cpu' as const,
      outPath: join(tempDir(), 'p.bacprofile'),
      batchSize: 2,
      l1Elements: Number.MAX_SAFE_INTEGER, // exact: every element of every block
    };
    const { profile } = await runProfile(request);

    // Reference: same windows, same noise stream, plain session, core's O(K²D) statistics.
    const policy = await loadPolicy(model);
    const scheduler = policyScheduler(policy);
    const K = scheduler.numInferenceSteps;
    const windows = await loadWindows(policy, episodes, 7, 5);
    const { session } = await openSession(policy.bytes, 'cpu');
    const ort = loadOrt();
    const rng = new Rng(5);
    const acc = policy.info.blocks.map(() => new BlockStatsAccumulator(K));
    const D = (policy.info.blockShape[1] as number) * (policy.info.blockShape[2] as number);
    for (let first = 0; first < windows.length; first += 2) {
      const batch = windows.slice(first, first + 2);
      const B = batch.length;
      const cond = new Float32Array(B * policy.obsSteps * policy.condDim);
      batch.forEach((w, s) => cond.set(w.obs, s * w.obs.length));
      const outputs = policy.info.blocks.map(() => Array.from({ length: B }, () => [] as Float32Array[]));
      await runSampler({
        scheduler,
        cond,
        initialSample: rng.normalArray(B * policy.horizon * policy.actionDim),
        noise: rng,
        denoise: async (x, t, c) => {
          const out = await session.run(denoiserFeeds(ort, policy, x, t, c, B));
          policy.info.blocks.forEach((b, j) => {
            const data = out[b.output]!.data as Float32Array;
            for (let s = 0; s < B; s++) outputs[j]![s]!.push(data.slice(s * D, (s + 1) * D));
          });
          return out[policy.info.prediction]!.data as Float32Array;
        },
      });
      outputs.forEach((perSample, j) => perSample.forEach((steps) => acc[j]!.add(sampleBlockStats(steps))));
    }
    assert.equal(profile.samples, 7);
    assert.equal(profile.sampler.steps, K);
    assert.equal(profile.l1Elements, D);
    profile.blocks.forEach((b, j) => {
      const ref = acc[j]!.result();
      let worst = 0;
      for (let e = 0; e < K * K; e++)
        worst = Math.max(worst, Math.abs(b.simMean[e]! - ref.simMean[e]!), Math.abs(b.simStd[e]! - ref.simStd[e]!));
      assert.ok(worst < 1e-5, `${b.id}: similarity differs from the reference by ${worst}`);
      assert.ok(
        Math.abs(b.l1Mean - ref.l1Mean) <= 1e-5 * Math.max(1, ref.l1Mean),
        `${b.id}: ℓ ${b.l1Mean} vs ${ref.l1Mean}`,
      );
      assert.ok(b.cost.flops > 0, `${b.id} has FLOPs`);
    });
    await session.release();
  });

  it('is deterministic for a seed and batch size, and profiles every window at another batch size', async () => {
    const base = {
      modelPath: model,
      episodesPath: episodes,
      samples: 4,
      seed: 9,
      executionProvider: 'cpu' as const,
      outPath: join(tempDir(), 'p.bacprofile'),
    };
    const a = await runProfile({ ...base, batchSize: 4 });
    const b = await runProfile({ ...base, batchSize: 4 });
    assert.deepEqual(
      a.profile.blocks.map((x) => [...x.simMean]),
      b.profile.blocks.map((x) => [...x.simMean]),
    );
    const c = await runProfile({ ...base, batchSize: 3 });
    // The batch size changes which noise each sample draws (one stream, drawn per batch), never
    // which windows are profiled; that batches do not mix samples is checked against the
    // reference in the test above (batches of 2, 2, 2 and 1).
    assert.equal(c.profile.samples, 4);
    assert.deepEqual(
      a.profile.blocks.map((x) => x.id),
      c.profile.blocks.map((x) => x.id),
    );
  });

  it('profiles with another sampler and K than the metadata when asked, and records them', async () => {
    const base = {
      modelPath: model,
      episodesPath: episodes,
      samples: 2,
      seed: 4,
      executionProvider: 'cpu' as const,
      outPath: join(tempDir(), 'p.bacprofile'),
      steps: 8,
    };
    const dpm = await runProfile({ ...base, samplerType: 'dpmsolver++' });
    const ddim = await runProfile({ ...base, samplerType: 'ddim' });
    assert.deepEqual(dpm.profile.sampler, { type: 'dpmsolver++', steps: 8 });
    assert.deepEqual(ddim.profile.sampler, { type: 'ddim', steps: 8 });
    assert.equal(dpm.profile.blocks[0]!.simMean.length, 64);
    // different timesteps and updates, so different block outputs along the run
    assert.notDeepEqual([...dpm.profile.blocks[0]!.simMean], [...ddim.profile.blocks[0]!.simMean]);
  });
});

describe('profile batch size', () => {
  it('fills the buffer budget up to 8 samples, honours a requested size, never exceeds the samples', () => {
    // demo policy: 24 blocks × K = 100 × 1 280 floats = 12.3 MB per sample → 8 fit in 128 MiB
    assert.equal(profileBatchSize(24, 100, 1280, 100), 8);
    // n_emb 256: 24.6 MB per sample → 5
    assert.equal(profileBatchSize(24, 100, 2560, 100), 5);
    // a sample larger than the budget still profiles, one at a time
    assert.equal(profileBatchSize(84, 100, 131072, 100), 1);
    assert.equal(profileBatchSize(24, 100, 1280, 3), 3);
    assert.equal(profileBatchSize(24, 100, 2560, 100, 16), 16);
    assert.ok(profileBatchSize(24, 100, 2560, 100) * 24 * 100 * 2560 * 4 <= PROFILE_BATCH_BUFFER_BYTES);
  });
});

describe('the reuse-error estimate from element subsets', () => {
  it('draws distinct, sorted, in-range element indices per row, deterministically; none when m = D', () => {
    const pick = elementSubsetPicker(50, 7, new Rng(1));
    const a = pick(3)!;
    assert.equal(a.length, 21);
    for (let g = 0; g < 3; g++) {
      const row = [...a.subarray(g * 7, g * 7 + 7)];
      assert.equal(new Set(row).size, 7, 'distinct');
      assert.deepEqual(
        row,
        [...row].sort((x, y) => x - y),
        'sorted',
      );
      assert.ok(row.every((e) => e < 50));
    }
    assert.notDeepEqual([...a.subarray(0, 7)], [...a.subarray(7, 14)], 'each row draws its own subset');
    assert.deepEqual([...elementSubsetPicker(50, 7, new Rng(1))(3)!], [...a]);
    assert.equal(elementSubsetPicker(50, 50, new Rng(1))(3), null);
  });

  it("leaves Sim untouched and ranks the demo policy's blocks like the exact ℓ", async () => {
    const base = {
      modelPath: join(root, 'fixtures/demo/policy.onnx'),
      episodesPath: episodes,
      samples: 8,
      seed: 3,
      executionProvider: 'cpu' as const,
      outPath: join(tempDir(), 'p.bacprofile'),
    };
    const exact = (await runProfile({ ...base, l1Elements: Number.MAX_SAFE_INTEGER })).profile;
    const estimate = (await runProfile(base)).profile;
    assert.equal(exact.l1Elements, 1280, 'the demo policy has T·d = 10 × 128 elements per block');
    assert.equal(estimate.l1Elements, DEFAULT_L1_ELEMENTS);
    // Sim comes from the same noise: the subset stream is separate.
    assert.deepEqual(
      estimate.blocks.map((b) => [...b.simMean]),
      exact.blocks.map((b) => [...b.simMean]),
    );
    const relErrors = exact.blocks.map((b, i) => Math.abs(estimate.blocks[i]!.l1Mean - b.l1Mean) / b.l1Mean);
    const worst = Math.max(...relErrors);
    // 8 samples × 128 of 1280 elements: a few per cent expected; 10 % would mean a broken estimator.
    assert.ok(worst < 0.1, `worst relative error of ℓ ${worst.toFixed(3)}`);
    // What ℓ is used for: BUA's top-n. Every block the estimate puts in the top 3 is within the
    // estimate's error of the exact top 3.
    const byExact = [...exact.blocks].sort((a, b) => b.l1Mean - a.l1Mean);
    const third = byExact[2]!.l1Mean;
    const topEstimate = [...estimate.blocks].sort((a, b) => b.l1Mean - a.l1Mean).slice(0, 3);
    for (const b of topEstimate) {
      const exactL1 = exact.blocks.find((x) => x.id === b.id)!.l1Mean;
      assert.ok(exactL1 >= third * (1 - worst), `${b.id}: exact ℓ ${exactL1} far below the exact third ${third}`);
    }
  });
});

describe('profiling in a child process', () => {
  it('writes a valid profile atomically and reports progress', async () => {
    const dir = tempDir();
    const out = join(dir, 'p.bacprofile');
    const seen: number[] = [];
    const r = await profileInChildProcess(
      {
        modelPath: model,
        episodesPath: episodes,
        samples: 4,
        seed: 1,
        executionProvider: 'cpu',
        outPath: out,
        batchSize: 2,
      },
      { onProgress: (p) => seen.push(p.done) },
    );
    assert.deepEqual(seen, [2, 4]);
    const parsed = parseProfile(readFileSync(out));
    assert.ok(parsed.ok);
    assert.equal(parsed.profile.model.path, relative(dir, model));
    assert.equal(r.provider, 'cpu');
    assert.deepEqual(readdirSync(dir), ['p.bacprofile'], 'no temp files left');
  });

  /** A profile long enough (64 samples, one per ORT call) to be interrupted while it runs. */
  const longRequest = (dir: string) => ({
    modelPath: model,
    episodesPath: episodes,
    samples: 64,
    seed: 1,
    executionProvider: 'cpu' as const,
    outPath: join(dir, 'p.bacprofile'),
    batchSize: 1,
  });

  it('leaves nothing behind when cancelled', async () => {
    const dir = tempDir();
    const abort = new AbortController();
    const p = profileInChildProcess(longRequest(dir), { signal: abort.signal, onProgress: () => abort.abort() });
    await assert.rejects(p, ProfileCancelledError);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('turns a killed profiling process into one clear error and no output file', async () => {
    const dir = tempDir();
    const p = profileInChildProcess(longRequest(dir), {
      onSpawn: (pid) => setTimeout(() => process.kill(pid, 'SIGKILL'), 300),
    });
    await assert.rejects(
      p,
      (e: unknown) =>
        e instanceof BacError &&
        /profiling process stopped before finishing \(signal SIGKILL\); no profile was written/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  const badInputs: [string, string, string, RegExp][] = [
    [
      'a model without block outputs',
      fixtures('onnx/no-blocks.onnx'),
      episodes,
      /has no block outputs, expected one graph output bac:<layer>\.<kind>/,
    ],
    [
      'wrong metadata',
      fixtures('onnx/bad-metadata-json.onnx'),
      episodes,
      /metadata "bac\.normalizer" is not valid JSON/,
    ],
    [
      'an observation key missing from the episodes',
      model,
      fixtures('episodes/tiny.hdf5'),
      /observation key "robot_pos" is missing; available keys/,
    ],
    [
      'a dimension mismatch',
      join(root, 'test/fixtures/engine/small-dpt-cond12.onnx'),
      episodes,
      /expects 12 observation values per step but bac\.obs_keys give 11/,
    ],
    [
      'a truncated HDF5 file',
      model,
      fixtures('episodes/truncated.hdf5'),
      /is truncated: it has \d+ bytes but its HDF5 superblock says \d+/,
    ],
    ['an empty zarr', model, fixtures('episodes/empty.zarr'), /holds no episodes/],
  ];
  for (const [what, modelPath, episodesPath, pattern] of badInputs) {
    it(`refuses ${what} with one clear message and no output file`, async () => {
      const dir = tempDir();
      const p = profileInChildProcess({
        modelPath,
        episodesPath,
        samples: 2,
        seed: 1,
        executionProvider: 'cpu',
        outPath: join(dir, 'p.bacprofile'),
      });
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof BacError, `expected a user error, got ${String(e)}`);
        assert.match(e.message, pattern);
        assert.ok(!/\n\s+at /.test(e.message), 'no stack trace in a user error');
        return true;
      });
      assert.deepEqual(readdirSync(dir), []);
    });
  }
});
