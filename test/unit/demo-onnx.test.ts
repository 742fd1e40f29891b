/**
 * The demo ONNX against PyTorch's reference vectors (fixtures/demo/vectors, written by
 * python/make_test_vectors.py), in onnxruntime-node on CPU:
 *  - docs/method.md's model contract: inputs, first output, 3·L `bac:<l>.<kind>` block outputs in model
 *    order, `bac.*` metadata that parses as JSON with the documented fields;
 *  - the denoiser output and every block output for fixed inputs (B = 2) within the index's
 *    tolerance (1e-4);
 *  - full DDPM and DDIM trajectories driven by the TypeScript samplers through ORT, with PyTorch's
 *    stored initial and per-step noise, against PyTorch's trajectories step by step.
 * The vectors name the ONNX they belong to and its sha256, so a re-exported model with stale vectors
 * fails loudly instead of comparing against the wrong weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { NoiseScheduler, runSampler, type SamplerConfig } from '../../src/engine/samplers';

const REPO = path.resolve(__dirname, '..', '..');
const DEMO = path.join(REPO, 'fixtures', 'demo');
// BAC_TEST_VECTORS points the test at another vector set (e.g. a dry run on an intermediate checkpoint).
const VEC_DIR = process.env['BAC_TEST_VECTORS']
  ? path.resolve(process.env['BAC_TEST_VECTORS'])
  : path.join(DEMO, 'vectors');
const POLICY = path.join(DEMO, 'policy.onnx');
/** The committed vectors must be those of the real demo policy; only a BAC_TEST_VECTORS dry run may differ. */
const REQUIRE_POLICY = !process.env['BAC_TEST_VECTORS'];

interface TensorEntry {
  offset: number;
  shape: number[];
}
interface Trajectory {
  name: string;
  sampler: SamplerConfig;
  timesteps: number[];
  cond: string;
  initial_noise: string;
  step_noises: string;
  samples: string;
  /** The model output PyTorch fed each step, [K, B, T, Da]. */
  model_outputs: string;
  final: string;
}
interface VectorIndex {
  format: string;
  version: number;
  tolerance: number;
  model: {
    onnx: string;
    onnx_sha256: string;
    source: string;
    dims: { horizon: number; action_dim: number; n_obs_steps: number; obs_dim: number };
    n_blocks: number;
  };
  data: string;
  tensors: Record<string, TensorEntry>;
  denoiser: { inputs: { sample: string; timestep: number[]; cond: string }; outputs: Record<string, string> };
  trajectories: Trajectory[];
}

const index = JSON.parse(readFileSync(path.join(VEC_DIR, 'index.json'), 'utf8')) as VectorIndex;
const blob = readFileSync(path.join(VEC_DIR, index.data));
const modelPath = path.resolve(VEC_DIR, index.model.onnx);
const tol = index.tolerance;

