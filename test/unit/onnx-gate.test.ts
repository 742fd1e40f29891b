/**
 * The If-gated cached-runner graph (src/engine/onnx/gate.ts) in onnxruntime-node on CPU:
 *  - exclusive ancestor sets are non-empty, disjoint and closed (nothing but the block output leaves);
 *  - every gate on → bit-identical to the plain model (prediction, and each block output against
 *    its row of the packed cache output), whatever the cache holds;
 *  - random gate patterns with caches equal to the blocks' own outputs → exactly the all-on result;
 *  - caches from input A reused at input B → PyTorch with forward hooks replacing those blocks'
 *    outputs by A's (test/fixtures/onnx/tiny-hooks.json) within 1e-5;
 *  - the demo model (fixtures/demo/vectors) gated, all on, bit-identical on its test vector.
 * Prints (does not assert) gated all-update vs all-reuse time per call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { isBacError } from '../../src/core/errors';
import { dedupeNodes, exclusiveAncestorsFixpoint, exclusiveSets, indexGraph } from '../../src/engine/onnx/graph';
import { buildGatedModel, gateGraph } from '../../src/engine/onnx/gate';
import { CACHE_INPUT, CACHE_OUTPUT, UPDATE_INPUT } from '../../src/engine/onnx/io-names';
import { inspectModel } from '../../src/engine/onnx/inspect';
import { attrInt, decodeModel, makeGraph, makeNode, tensorValueInfo, DataType } from '../../src/engine/onnx/proto';
import { seededRandom } from './helpers/rng';

const DIR = path.resolve(__dirname, '..', 'fixtures', 'onnx');
const TINY = path.join(DIR, 'tiny.onnx');
const DEMO_VEC = path.resolve(__dirname, '..', '..', 'fixtures', 'demo', 'vectors');
const OPTS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };

type Feeds = Record<string, ort.Tensor>;

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32, shared with the other tests). */
function rng(seed: number): () => number {
  const uniform = seededRandom(seed);
  return () => uniform() * 2 - 1;
}

const b64f32 = (s: string): Float32Array => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const f32 = (t: ort.Tensor | undefined): Float32Array => {
  assert.ok(t, 'missing output');
  return t.data as Float32Array;
};
const maxAbs = (a: Float32Array, b: Float32Array): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
};
const gates = (bits: readonly (number | boolean)[]): ort.Tensor =>
  new ort.Tensor('bool', Uint8Array.from(bits.map((x) => (x ? 1 : 0))), [bits.length]);

function tinyFeeds(B: number, seed: number): Feeds {
  const r = rng(seed);
  return {
    sample: new ort.Tensor('float32', Float32Array.from({ length: B * 16 }, r), [B, 8, 2]),
    timestep: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: B }, (_, i) => BigInt(7 + 40 * i)),
      [B],
    ),
    cond: new ort.Tensor('float32', Float32Array.from({ length: B * 6 }, r), [B, 2, 3]),
  };
}

test('exclusive ancestor sets: non-empty, disjoint, closed; shape arithmetic and encoders stay outside', () => {
  const model = decodeModel(readFileSync(TINY));
  const graph = model.graph;
  assert.ok(graph);
  const index = indexGraph(graph);
  const outputs = graph.output.filter((o) => o.name?.startsWith('bac:')).map((o) => o.name as string);
  assert.equal(outputs.length, 6);
  const { sets, overlaps } = exclusiveSets(index, outputs);
  assert.deepEqual(overlaps, []);
  const seen = new Set<number>();
  sets.forEach((s, i) => {
    const b = outputs[i] as string;
    assert.ok(s.length > 0, b);
    // the grown set (heap, topological order) is docs/method.md's shrinking fixpoint
    assert.deepEqual(s, exclusiveAncestorsFixpoint(index, b), b);
    assert.ok(s.includes(index.producer.get(b) as number), `${b}: its producer is in the set`);
    const inSet = new Set(s);
    for (const n of s) {
      assert.ok(!seen.has(n), `node ${n} in two sets`);
      seen.add(n);
      for (const o of graph.node[n]?.output ?? []) {
        if (o === b || !o) continue;
        assert.ok(!index.graphOutputs.has(o), `${o} is a graph output`);
        for (const c of index.consumers.get(o) ?? []) assert.ok(inSet.has(c), `${o} escapes ${b}'s set`);
      }
    }
  });
  // 22 of the 27 products are in blocks; input_emb, cond_obs_emb, the 2-layer condition MLP and the
  // head stay in c_0
  const products = graph.node.map((n, i) => [n.opType, i] as const).filter(([op]) => op === 'MatMul' || op === 'Gemm');
  assert.equal(products.filter(([, i]) => seen.has(i)).length, 22);
  assert.equal(products.length, 27);
});

