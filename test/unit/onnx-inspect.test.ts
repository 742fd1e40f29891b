/**
 * Model loading (src/engine/onnx): lossless protobuf round trip, the model contract with one clear
 * message per malformed variant, typed metadata, and FLOPs per block counted by hand. Models come
 * from test/fixtures-gen/make_tiny_models.py (test/fixtures/onnx).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { isBacError } from '../../src/core/errors';
import { inferShapes } from '../../src/engine/onnx/shapes';
import { inspectModel, ModelContractError } from '../../src/engine/onnx/inspect';
import { decodeModel, encodeModel, tensorValueInfo, DataType } from '../../src/engine/onnx/proto';

const DIR = path.resolve(__dirname, '..', 'fixtures', 'onnx');
const file = (name: string): string => path.join(DIR, name);
const TINY = file('tiny.onnx');

test('proto: decode → encode is byte-identical, unknown fields included', () => {
  for (const name of ['tiny.onnx', 'linear.onnx']) {
    const bytes = readFileSync(file(name));
    assert.ok(Buffer.from(encodeModel(decodeModel(bytes))).equals(bytes), name);
  }
  // a field this codec does not model (ModelProto.training_info = 20, here as a bare string) survives
  const bytes = readFileSync(file('linear.onnx'));
  const extra = Buffer.concat([bytes, Buffer.from([0xa2, 0x01, 0x03, 0x61, 0x62, 0x63])]);
  const m = decodeModel(extra);
  assert.equal(m.$unknown?.length, 1);
  assert.ok(Buffer.from(encodeModel(m)).equals(extra));
});

test('proto: truncated or garbage bytes are a user error naming the file', () => {
  const bytes = readFileSync(TINY).subarray(0, 1000);
  assert.throws(
    () => inspectModel(bytes, { name: 'cut.onnx' }),
    (e: unknown) => isBacError(e) && /^cut\.onnx: is not an ONNX model \(truncated/.test((e as Error).message),
  );
  assert.throws(() => inspectModel(path.join(DIR, 'nope.onnx')), /nope\.onnx: cannot read the model/);
});

test('inspect: tiny model — sha256, io, blocks in model order, typed metadata', () => {
  const bytes = readFileSync(TINY);
  const info = inspectModel(TINY);
  assert.equal(info.name, 'tiny.onnx');
  assert.equal(info.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(info.sizeBytes, bytes.length);
  assert.equal(info.opset, 17);
  assert.deepEqual(
    info.inputs.map((i) => [i.name, i.dtype, i.shape]),
    [
      ['sample', 'float32', ['batch', 8, 2]],
      ['timestep', 'int64', ['batch']],
      ['cond', 'float32', ['batch', 2, 3]],
    ],
  );
  assert.equal(info.prediction, 'prediction');
  assert.equal(info.timestepDtype, 'int64');
  assert.equal(info.layers, 2);
  assert.deepEqual(
    info.blocks.map((b) => b.id),
    ['0.sa', '0.ca', '0.ffn', '1.sa', '1.ca', '1.ffn'],
  );
  assert.deepEqual(info.blocks[4]?.output, 'bac:1.ca');
  assert.deepEqual(info.blockShape, ['batch', 8, 32]);
  const m = info.metadata;
  assert.equal(m.sampler.type, 'ddpm');
  assert.equal(m.sampler.numInferenceSteps, 100);
  assert.equal(m.sampler.predictionType, 'epsilon');
  assert.equal(m.sampler.clipSample, true);
  assert.deepEqual(m.obsKeys, ['agent_pos', 'goal']);
  assert.equal(m.horizon, 8);
  assert.equal(m.nObsSteps, 2);
  assert.equal(m.nActionSteps, 4);
  assert.deepEqual(m.normalizer.action.scale, [0.25, 0.5]);
  assert.deepEqual(m.normalizer.obs.offset, [0, 0.1, -0.2]);
  assert.equal(info.metadataProps['bac.horizon'], '8');
});

// One malformed variant each, one clear message each (the message is what the user reads).
const MALFORMED: [string, RegExp][] = [
  [
    'no-blocks.onnx',
    /^no-blocks\.onnx: has no block outputs, expected one graph output bac:<layer>\.<kind> per residual branch/,
  ],
  [
    'missing-block.onnx',
    /^missing-block\.onnx: output "bac:1\.ca" is missing \(every decoder layer needs sa, ca and ffn/,
  ],
  [
    'bad-metadata-json.onnx',
    /^bad-metadata-json\.onnx: metadata "bac\.normalizer" is not valid JSON: .*, expected \{obs:\{scale,offset\},action:\{scale,offset\}\}/,
  ],
  [
    'missing-metadata.onnx',
    /^missing-metadata\.onnx: metadata "bac\.sampler" is missing, expected \{type, num_train_timesteps/,
  ],
  [
    'wrong-input-rank.onnx',
    /^wrong-input-rank\.onnx: input "sample" has rank 1 \[batch\], expected float32 \[B, T, Da\]/,
  ],
];

for (const [name, re] of MALFORMED) {
  test(`contract: ${name} → one clear message`, () => {
    assert.throws(
      () => inspectModel(file(name)),
      (e: unknown) => {
        assert.ok(e instanceof ModelContractError && isBacError(e));
        assert.equal(e.problems.length, 1, e.message);
        assert.match(e.message, re);
        return true;
      },
    );
  });
}

test('contract: several problems are listed together in one error', () => {
  assert.throws(
    () => inspectModel(file('wrong-input-name.onnx')),
    (e: unknown) => {
      assert.ok(e instanceof ModelContractError);
      assert.deepEqual(e.problems, [
        'input "cond" is missing, expected float32 [B, To, Do] (the observation window)',
        'input "obs" is not part of the contract, expected exactly sample, timestep and cond',
      ]);
      assert.match(
        e.message,
        /^wrong-input-name\.onnx does not follow the BAC model contract \(2 problems\):\n {2}- input "cond"/,
      );
      return true;
    },
  );
  assert.throws(
    () => inspectModel(file('bad-metadata-shape.onnx')),
    (e: unknown) => {
      assert.ok(e instanceof ModelContractError);
      assert.equal(e.problems.length, 3);
      assert.match(e.problems[0] ?? '', /metadata "bac\.sampler" lacks or mistypes prediction_type \(a string\)/);
      assert.match(e.problems[1] ?? '', /metadata "bac\.horizon" is "eight", expected a positive integer/);
      assert.match(
        e.problems[2] ?? '',
        /metadata "bac\.normalizer": obs\.scale has 1 entries instead of 3; obs\.offset is missing; action is missing/,
      );
      return true;
    },
  );
});

test('FLOPs: the linear toy counted by hand (2·M·N·K per MatMul, batch 1)', () => {
  const info = inspectModel(file('linear.onnx'));
  // see linear_model() in make_tiny_models.py: T = 4, d = 8, ffn width 16, cond [2, 3]
  assert.deepEqual(
    info.blocks.map((b) => [b.id, b.cost.flops, b.cost.timeUs]),
    [
      ['0.sa', 2 * 4 * 8 * 8, 0],
      ['0.ca', 2 * 4 * 8 * 8 + 2 * 2 * 8 * 3, 0], // cond @ Wm reaches only ca: exclusive to it
      ['0.ffn', 2 * 4 * 8 * 16 + 2 * 4 * 16 * 8, 0],
    ],
  );
  assert.deepEqual(info.baseCost, { flops: 2 * 4 * 2 * 8 + 2 * 4 * 8 * 2, timeUs: 0 });
  assert.deepEqual(info.flopsUnresolved, []);
});

test('FLOPs: tiny DP-T matches the analytic count of a pre-norm decoder layer', () => {
  const info = inspectModel(TINY);
  const T = 8; // horizon
  const d = 32; // n_emb
  const Tc = 3; // memory tokens: time + 2 observation steps
  const sa = 2 * T * d * 3 * d + 2 * (2 * T * T * d) + 2 * T * d * d; // in-proj, QKᵀ, AV, out-proj
  const ca = 2 * T * d * d + 2 * Tc * d * 2 * d + 2 * (2 * T * Tc * d) + 2 * T * d * d; // q, kv on memory, QKᵀ, AV, out
  const ffn = 2 * (2 * T * d * 4 * d);
  for (const b of info.blocks) assert.equal(b.cost.flops, { sa, ca, ffn }[b.kind], b.id);
  // c_0: input_emb, cond_obs_emb, the condition MLP (d → 4d → d on Tc tokens), head
  assert.equal(info.baseCost.flops, 2 * T * 2 * d + 2 * 2 * 3 * d + 2 * (2 * Tc * d * 4 * d) + 2 * T * d * 2);
  assert.deepEqual(info.flopsUnresolved, []);
});

test('shape inference agrees with ORT on every MatMul/Gemm operand of the tiny model', async () => {
  const model = decodeModel(readFileSync(TINY));
  const graph = model.graph;
  assert.ok(graph);
  const facts = inferShapes(graph);
  const operands = new Set<string>();
  for (const n of graph.node)
    if (n.opType === 'MatMul' || n.opType === 'Gemm') for (const x of n.input.slice(0, 2)) operands.add(x);
  const initNames = new Set(graph.initializer.map((t) => t.name));
  const probe = [...operands].filter((x) => !initNames.has(x) && !graph.output.some((o) => o.name === x));
  // expose the operands as outputs (batch 1) and compare their real shapes with the inferred ones
  graph.output.push(...probe.map((x) => tensorValueInfo(x, DataType.FLOAT, null)));
  const session = await ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: 1 });
  try {
    const out = await session.run({
      sample: new ort.Tensor('float32', new Float32Array(16), [1, 8, 2]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([3n]), [1]),
      cond: new ort.Tensor('float32', new Float32Array(6), [1, 2, 3]),
    });
    assert.ok(probe.length > 20);
    for (const x of probe) assert.deepEqual(facts.get(x)?.shape, [...(out[x]?.dims ?? [])], x);
  } finally {
    await session.release();
  }
});
