/**
 * `bac compile` (src/engine/compile.ts): the schedule baked into the gated graph as a [K, nBlocks]
 * table indexed by `step`, the packed cache as state. A plain ORT loop over the compiled model
 * (nothing of BAC but the sampler) must match a loop over the gated graph fed the same gates by
 * hand; a full schedule must match the plain model; mismatched schedules are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { updateSteps } from '../../src/core/blocks';
import { isBacError } from '../../src/core/errors';
import { parseSchedule, serializeSchedule } from '../../src/core/schedule-format';
import type { Schedule } from '../../src/core/types';
import { compileSchedule, compileScheduleDetailed, SCHEDULE_TABLE, STEP_INPUT } from '../../src/engine/compile';
import { buildGatedModel } from '../../src/engine/onnx/gate';
import { CACHE_INPUT, CACHE_OUTPUT, UPDATE_INPUT } from '../../src/engine/onnx/io-names';
import { inspectModel } from '../../src/engine/onnx/inspect';
import { decodeModel } from '../../src/engine/onnx/proto';
import { NoiseScheduler, type SamplerConfig } from '../../src/engine/samplers';

const DIR = path.resolve(__dirname, '..', 'fixtures', 'onnx');
const TINY = path.join(DIR, 'tiny.onnx');
const OPTS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
const K = 10;

/** A valid schedule for tiny.onnx (round-tripped through the core's serialiser and parser). */
function tinySchedule(updates: (blockIndex: number) => number[], sha256?: string): Schedule {
  const info = inspectModel(TINY);
  const draft: Schedule = {
    model: { path: 'tiny.onnx', sha256: sha256 ?? info.sha256 },
    sampler: { type: 'ddim', steps: K },
    solver: { budget: 3, topN: 0, forceLast: true, profile: null },
    baseCost: info.baseCost,
    blocks: info.blocks.map((b, i) => ({
      id: b.id,
      acs: updates(i),
      bua: [],
      manual: [],
      manualOff: [],
      cost: b.cost,
    })),
  };
  const r = parseSchedule(serializeSchedule(draft));
  assert.ok(r.ok, JSON.stringify(r));
  return r.schedule;
}

// a different update set per block, step 0 in every one
const PATTERNS = [[0, 3, 9], [0, 1, 2, 5, 9], [0, 9], [0, 4, 6, 9], [0, 2, 4, 6, 8], [0]];

/** Runs the DDIM loop; `denoise(x, t, k)` returns the prediction. Returns every step's sample. */
async function loop(
  denoise: (x: Float32Array, t: number, k: number) => Promise<Float32Array>,
): Promise<Float32Array[]> {
  const info = inspectModel(TINY);
  const config: SamplerConfig = {
    ...(info.metadata.sampler.raw as unknown as SamplerConfig),
    type: 'ddim',
    num_inference_steps: K,
  };
  const scheduler = new NoiseScheduler(config);
  let x: Float32Array = Float32Array.from({ length: 2 * 8 * 2 }, (_, i) => Math.sin(1.3 * i + 0.2));
  const xs: Float32Array[] = [];
  for (let k = 0; k < K; k++) {
    const t = scheduler.timesteps[k] as number;
    x = scheduler.step(await denoise(x, t, k), t, x);
    xs.push(x);
  }
  return xs;
}

const COND = new ort.Tensor(
  'float32',
  Float32Array.from({ length: 12 }, (_, i) => Math.cos(0.7 * i)),
  [2, 2, 3],
);
const feeds = (x: Float32Array, t: number): Record<string, ort.Tensor> => ({
  sample: new ort.Tensor('float32', x, [2, 8, 2]),
  timestep: new ort.Tensor('int64', BigInt64Array.from([BigInt(t), BigInt(t)]), [2]),
  cond: COND,
});

