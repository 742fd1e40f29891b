import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { uniformSteps } from '../../src/core/baselines';
import { parseSchedule } from '../../src/core/schedule-format';
import type { Schedule } from '../../src/core/types';
import { buildChunkModel, openChunkRunner } from '../../src/engine/chunk-runner';
import { samplerIdentity, samplerStepNodes } from '../../src/engine/onnx/chunk-sampler';
import { buildGatedModel } from '../../src/engine/onnx/gate';
import { CACHE_INPUT, CACHE_OUTPUT, UPDATE_INPUT } from '../../src/engine/onnx/io-names';
import { decodeModel, DataType, encodeModel, makeGraph, tensorValueInfo } from '../../src/engine/onnx/proto';
import { openSession } from '../../src/engine/ort';
import { denoiserFeeds, loadOrt, loadPolicy, policyScheduler, type Policy } from '../../src/engine/policy';
import { Rng } from '../../src/core/rng';
import { CachedRunner, updateTable } from '../../src/engine/runner';
import { applyStepPlan, type StepPlan } from '../../src/engine/sampler-steps';
import { NoiseScheduler, type SamplerConfig } from '../../src/engine/samplers';

const root = resolve(__dirname, '..', '..');
const small = join(root, 'test/fixtures/engine/small-dpt.onnx');
const demo = join(root, 'fixtures/demo/policy.onnx');
const F32 = 2 ** -24;

/**
 * Float32-vs-float64 bound of one step: each sampler term is a float32 product rounded once and
 * summed (≤ 4 roundings of magnitude ≤ Σ|term|), x0 = a·x + b·p likewise before it is scaled by
 * c0; the TypeScript executor computes the same formula in float64 and rounds once at the end.
 * 8 ulps of the sum of magnitudes covers both with margin; at t near N, a = 1/√ᾱ_t ≈ 2 000 makes
 * this bound large in absolute terms, which is why whole chunks are compared with it step by step.
 */
function stepBound(plan: StepPlan, x: number, p: number, q: number, z: number, x0: number): number {
  const c = plan.next;
  const x0Mag = Math.abs(plan.x0FromSample * x) + Math.abs(plan.x0FromPrediction * p);
  return (
    8 *
      F32 *
      (Math.abs(c.x0) * x0Mag +
        Math.abs(c.sample * x) +
        Math.abs(c.x0 * x0) +
        Math.abs(c.prediction * p) +
        Math.abs(c.previousX0 * q) +
        Math.abs(c.noise * z)) +
    1e-7
  );
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!));
  return w;
}

const CONFIGS: SamplerConfig[] = [
  {
    type: 'ddpm',
    num_train_timesteps: 100,
    beta_schedule: 'squaredcos_cap_v2',
    beta_start: 1e-4,
    beta_end: 0.02,
    prediction_type: 'epsilon',
    clip_sample: true,
    num_inference_steps: 10,
  },
  {
    type: 'ddim',
    num_train_timesteps: 100,
    beta_schedule: 'linear',
    beta_start: 1e-4,
    beta_end: 0.02,
    prediction_type: 'sample',
    clip_sample: true,
    num_inference_steps: 8,
    eta: 0.5,
  },
  {
    type: 'ddim',
    num_train_timesteps: 100,
    beta_schedule: 'squaredcos_cap_v2',
    beta_start: 1e-4,
    beta_end: 0.02,
    prediction_type: 'epsilon',
    clip_sample: false,
    num_inference_steps: 10,
  },
  {
    type: 'dpmsolver++',
    num_train_timesteps: 100,
    beta_schedule: 'squaredcos_cap_v2',
    beta_start: 1e-4,
    beta_end: 0.02,
    prediction_type: 'epsilon',
    clip_sample: false,
    num_inference_steps: 10,
    thresholding: true,
    sample_max_value: 1.5,
  },
  // x0 = p ~ N(0, 1): the 0.995 quantile of |x0| falls inside [1, 3], so the interpolation matters
  {
    type: 'dpmsolver++',
    num_train_timesteps: 100,
    beta_schedule: 'squaredcos_cap_v2',
    beta_start: 1e-4,
    beta_end: 0.02,
    prediction_type: 'sample',
    clip_sample: false,
    num_inference_steps: 5,
    thresholding: true,
    sample_max_value: 3,
  },
  {
    type: 'dpmsolver++',
    num_train_timesteps: 100,
    beta_schedule: 'linear',
    beta_start: 1e-4,
    beta_end: 0.02,
    prediction_type: 'sample',
    clip_sample: false,
    num_inference_steps: 6,
    solver_type: 'heun',
  },
];