test('dedupeNodes merges repeated deterministic computations only', () => {
  const g = makeGraph('g');
  g.input.push(tensorValueInfo('x', DataType.FLOAT, [2, 3]));
  g.node.push(
    makeNode('Shape', ['x'], ['s1'], 'a'),
    makeNode('Shape', ['x'], ['s2'], 'b'), // same as a → merged
    makeNode('Gather', ['s1', 'i'], ['g1'], 'c', [attrInt('axis', 0)]),
    makeNode('Gather', ['s2', 'i'], ['g2'], 'd', [attrInt('axis', 0)]), // same after renaming s2 → s1
    makeNode('Gather', ['s2', 'i'], ['g3'], 'e', [attrInt('axis', 1)]), // other attribute: kept
    makeNode('RandomUniformLike', ['x'], ['r1'], 'f'),
    makeNode('RandomUniformLike', ['x'], ['r2'], 'h'), // random: kept
    makeNode('Add', ['g2', 'g3'], ['y'], 'k'),
    makeNode('Shape', ['x'], ['out'], 'm'), // produces a graph output: kept
  );
  g.output.push(tensorValueInfo('y', DataType.INT64, null), tensorValueInfo('out', DataType.INT64, null));
  const d = dedupeNodes(g);
  assert.deepEqual(
    d.node.map((n) => n.name),
    ['a', 'c', 'e', 'f', 'h', 'k', 'm'],
  );
  assert.deepEqual(d.node.find((n) => n.name === 'k')?.input, ['g1', 'g3']);
  assert.deepEqual(d.node.find((n) => n.name === 'e')?.input, ['s1', 'i']);
  // torch's export repeats shape arithmetic per block: merging removes a third of the tiny graph
  const tiny = decodeModel(readFileSync(TINY)).graph;
  assert.ok(tiny);
  assert.ok(dedupeNodes(tiny).node.length < 0.7 * tiny.node.length);
});

test('gated graph: packed io, If per block, opset kept, bac:* outputs dropped', () => {
  const g = buildGatedModel(readFileSync(TINY), 'tiny.onnx');
  const graph = g.proto.graph;
  assert.ok(graph);
  assert.deepEqual(
    graph.input.map((i) => i.name),
    ['sample', 'timestep', 'cond', UPDATE_INPUT, CACHE_INPUT],
  );
  assert.deepEqual(
    graph.output.map((o) => o.name),
    ['prediction', CACHE_OUTPUT],
  );
  assert.equal(graph.node.filter((n) => n.opType === 'If').length, 6);
  assert.deepEqual(g.proto.opsetImport, decodeModel(readFileSync(TINY)).opsetImport);
  assert.deepEqual(g.gate.cacheShape, [6, 'batch', 8, 32]);
  assert.deepEqual(
    g.gate.blocks.map((b) => [b.id, b.index, b.products]),
    [
      ['0.sa', 0, 4],
      ['0.ca', 1, 5],
      ['0.ffn', 2, 2],
      ['1.sa', 3, 4],
      ['1.ca', 4, 5],
      ['1.ffn', 5, 2],
    ],
  );
  assert.ok(g.gate.movedNodes > 0.8 * g.gate.totalNodes, `${g.gate.movedNodes}/${g.gate.totalNodes}`);
  // the plain model is described, not the gated one
  assert.equal(g.model.blocks.length, 6);
});