test('compiled model: inputs, outputs, table and metadata', () => {
  const schedule = tinySchedule((i) => PATTERNS[i] as number[]);
  const c = compileScheduleDetailed(readFileSync(TINY), schedule, { modelName: 'tiny.onnx' });
  const m = decodeModel(c.bytes);
  const g = m.graph;
  assert.ok(g);
  assert.deepEqual(
    g.input.map((i) => i.name),
    ['sample', 'timestep', 'cond', STEP_INPUT, CACHE_INPUT],
  );
  assert.deepEqual(
    g.output.map((o) => o.name),
    ['prediction', CACHE_OUTPUT],
  );
  const table = g.initializer.find((t) => t.name === SCHEDULE_TABLE);
  assert.deepEqual(table?.dims, [K, 6]);
  assert.equal(c.steps, K);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < 6; i++) assert.equal(c.table[k * 6 + i], (PATTERNS[i] as number[]).includes(k) ? 1 : 0);
  }
  assert.deepEqual(m.opsetImport, decodeModel(readFileSync(TINY)).opsetImport);
  const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value ?? '']));
  for (const k of ['bac.obs_keys', 'bac.horizon', 'bac.n_obs_steps', 'bac.n_action_steps', 'bac.normalizer']) {
    assert.equal(meta[k], inspectModel(TINY).metadataProps[k], k);
  }
  const sampler = JSON.parse(meta['bac.sampler'] ?? '') as Record<string, unknown>;
  assert.equal(sampler.type, 'ddim');
  assert.equal(sampler.num_inference_steps, K);
  assert.equal(sampler.beta_schedule, 'squaredcos_cap_v2');
  const sched = JSON.parse(meta['bac.schedule'] ?? '') as Record<string, unknown>;
  assert.equal(sched.steps, K);
  assert.equal(sched.budget, 3);
  assert.equal(sched.topN, 0);
  assert.equal(sched.updates, PATTERNS.flat().length);
  assert.deepEqual(sched.blocks, ['0.sa', '0.ca', '0.ffn', '1.sa', '1.ca', '1.ffn']);
  const conv = JSON.parse(meta['bac.calling_convention'] ?? '') as { inputs: Record<string, string>; loop: string[] };
  assert.match(conv.inputs.step ?? '', /^int64 \[1\]/);
  assert.ok(conv.loop.some((l) => l.includes('step=[k]')));
});

test('plain ORT loop over the compiled model = loop over the gated graph with the same gates', async () => {
  const bytes = readFileSync(TINY);
  const schedule = tinySchedule((i) => PATTERNS[i] as number[]);
  const compiled = await ort.InferenceSession.create(compileSchedule(bytes, schedule), OPTS);
  const gated = await ort.InferenceSession.create(buildGatedModel(bytes).bytes, OPTS);
  try {
    const zeros = (): ort.Tensor => new ort.Tensor('float32', new Float32Array(6 * 2 * 8 * 32), [6, 2, 8, 32]);
    // the deployer's loop: step index and cache state, nothing else
    let state = zeros();
    const viaCompiled = await loop(async (x, t, k) => {
      const out = await compiled.run({
        ...feeds(x, t),
        [STEP_INPUT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]),
        [CACHE_INPUT]: state,
      });
      state = out[CACHE_OUTPUT] as ort.Tensor;
      return out.prediction?.data as Float32Array;
    });
    // the reference: gates computed here from the schedule's update sets
    let cache = zeros();
    const viaGated = await loop(async (x, t, k) => {
      const gates = Uint8Array.from(schedule.blocks.map((b) => (updateSteps(b).includes(k) ? 1 : 0)));
      const out = await gated.run({
        ...feeds(x, t),
        [UPDATE_INPUT]: new ort.Tensor('bool', gates, [6]),
        [CACHE_INPUT]: cache,
      });
      cache = out[CACHE_OUTPUT] as ort.Tensor;
      return out.prediction?.data as Float32Array;
    });
    viaCompiled.forEach((x, k) => assert.deepEqual(x, viaGated[k], `step ${k}`));
    assert.deepEqual(state.data, cache.data);
    // and caching changed the result (the table is really applied)
    const full = await ort.InferenceSession.create(bytes, OPTS);
    try {
      const viaPlain = await loop(async (x, t) => (await full.run(feeds(x, t))).prediction?.data as Float32Array);
      const last = K - 1;
      const d = Math.max(
        ...(viaPlain[last] as Float32Array).map((v, i) =>
          Math.abs(v - ((viaCompiled[last] as Float32Array)[i] as number)),
        ),
      );
      assert.ok(d > 1e-4, `cached result should differ from full, max |Δ| = ${d}`);
    } finally {
      await full.release();
    }
  } finally {
    await compiled.release();
    await gated.release();
  }
});