/** Layouts the sampler nodes run in: [B, T, Da] with Muls, and 2-D [B·T, Da] with Gemms, at B = 2 and 1. */
const SAMPLER_LAYOUTS: { shape: number[]; batch: number; gemms: boolean }[] = [
  { shape: [2, 5, 4], batch: 2, gemms: false },
  { shape: [10, 4], batch: 2, gemms: true },
  { shape: [10, 4], batch: 1, gemms: true },
];

describe('chunk graph sampler nodes', () => {
  it('every step of every sampler equals the TypeScript executor of the same plan within the float32 bound', async () => {
    const ort = loadOrt();
    const n = 40;
    for (const { shape, batch, gemms } of SAMPLER_LAYOUTS) {
      for (const config of CONFIGS) {
        const scheduler = new NoiseScheduler(config);
        let previous: Float64Array | null = null;
        let usedGemms = false;
        for (let k = 0; k < scheduler.numInferenceSteps; k++) {
          const plan = scheduler.stepPlan(k);
          const rng = new Rng(100 + k);
          const x = rng.normalArray(n).map((v) => v * 3);
          const p = rng.normalArray(n);
          const z = rng.normalArray(n);
          const q = previous ?? new Float64Array(n);
          const g = makeGraph('step');
          const names = ['x', 'p', 'q', 'z'];
          for (const name of names) g.input.push(tensorValueInfo(name, DataType.FLOAT, shape));
          const emitted = samplerStepNodes(
            plan,
            { sample: 'x', prediction: 'p', previousX0: 'q', noise: 'z', nextSample: 'out', x0: 'x0' },
            shape,
            'k/',
            batch,
            gemms ? 'identity' : undefined,
          );
          usedGemms ||= emitted.nodes.some((node) => node.opType === 'Gemm');
          g.node.push(...emitted.nodes);
          g.initializer.push(...emitted.initializers);
          if (gemms) g.initializer.push(samplerIdentity('identity', shape[1]!));
          g.output.push(tensorValueInfo('out', DataType.FLOAT, shape), tensorValueInfo('x0', DataType.FLOAT, shape));
          const bytes = encodeModel({
            irVersion: 8,
            opsetImport: [{ domain: '', version: 17 }],
            graph: g,
            metadataProps: [],
          });
          const session = await ort.InferenceSession.create(bytes);
          const tensor = (a: ArrayLike<number>) => new ort.Tensor('float32', Float32Array.from(a), shape);
          const out = await session.run({ x: tensor(x), p: tensor(p), q: tensor(q), z: tensor(z) }, ['out']);
          await session.release();
          const ref = applyStepPlan(plan, p, x, plan.next.previousX0 !== 0 ? q : null, z, batch);
          const got = out.out!.data as Float32Array;
          for (let i = 0; i < n; i++) {
            const bound = stepBound(plan, x[i]!, p[i]!, q[i]!, z[i]!, ref.x0[i]!);
            assert.ok(
              Math.abs(got[i]! - ref.sample[i]!) <= bound,
              `${config.type} [${shape}] B=${batch} step ${k} element ${i}: ${got[i]} vs ${ref.sample[i]} (bound ${bound})`,
            );
          }
          previous = ref.x0;
        }
        assert.equal(usedGemms, gemms, `${config.type} [${shape}]: Gemms exactly in the 2-D layout`);
      }
    }
  });
});

/** Tables the step-by-step test runs: Full, Uniform, a manual edit of Uniform. */
function tables(K: number, n: number): Record<string, Uint8Array> {
  const full = new Uint8Array(K * n).fill(1);
  const uniform = new Uint8Array(K * n);
  for (const k of uniformSteps(K, Math.max(2, Math.floor(K / 3)))) uniform.fill(1, k * n, (k + 1) * n);
  const manual = uniform.slice();
  const rng = new Rng(4);
  for (let k = 1; k < K; k++)
    for (let i = 0; i < n; i++) if (rng.normalArray(1)[0]! > 1) manual[k * n + i] = manual[k * n + i] ? 0 : 1;
  return { full, uniform, manual };
}

function chunkInputs(policy: Policy, seed: number) {
  const rng = new Rng(seed);
  return {
    cond: rng.normalArray(policy.obsSteps * policy.condDim),
    initialSample: rng.normalArray(policy.horizon * policy.actionDim),
    noise: new Rng(seed + 1),
  };
}