test('gateGraph refuses a model that already uses a reserved name', () => {
  const model = decodeModel(readFileSync(path.join(DIR, 'linear.onnx')));
  const info = inspectModel(path.join(DIR, 'linear.onnx'));
  const input = model.graph?.input.find((i) => i.name === 'cond');
  assert.ok(input && model.graph);
  input.name = UPDATE_INPUT;
  for (const n of model.graph.node) n.input = n.input.map((x) => (x === 'cond' ? UPDATE_INPUT : x));
  assert.throws(
    () => gateGraph(model, info.blocks, info.blockShape, 'linear.onnx'),
    (e: unknown) =>
      isBacError(e) &&
      /^linear\.onnx: cannot build the cached-runner graph: already uses the name "bac_update"/.test(
        (e as Error).message,
      ),
  );
});

for (const name of ['tiny.onnx', 'linear.onnx']) {
  test(`${name}: all gates on is bit-identical to the plain model; self-caches reproduce it exactly`, async () => {
    const bytes = readFileSync(path.join(DIR, name));
    const g = buildGatedModel(bytes, name);
    const plain = await ort.InferenceSession.create(bytes, OPTS);
    const gated = await ort.InferenceSession.create(g.bytes, OPTS);
    try {
      const [T, Da] = g.model.inputs[0]?.shape?.slice(1) as [number, number];
      const [To, Do] = g.model.inputs[2]?.shape?.slice(1) as [number, number];
      const B = 2;
      const r = rng(11);
      const feeds: Feeds = {
        sample: new ort.Tensor('float32', Float32Array.from({ length: B * T * Da }, r), [B, T, Da]),
        timestep: new ort.Tensor('int64', BigInt64Array.from([12n, 77n]), [B]),
        cond: new ort.Tensor('float32', Float32Array.from({ length: B * To * Do }, r), [B, To, Do]),
      };
      const nb = g.gate.blocks.length;
      const d = g.model.blockShape[2] as number;
      const ref = await plain.run(feeds);
      // a poisoned cache: all-on must never read it
      const poison = new ort.Tensor('float32', new Float32Array(nb * B * T * d).fill(1e6), [nb, B, T, d]);
      const on = await gated.run({ ...feeds, [UPDATE_INPUT]: gates(new Array(nb).fill(1)), [CACHE_INPUT]: poison });
      assert.equal(maxAbs(f32(on.prediction), f32(ref.prediction)), 0);
      const packed = f32(on[CACHE_OUTPUT]);
      const rows = g.model.blocks.map((b) => f32(ref[b.output]));
      rows.forEach((row, i) =>
        assert.equal(maxAbs(packed.subarray(i * row.length, (i + 1) * row.length), row), 0, g.model.blocks[i]?.id),
      );

      // caches = each block's own output at this input: any gate pattern gives the all-on result
      const self = new ort.Tensor('float32', Float32Array.from(packed), [nb, B, T, d]);
      const pick = rng(5);
      for (let trial = 0; trial < 6; trial++) {
        const pattern = Array.from({ length: nb }, () => (trial === 0 ? 0 : pick() > 0 ? 1 : 0));
        const out = await gated.run({ ...feeds, [UPDATE_INPUT]: gates(pattern), [CACHE_INPUT]: self });
        assert.equal(maxAbs(f32(out.prediction), f32(ref.prediction)), 0, `pattern ${pattern}`);
        assert.equal(maxAbs(f32(out[CACHE_OUTPUT]), packed), 0, `pattern ${pattern}`);
      }
    } finally {
      await plain.release();
      await gated.release();
    }
  });
}