/** A stored float32 tensor (copied out of the blob, so alignment does not matter). */
function tensor(name: string): { data: Float32Array; shape: number[] } {
  const e = index.tensors[name];
  assert.ok(e, `vector ${name} missing from index.json`);
  const n = e.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const view = new DataView(blob.buffer, blob.byteOffset + e.offset, n * 4);
  for (let i = 0; i < n; i++) data[i] = view.getFloat32(i * 4, true);
  return { data, shape: e.shape };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

// --- minimal protobuf reader: ModelProto.metadata_props and graph input/output names ----------
// (ORT's JS API does not expose custom metadata; the wire format is simple enough to read here.)

type Field = { no: number; wire: number; value: number | Uint8Array };

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield { no, wire, value: varint() };
    else if (wire === 1) {
      pos += 8;
      yield { no, wire, value: 0 };
    } else if (wire === 2) {
      const len = varint();
      yield { no, wire, value: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 5) {
      pos += 4;
      yield { no, wire, value: 0 };
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

function readModelMeta(bytes: Uint8Array): Map<string, string> {
  const meta = new Map<string, string>();
  const dec = new TextDecoder();
  for (const f of fields(bytes)) {
    if (f.no === 14 && f.value instanceof Uint8Array) {
      // StringStringEntryProto { key = 1; value = 2; }
      let k = '';
      let v = '';
      for (const g of fields(f.value)) {
        if (g.value instanceof Uint8Array) {
          if (g.no === 1) k = dec.decode(g.value);
          if (g.no === 2) v = dec.decode(g.value);
        }
      }
      meta.set(k, v);
    }
  }
  return meta;
}

let sessionPromise: Promise<ort.InferenceSession> | undefined;
function session(): Promise<ort.InferenceSession> {
  sessionPromise ??= ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  return sessionPromise;
}

const d = index.model.dims;

test('vectors belong to the demo policy fixtures/demo/policy.onnx (sha256)', () => {
  assert.equal(index.format, 'bac-test-vectors');
  assert.ok(existsSync(modelPath), `ONNX ${modelPath} named by vectors/index.json is missing`);
  const sha = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
  assert.equal(
    sha,
    index.model.onnx_sha256,
    `${path.relative(REPO, modelPath)} changed since the vectors were written: rerun python/make_test_vectors.py`,
  );
  if (REQUIRE_POLICY) {
    assert.equal(
      modelPath,
      POLICY,
      'fixtures/demo/vectors were made for another model: regenerate them from the demo checkpoint (fixtures/demo/regen.sh vectors)',
    );
  }
});

test('model contract: inputs, outputs and bac.* metadata (docs/method.md)', async () => {
  const s = await session();
  assert.deepEqual(s.inputNames, ['sample', 'timestep', 'cond']);
  const inputs = new Map(s.inputMetadata.map((m) => [m.name, m]));
  const expectIn = (name: string, type: string, shape: (number | string)[]): void => {
    const m = inputs.get(name);
    assert.ok(m && m.isTensor, `${name} is a tensor input`);
    assert.equal(m.type, type, `${name} type`);
    assert.equal(m.shape.length, shape.length, `${name} rank`);
    assert.equal(typeof m.shape[0], 'string', `${name}: batch axis is dynamic`);
    assert.deepEqual(m.shape.slice(1), shape.slice(1), `${name} shape`);
  };
  expectIn('sample', 'float32', ['B', d.horizon, d.action_dim]);
  assert.ok(['int64', 'float32'].includes((inputs.get('timestep') as { type: string }).type), 'timestep type');
  expectIn('timestep', (inputs.get('timestep') as { type: string }).type, ['B']);
  expectIn('cond', 'float32', ['B', d.n_obs_steps, d.obs_dim]);

  const [first, ...rest] = s.outputMetadata;
  assert.ok(first && first.isTensor, 'first output is a tensor');
  assert.deepEqual(first.shape.slice(1), [d.horizon, d.action_dim], 'first output is the prediction [B,T,Da]');
  const blockNames = rest.map((m) => m.name).filter((n) => n.startsWith('bac:'));
  assert.equal(blockNames.length, index.model.n_blocks);
  const layers = index.model.n_blocks / 3;
  const expected = Array.from({ length: layers }, (_, l) => ['sa', 'ca', 'ffn'].map((k) => `bac:${l}.${k}`)).flat();
  assert.deepEqual(blockNames, expected, 'block outputs bac:<layer>.<kind> in model order');
  for (const m of rest) {
    if (m.isTensor && m.name.startsWith('bac:')) {
      assert.equal(m.shape.length, 3, `${m.name} is [B,T,d]`);
      assert.equal(m.shape[1], d.horizon, `${m.name} T`);
    }
  }
  if (REQUIRE_POLICY) assert.equal(index.model.n_blocks, 24, 'the demo DP-T has 8 layers = 24 blocks');

  const meta = readModelMeta(readFileSync(modelPath));
  const parsed: Record<string, unknown> = {};
  for (const key of [
    'bac.sampler',
    'bac.obs_keys',
    'bac.horizon',
    'bac.n_obs_steps',
    'bac.n_action_steps',
    'bac.normalizer',
  ]) {
    const raw = meta.get(key);
    assert.ok(raw !== undefined, `metadata ${key} present`);
    parsed[key] = JSON.parse(raw);
  }
  const sampler = parsed['bac.sampler'] as Record<string, unknown>;
  for (const k of [
    'type',
    'num_train_timesteps',
    'beta_schedule',
    'beta_start',
    'beta_end',
    'prediction_type',
    'clip_sample',
    'num_inference_steps',
  ]) {
    assert.ok(k in sampler, `bac.sampler.${k}`);
  }
  assert.equal(parsed['bac.horizon'], d.horizon);
  assert.equal(parsed['bac.n_obs_steps'], d.n_obs_steps);
  assert.ok(Number.isInteger(parsed['bac.n_action_steps']));
  const obsKeys = parsed['bac.obs_keys'] as unknown[];
  assert.ok(Array.isArray(obsKeys) && obsKeys.length > 0 && obsKeys.every((k) => typeof k === 'string'));
  const norm = parsed['bac.normalizer'] as Record<string, { scale: number[]; offset: number[] }>;
  assert.equal(norm.obs?.scale.length, d.obs_dim, 'normalizer.obs.scale has one entry per cond dim');
  assert.equal(norm.obs?.offset.length, d.obs_dim);
  assert.equal(norm.action?.scale.length, d.action_dim, 'normalizer.action.scale has one entry per action dim');
  assert.equal(norm.action?.offset.length, d.action_dim);
  // the sampler in the metadata is the one the DDPM trajectory was made with
  const ddpm = index.trajectories.find((t) => t.sampler.type === 'ddpm');
  assert.ok(ddpm);
  for (const k of ['num_train_timesteps', 'beta_schedule', 'clip_sample', 'prediction_type', 'num_inference_steps']) {
    assert.equal(sampler[k], (ddpm.sampler as unknown as Record<string, unknown>)[k], `bac.sampler.${k}`);
  }
});

function feeds(sample: Float32Array, timesteps: readonly number[], cond: Float32Array): Record<string, ort.Tensor> {
  const b = timesteps.length;
  return {
    sample: new ort.Tensor('float32', sample, [b, d.horizon, d.action_dim]),
    timestep: new ort.Tensor('int64', BigInt64Array.from(timesteps.map((t) => BigInt(t))), [b]),
    cond: new ort.Tensor('float32', cond, [b, d.n_obs_steps, d.obs_dim]),
  };
}

test('denoiser output and every block output match PyTorch (B = 2)', async (t) => {
  const s = await session();
  const inp = index.denoiser.inputs;
  const out = await s.run(feeds(tensor(inp.sample).data, inp.timestep, tensor(inp.cond).data));
  const names = Object.keys(index.denoiser.outputs);
  assert.equal(names.length, 1 + index.model.n_blocks);
  const firstName = s.outputNames[0]!;
  let worst = 0;
  for (const name of names) {
    const ref = tensor(index.denoiser.outputs[name]!);
    const got = out[name === 'prediction' ? firstName : name];
    assert.ok(got, `ORT output ${name}`);
    assert.deepEqual(got.dims, ref.shape, `${name} shape`);
    const diff = maxAbsDiff(got.data as Float32Array, ref.data);
    assert.ok(diff <= tol, `${name}: max |ORT − torch| = ${diff} > ${tol}`);
    worst = Math.max(worst, diff);
  }
  t.diagnostic(`max |ORT − torch| over prediction and ${names.length - 1} blocks: ${worst}`);
});

/** DPM-Solver++'s gain from ε to the sample at its first step: (σ_s/α_s)·α_t·(1 − e^{−h}). */
function dpmFirstStepGain(sched: NoiseScheduler): number {
  const alphaSigma = (st: number): [number, number] => [1 / Math.sqrt(st * st + 1), st / Math.sqrt(st * st + 1)];
  const [aS, sS] = alphaSigma(sched.sigmas[0]!);
  const [aT, sT] = alphaSigma(sched.sigmas[1]!);
  const h = Math.log(aT / sT) - Math.log(aS / sS);
  return (sS / aS) * aT * (1 - Math.exp(-h));
}

for (const traj of index.trajectories) {
  test(`${traj.name} trajectory: the TS sampler alone, fed PyTorch's model outputs, matches PyTorch at every step`, async (tc) => {
    const sched = new NoiseScheduler(traj.sampler);
    assert.deepEqual(sched.timesteps, traj.timesteps, 'timesteps');
    const init = tensor(traj.initial_noise);
    const perStep = init.data.length;
    const noises = tensor(traj.step_noises).data;
    const outputs = tensor(traj.model_outputs).data;
    const samples = tensor(traj.samples).data;
    let worst = 0;
    let k = 0;
    await runSampler({
      scheduler: sched,
      cond: undefined,
      initialSample: init.data,
      denoise: async () => outputs.slice(k * perStep, ++k * perStep),
      noise: (step) => noises.subarray(step * perStep, (step + 1) * perStep),
      onStep: (step, t, x) => {
        const ref = samples.subarray((step + 1) * perStep, (step + 2) * perStep);
        // float32 PyTorch against float64 arithmetic stored as float32, relative to the sample's
        // size; rounding accumulates over DDPM's 100 steps to ≈ 1e-5
        const scale = Math.max(1, ...Array.from(ref, Math.abs));
        const diff = maxAbsDiff(x, ref) / scale;
        worst = Math.max(worst, diff);
        assert.ok(diff <= 5e-5, `${traj.name} step ${step} (t=${t}): max |TS − torch| / scale = ${diff}`);
      },
    });
    tc.diagnostic(`max relative |TS − torch| over ${sched.numInferenceSteps} steps: ${worst}`);
  });

  test(`${traj.name} trajectory: TS sampler + ORT matches PyTorch at every step`, async (tc) => {
    const s = await session();
    const sched = new NoiseScheduler(traj.sampler);
    // DPM-Solver++ turns ε into a data prediction x0 = (x − σ_s·ε)/α_s; at the noisiest step of the
    // cosine schedule α_s ≈ 5e-4, so the float32 difference between ORT's and PyTorch's ε (≈ 6e-6,
    // the denoiser test above) reaches the samples multiplied by (σ_s/α_s)·α_t·(1 − e^{−h}) of the
    // first step (≈ 240 here) and stays there (later steps integrate x0). The tolerance is that
    // amplification times 1e-5; a wrong formula or timestep is off by orders of magnitude more, and
    // the test above checks the sampler alone.
    const stepTol = traj.sampler.type === 'dpmsolver++' ? 1e-5 * dpmFirstStepGain(sched) : tol;
    assert.deepEqual(sched.timesteps, traj.timesteps, 'timesteps');
    const cond = tensor(traj.cond).data;
    const init = tensor(traj.initial_noise);
    const b = init.shape[0]!;
    const perStep = init.data.length;
    const noises = tensor(traj.step_noises).data;
    const samples = tensor(traj.samples).data;
    const firstName = s.outputNames[0]!;
    let worst = 0;
    const final = await runSampler({
      scheduler: sched,
      cond,
      initialSample: init.data,
      denoise: async (x, t, c) => {
        const r = await s.run(feeds(x, new Array<number>(b).fill(t), c), [firstName]);
        return r[firstName]!.data as Float32Array;
      },
      noise: (k) => noises.subarray(k * perStep, (k + 1) * perStep),
      onStep: (k, t, x) => {
        const ref = samples.subarray((k + 1) * perStep, (k + 2) * perStep);
        const diff = maxAbsDiff(x, ref);
        worst = Math.max(worst, diff);
        assert.ok(diff <= stepTol, `${traj.name} step ${k} (t=${t}): max |TS − torch| = ${diff} > ${stepTol}`);
      },
    });
    const diff = maxAbsDiff(final, tensor(traj.final).data);
    assert.ok(diff <= stepTol, `${traj.name} final: ${diff}`);
    assert.ok(worst <= stepTol);
    tc.diagnostic(`max |TS+ORT − torch| over ${sched.numInferenceSteps} steps: ${worst}`);
  });
}