/**
 * Runs the chunk graph with per-step outputs and checks each step against the gated graph fed the
 * same x_k and the same caches (prediction and block outputs within 1e-5), and each sampler update
 * against `applyStepPlan` within the float32 bound; then the whole chunk against the cached runner.
 */
async function checkAgainstCachedRunner(
  policy: Policy,
  scheduler: NoiseScheduler,
  table: Uint8Array,
  label: string,
): Promise<void> {
  const ort = loadOrt();
  const n = policy.info.blocks.length;
  const K = scheduler.numInferenceSteps;
  const chunk = await openChunkRunner(policy, scheduler, table, { exposeSteps: true, threads: 1 });
  const gated = buildGatedModel(policy.bytes, policy.info.name, 1);
  const { session } = await openSession(gated.bytes, 'cpu', { intraOpNumThreads: 1 });
  const cached = await CachedRunner.open(policy, 'cpu', { staticBatch: 1, threads: 1 });
  try {
    const inputs = chunkInputs(policy, 21);
    const out = await chunk.runChunkOutputs(inputs);
    const value = (name: string) => (name === 'initial_sample' ? inputs.initialSample : out[name]!);
    const per = policy.horizon * (policy.info.blockShape[2] as number);
    const noise = new Rng(22);
    let previousX0: Float64Array | null = null;
    let x: Float32Array = inputs.initialSample;
    for (let k = 0; k < K; k++) {
      const names = chunk.model.graph.stepValues[k]!;
      const xk = value(names.sample);
      assert.ok(maxDiff(xk, x) === 0 || k > 0, 'x_0 is the initial sample');
      const feeds = denoiserFeeds(ort, policy, xk as Float32Array, scheduler.timesteps[k]!, inputs.cond, 1);
      const cache = new Float32Array(n * per);
      if (k > 0) chunk.model.graph.stepValues[k - 1]!.blocks.forEach((b, i) => cache.set(value(b), i * per));
      feeds[UPDATE_INPUT] = new ort.Tensor('bool', table.slice(k * n, (k + 1) * n), [n]);
      feeds[CACHE_INPUT] = new ort.Tensor('float32', cache, [
        n,
        1,
        policy.horizon,
        policy.info.blockShape[2] as number,
      ]);
      const ref = await session.run(feeds);
      const pred = value(names.prediction);
      assert.ok(
        maxDiff(pred, ref[policy.info.prediction]!.data as Float32Array) <= 1e-5,
        `${label} step ${k}: prediction`,
      );
      const packed = ref[CACHE_OUTPUT]!.data as Float32Array;
      names.blocks.forEach((b, i) => {
        const d = maxDiff(value(b), packed.subarray(i * per, (i + 1) * per));
        assert.ok(d <= 1e-5, `${label} step ${k}: block ${policy.info.blocks[i]!.id} differs by ${d}`);
      });
      const plan = scheduler.stepPlan(k);
      const z = plan.next.noise !== 0 ? noise.normalArray(xk.length) : undefined;
      const step = applyStepPlan(plan, pred as Float32Array, xk as Float32Array, previousX0, z, 1);
      const next =
        k + 1 < K ? value(chunk.model.graph.stepValues[k + 1]!.sample) : await chunk.runChunk(chunkInputs(policy, 21));
      for (let i = 0; i < next.length; i++) {
        const bound = stepBound(plan, xk[i]!, pred[i]!, previousX0?.[i] ?? 0, z?.[i] ?? 0, step.x0[i]!);
        assert.ok(
          Math.abs(next[i]! - step.sample[i]!) <= bound,
          `${label} step ${k}: sampler update ${next[i]} vs ${step.sample[i]}`,
        );
      }
      previousX0 = step.x0;
      x = next as Float32Array;
    }
    const whole = await chunk.runChunk(chunkInputs(policy, 21));
    const reference = await cached.runChunk(scheduler, table, { batch: 1, ...chunkInputs(policy, 21) });
    // Whole chunks: the per-step differences above (float32 graph arithmetic vs float64 TypeScript)
    // propagate; x0 clipping and thresholding contract them, so the observed end-to-end difference
    // stays near the step bound. 1e-4 is the stated bound for the demo-sized models tested here.
    assert.ok(maxDiff(whole, reference) <= 1e-4, `${label}: whole chunk vs cached runner ${maxDiff(whole, reference)}`);
  } finally {
    await Promise.all([chunk.close(), session.release(), cached.release()]);
  }
}