interface HookVectors {
  blocks: string[];
  block_shape: number[];
  inputs: Record<
    'A' | 'B',
    { sample: string; timestep: number[]; cond: string; sample_shape: number[]; cond_shape: number[] }
  >;
  A: { prediction: string; blocks: string[] };
  cases: { update: number[]; prediction: string; blocks: string[] }[];
}

test('caches from input A reused at input B match PyTorch forward hooks within 1e-5', async () => {
  const vec = JSON.parse(readFileSync(path.join(DIR, 'tiny-hooks.json'), 'utf8')) as HookVectors;
  const g = buildGatedModel(readFileSync(TINY), 'tiny.onnx');
  assert.deepEqual(
    g.gate.blocks.map((b) => b.id),
    vec.blocks,
  );
  const gated = await ort.InferenceSession.create(g.bytes, OPTS);
  try {
    const feeds = (k: 'A' | 'B'): Feeds => {
      const v = vec.inputs[k];
      return {
        sample: new ort.Tensor('float32', b64f32(v.sample), v.sample_shape),
        timestep: new ort.Tensor('int64', BigInt64Array.from(v.timestep.map(BigInt)), [v.timestep.length]),
        cond: new ort.Tensor('float32', b64f32(v.cond), v.cond_shape),
      };
    };
    const nb = vec.blocks.length;
    const shape = [nb, ...vec.block_shape];
    const zeros = new ort.Tensor('float32', new Float32Array(shape.reduce((p, x) => p * x, 1)), shape);
    const a = await gated.run({ ...feeds('A'), [UPDATE_INPUT]: gates(new Array(nb).fill(1)), [CACHE_INPUT]: zeros });
    assert.ok(maxAbs(f32(a.prediction), b64f32(vec.A.prediction)) < 1e-5);
    const cachesA = f32(a[CACHE_OUTPUT]);
    const rowLen = cachesA.length / nb;
    vec.A.blocks.forEach((blk, i) =>
      assert.ok(maxAbs(cachesA.subarray(i * rowLen, (i + 1) * rowLen), b64f32(blk)) < 1e-5),
    );
    for (const c of vec.cases) {
      const out = await gated.run({
        ...feeds('B'),
        [UPDATE_INPUT]: gates(c.update),
        [CACHE_INPUT]: new ort.Tensor('float32', Float32Array.from(cachesA), shape),
      });
      const dp = maxAbs(f32(out.prediction), b64f32(c.prediction));
      assert.ok(dp < 1e-5, `update ${c.update}: prediction differs by ${dp}`);
      const packed = f32(out[CACHE_OUTPUT]);
      c.blocks.forEach((blk, i) => {
        const row = packed.subarray(i * rowLen, (i + 1) * rowLen);
        const db = maxAbs(row, b64f32(blk));
        assert.ok(db < 1e-5, `update ${c.update}: block ${vec.blocks[i]} differs by ${db}`);
        // a reused block returns its cache unchanged
        if (!c.update[i]) assert.equal(maxAbs(row, cachesA.subarray(i * rowLen, (i + 1) * rowLen)), 0);
      });
      // reuse makes a visible difference (the vectors would not catch a gate that is ignored)
      if (c.update.includes(0)) {
        const on = await gated.run({
          ...feeds('B'),
          [UPDATE_INPUT]: gates(new Array(nb).fill(1)),
          [CACHE_INPUT]: zeros,
        });
        assert.ok(maxAbs(f32(on.prediction), f32(out.prediction)) > 1e-4);
      }
    }
  } finally {
    await gated.release();
  }
});