test('a full schedule compiles to a model whose loop is bit-identical to the plain model', async () => {
  const bytes = readFileSync(TINY);
  const all = [...Array(K).keys()];
  const compiled = await ort.InferenceSession.create(
    compileSchedule(
      bytes,
      tinySchedule(() => all),
    ),
    OPTS,
  );
  const plain = await ort.InferenceSession.create(bytes, OPTS);
  try {
    let state: ort.Tensor = new ort.Tensor('float32', new Float32Array(6 * 2 * 8 * 32), [6, 2, 8, 32]);
    const a = await loop(async (x, t, k) => {
      const out = await compiled.run({
        ...feeds(x, t),
        [STEP_INPUT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]),
        [CACHE_INPUT]: state,
      });
      state = out[CACHE_OUTPUT] as ort.Tensor;
      return out.prediction?.data as Float32Array;
    });
    const b = await loop(async (x, t) => (await plain.run(feeds(x, t))).prediction?.data as Float32Array);
    a.forEach((x, k) => assert.deepEqual(x, b[k], `step ${k}`));
  } finally {
    await compiled.release();
    await plain.release();
  }
});

test('refused: schedule for a different model (sha256), wrong blocks, no update at step 0, broken model', () => {
  const bytes = readFileSync(TINY);
  const other = 'ab'.repeat(32);
  assert.throws(
    () =>
      compileSchedule(
        bytes,
        tinySchedule((i) => PATTERNS[i] as number[], other),
        { modelName: 'tiny.onnx', scheduleName: 'S.bacschedule' },
      ),
    (e: unknown) =>
      isBacError(e) &&
      (e as Error).message.startsWith(
        `S.bacschedule: model.sha256 ${other.slice(0, 12)}… does not match the model (${inspectModel(TINY).sha256.slice(0, 12)}…; the schedule names tiny.onnx): the schedule was solved for another model`,
      ),
  );
  const good = tinySchedule((i) => PATTERNS[i] as number[]);
  assert.throws(
    () => compileSchedule(bytes, { ...good, blocks: good.blocks.slice(0, 3) }, { scheduleName: 'S.bacschedule' }),
    /^BacError: S\.bacschedule: blocks \[0\.sa, 0\.ca, 0\.ffn\] do not match model\.onnx's blocks \[0\.sa, 0\.ca, 0\.ffn, 1\.sa, 1\.ca, 1\.ffn\]/,
  );
  const noZero = { ...good, blocks: good.blocks.map((b, i) => (i === 2 ? { ...b, acs: [3, 9] } : b)) };
  assert.throws(() => compileSchedule(bytes, noZero), /^BacError: schedule: block\(s\) 0\.ffn do not update at step 0/);
  assert.throws(
    () => compileSchedule(readFileSync(path.join(DIR, 'no-blocks.onnx')), good, { modelName: 'no-blocks.onnx' }),
    (e: unknown) => isBacError(e) && /^no-blocks\.onnx: has no block outputs/.test((e as Error).message),
  );
});