describe('chunk graph vs the cached runner', () => {
  for (const [K, type] of [
    [10, 'dpmsolver++'],
    [10, 'ddim'],
    [20, 'ddpm'],
  ] as const) {
    it(`${type}-${K}: Full, Uniform and a manual edit agree step by step (1e-5) and as whole chunks`, async () => {
      const policy = await loadPolicy(small);
      const scheduler = policyScheduler(policy, K, type);
      for (const [label, table] of Object.entries(tables(K, policy.info.blocks.length))) {
        await checkAgainstCachedRunner(policy, scheduler, table, `${type}-${K} ${label}`);
      }
    });
  }

  it('a model with a transformer condition encoder (n_cond_layers > 0) agrees step by step too', async () => {
    const policy = await loadPolicy(join(root, 'test/fixtures/engine/small-dpt-cond12.onnx'));
    const scheduler = policyScheduler(policy, 10, 'dpmsolver++');
    const { manual } = tables(10, policy.info.blocks.length);
    await checkAgainstCachedRunner(policy, scheduler, manual!, 'cond12 dpmsolver++-10 manual');
  });

  it("the demo policy's shipped BAC schedule (DDPM-100) agrees step by step and as a whole chunk", async () => {
    const policy = await loadPolicy(demo);
    const parsed = parseSchedule(readFileSync(join(root, 'fixtures/demo/policy.bacschedule'), 'utf8'));
    assert.ok(parsed.ok);
    const schedule = (parsed as { schedule: Schedule }).schedule;
    const table = updateTable(
      schedule,
      policy.info.blocks.map((b) => b.id),
    );
    await checkAgainstCachedRunner(policy, policyScheduler(policy), table, 'demo BAC');
  });
});

describe('chunk model', () => {
  it('a step where every block reuses runs the input embedding, the final norm on a shared sum, the head and the sampler', async () => {
    const policy = await loadPolicy(small);
    const n = policy.info.blocks.length;
    const K = 10;
    const table = new Uint8Array(K * n).fill(1, 0, n);
    for (const [type, samplerNodes] of [
      ['ddpm', 4], // x0 Gemm, Clip, update Gemm, Sum with the noise term
      ['ddim', 3],
      ['dpmsolver++', 10], // thresholding: Reshape, Abs, TopK, MatMul, Clip, Div, Clip
    ] as const) {
      const { graph } = await buildChunkModel(policy, policyScheduler(policy, K, type), table);
      for (let k = 2; k < K - 1; k++) {
        const nodes = graph.model.graph!.node.filter((node) => node.name?.startsWith(`s${k}/`));
        const denoiser = nodes.filter((node) => !node.name!.includes('/sampler/')).map((node) => node.opType);
        assert.deepEqual(denoiser, ['Gemm', 'SkipLayerNormalization', 'Gemm'], `${type} step ${k}`);
        assert.equal(nodes.length - denoiser.length, samplerNodes, `${type} step ${k}: sampler nodes`);
      }
    }
  });

  it("shares the step's weights: its initializer bytes are within 2 % of the plain model's", async () => {
    const policy = await loadPolicy(demo);
    const scheduler = policyScheduler(policy, 10, 'dpmsolver++');
    const chunk = await buildChunkModel(policy, scheduler, 'full');
    const weightBytes = (bytes: Uint8Array) =>
      (decodeModel(bytes).graph?.initializer ?? []).reduce(
        (s, t) => s + (t.rawData?.length ?? 0) + 4 * t.floatData.length,
        0,
      );
    const plain = weightBytes(policy.bytes);
    const unrolled = weightBytes(chunk.bytes);
    assert.ok(Math.abs(unrolled - plain) / plain < 0.02, `chunk ${unrolled} B of weights vs plain ${plain} B`);
  });

  it('refuses a table whose first step does not update every block, and a chunk of another batch', async () => {
    const policy = await loadPolicy(small);
    const scheduler = policyScheduler(policy, 10, 'ddim');
    const table = new Uint8Array(10 * policy.info.blocks.length).fill(1);
    table[0] = 0;
    await assert.rejects(buildChunkModel(policy, scheduler, table), /does not update at step 0/);
    const runner = await openChunkRunner(policy, scheduler, 'full');
    try {
      const two = chunkInputs(policy, 3);
      await assert.rejects(
        runner.runChunk({ ...two, cond: new Float32Array(2 * two.cond.length) }),
        /built for batch 1/,
      );
    } finally {
      await runner.close();
    }
  });
});