test(
  'demo vectors model: gated, all gates on, bit-identical to the plain model',
  { skip: !existsSync(path.join(DEMO_VEC, 'index.json')) },
  async () => {
    const index = JSON.parse(readFileSync(path.join(DEMO_VEC, 'index.json'), 'utf8')) as {
      model: { onnx: string };
      data: string;
      tensors: Record<string, { offset: number; shape: number[] }>;
      denoiser: { inputs: { sample: string; timestep: number[]; cond: string } };
    };
    const bytes = readFileSync(path.join(DEMO_VEC, index.model.onnx));
    const data = readFileSync(path.join(DEMO_VEC, index.data));
    const tensor = (key: string): ort.Tensor => {
      const e = index.tensors[key];
      assert.ok(e, key);
      const n = e.shape.reduce((p, x) => p * x, 1);
      return new ort.Tensor(
        'float32',
        new Float32Array(data.buffer.slice(data.byteOffset + e.offset, data.byteOffset + e.offset + 4 * n)),
        e.shape,
      );
    };
    const ins = index.denoiser.inputs;
    const g = buildGatedModel(bytes, index.model.onnx);
    const feeds: Feeds = {
      sample: tensor(ins.sample),
      timestep: new ort.Tensor('int64', BigInt64Array.from(ins.timestep.map(BigInt)), [ins.timestep.length]),
      cond: tensor(ins.cond),
    };
    const plain = await ort.InferenceSession.create(bytes, OPTS);
    const gated = await ort.InferenceSession.create(g.bytes, OPTS);
    try {
      const ref = await plain.run(feeds);
      const nb = g.gate.blocks.length;
      const shape = [nb, ...(feeds.sample?.dims.slice(0, 1) ?? []), ...(g.model.blockShape.slice(1) as number[])];
      const on = await gated.run({
        ...feeds,
        [UPDATE_INPUT]: gates(new Array(nb).fill(1)),
        [CACHE_INPUT]: new ort.Tensor('float32', new Float32Array(shape.reduce((p, x) => p * x, 1)), shape),
      });
      assert.equal(maxAbs(f32(on[g.model.prediction]), f32(ref[g.model.prediction])), 0);
      const packed = f32(on[CACHE_OUTPUT]);
      g.model.blocks.forEach((b, i) => {
        const row = f32(ref[b.output]);
        assert.equal(maxAbs(packed.subarray(i * row.length, (i + 1) * row.length), row), 0, b.id);
      });
    } finally {
      await plain.release();
      await gated.release();
    }
  },
);

test('timing (printed, not asserted): plain vs gated all-update vs gated all-reuse, tiny model, batch 1', async () => {
  const bytes = readFileSync(TINY);
  const g = buildGatedModel(bytes, 'tiny.onnx');
  const plain = await ort.InferenceSession.create(bytes, OPTS);
  const gated = await ort.InferenceSession.create(g.bytes, OPTS);
  try {
    const feeds = tinyFeeds(1, 3);
    const nb = g.gate.blocks.length;
    const cache = new ort.Tensor('float32', new Float32Array(nb * 8 * 32), [nb, 1, 8, 32]);
    const on = { ...feeds, [UPDATE_INPUT]: gates(new Array(nb).fill(1)), [CACHE_INPUT]: cache };
    const off = { ...feeds, [UPDATE_INPUT]: gates(new Array(nb).fill(0)), [CACHE_INPUT]: cache };
    const median = async (run: () => Promise<unknown>): Promise<number> => {
      for (let i = 0; i < 20; i++) await run();
      const ts: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = process.hrtime.bigint();
        await run();
        ts.push(Number(process.hrtime.bigint() - t0) / 1e3);
      }
      ts.sort((x, y) => x - y);
      return ts[ts.length >> 1] as number;
    };
    const tp = await median(() => plain.run(feeds));
    const tOn = await median(() => gated.run(on));
    const tOff = await median(() => gated.run(off));
    console.log(
      `tiny.onnx batch 1, 1 thread, median µs/call: plain ${tp.toFixed(0)}, gated all-update ${tOn.toFixed(0)}, gated all-reuse ${tOff.toFixed(0)} (update/reuse ${(tOn / tOff).toFixed(2)}×)`,
    );
  } finally {
    await plain.release();
    await gated.release();
  }
});