test('--batch: the compiled model has a fixed batch, its loop matches the unspecialized one within 1e-5, other batches are refused', async () => {
  const bytes = readFileSync(TINY);
  const schedule = tinySchedule((i) => PATTERNS[i] as number[]);
  const fixed = compileScheduleDetailed(bytes, schedule, { batch: 2 });
  const m = decodeModel(fixed.bytes);
  const batchDims = ['sample', 'timestep', 'cond', CACHE_INPUT].map(
    (n) => m.graph?.input.find((i) => i.name === n)?.type?.tensorType?.shape?.dim[n === CACHE_INPUT ? 1 : 0]?.dimValue,
  );
  assert.deepEqual(batchDims, [2, 2, 2, 2]);
  const conv = JSON.parse(m.metadataProps.find((p) => p.key === 'bac.calling_convention')?.value ?? '') as {
    batch: unknown;
  };
  assert.equal(conv.batch, 2);
  const run = async (session: ort.InferenceSession): Promise<Float32Array[]> => {
    let state: ort.Tensor = new ort.Tensor('float32', new Float32Array(6 * 2 * 8 * 32), [6, 2, 8, 32]);
    return loop(async (x, t, k) => {
      const out = await session.run({
        ...feeds(x, t),
        [STEP_INPUT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]),
        [CACHE_INPUT]: state,
      });
      state = out[CACHE_OUTPUT] as ort.Tensor;
      return out.prediction?.data as Float32Array;
    });
  };
  const a = await ort.InferenceSession.create(fixed.bytes, OPTS);
  const b = await ort.InferenceSession.create(compileSchedule(bytes, schedule), OPTS);
  try {
    const xa = await run(a);
    const xb = await run(b);
    const worst = Math.max(
      ...xa.map((x, k) => Math.max(...x.map((v, i) => Math.abs(v - (xb[k] as Float32Array)[i]!)))),
    );
    assert.ok(worst <= 1e-5, `batch-2 compiled vs unspecialized: ${worst}`);
    await assert.rejects(
      a.run({
        sample: new ort.Tensor('float32', new Float32Array(16), [1, 8, 2]),
        timestep: new ort.Tensor('int64', BigInt64Array.from([1n]), [1]),
        cond: new ort.Tensor('float32', new Float32Array(6), [1, 2, 3]),
        [STEP_INPUT]: new ort.Tensor('int64', BigInt64Array.from([0n]), [1]),
        [CACHE_INPUT]: new ort.Tensor('float32', new Float32Array(6 * 8 * 32), [6, 1, 8, 32]),
      }),
    );
  } finally {
    await Promise.all([a.release(), b.release()]);
  }
});

test('bac.sampler of a compiled model is the sampler the schedule was profiled with, as profiling built it', () => {
  const bytes = readFileSync(TINY);
  const raw = JSON.parse(inspectModel(TINY).metadataProps['bac.sampler'] ?? '') as Record<string, unknown>;
  const base = tinySchedule((i) => PATTERNS[i] as number[]);
  const schedule: Schedule = { ...base, sampler: { type: 'dpmsolver++', steps: K } };
  const m = decodeModel(compileSchedule(bytes, schedule));
  const sampler = JSON.parse(m.metadataProps.find((p) => p.key === 'bac.sampler')?.value ?? '') as Record<
    string,
    unknown
  >;
  assert.equal(sampler.type, 'dpmsolver++');
  assert.equal(sampler.num_inference_steps, K);
  assert.equal(sampler.timestep_spacing, 'linspace');
  // a policy trained with clip_sample gets DPM-Solver++'s equivalent, thresholding at its range
  assert.equal(sampler.thresholding, raw.clip_sample === true ? true : undefined);
  assert.equal(sampler.beta_schedule, raw.beta_schedule);
  // and it is a configuration the engine's sampler accepts
  assert.equal(new NoiseScheduler(sampler as unknown as SamplerConfig).numInferenceSteps, K);
});
