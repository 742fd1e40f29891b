import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { buildChunkModel } from '../../src/engine/chunk-runner';
import { foldedStepModel, ortOptimized } from '../../src/engine/onnx/chunk-step';
import { decodeModel, encodeModel, type ModelProto } from '../../src/engine/onnx/proto';
import { specializeBatchBytes } from '../../src/engine/onnx/specialize';
import { loadOrt, loadPolicy, policyScheduler, type Policy } from '../../src/engine/policy';
import { Rng } from '../../src/core/rng';

const root = resolve(__dirname, '..', '..');
const small = join(root, 'test/fixtures/engine/small-dpt.onnx');
const cond12 = join(root, 'test/fixtures/engine/small-dpt-cond12.onnx');

/** Every output of two single-step models on the same random inputs at several timesteps. */
async function maxOutputDiff(policy: Policy, a: ModelProto, b: ModelProto): Promise<number> {
  const ort = loadOrt();
  const open = (m: ModelProto) => ort.InferenceSession.create(encodeModel(m), { intraOpNumThreads: 1 });
  const [sa, sb] = await Promise.all([open(a), open(b)]);
  const rng = new Rng(7);
  let worst = 0;
  try {
    for (const t of [0, 13, 57, 99]) {
      const feeds = {
        sample: new ort.Tensor('float32', rng.normalArray(policy.horizon * policy.actionDim), [
          1,
          policy.horizon,
          policy.actionDim,
        ]),
        timestep:
          policy.info.timestepDtype === 'int64'
            ? new ort.Tensor('int64', BigInt64Array.of(BigInt(t)), [1])
            : new ort.Tensor('float32', Float32Array.of(t), [1]),
        cond: new ort.Tensor('float32', rng.normalArray(policy.obsSteps * policy.condDim), [
          1,
          policy.obsSteps,
          policy.condDim,
        ]),
      };
      const [ra, rb] = await Promise.all([sa.run(feeds), sb.run(feeds)]);
      for (const name of Object.keys(ra)) {
        const x = ra[name]!.data as Float32Array;
        const y = rb[name]!.data as Float32Array;
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
      }
    }
  } finally {
    await Promise.all([sa.release(), sb.release()]);
  }
  return worst;
}

describe('folded step (row split, layout chains)', () => {
  for (const [label, path] of [
    ['MLP condition encoder', small],
    ['transformer condition encoder', cond12],
  ] as const) {
    it(`computes exactly what ONNX Runtime's optimised step computes (${label})`, async () => {
      const policy = await loadPolicy(path);
      const optimised = decodeModel(
        await ortOptimized(specializeBatchBytes(policy.bytes, 1), 'extended', policy.info.name),
      );
      const folded = await foldedStepModel(policy.bytes, 1, policy.info.name);
      assert.equal(await maxOutputDiff(policy, optimised, folded), 0);
    });
  }

  it('with the MLP condition encoder, the encoder and the cross-attention K/V run once per chunk', async () => {
    const policy = await loadPolicy(small);
    const K = 6;
    const n = policy.info.blocks.length;
    // step 0 updates everything; later steps only the cross-attention blocks
    const table = new Uint8Array(K * n);
    table.fill(1, 0, n);
    for (let k = 1; k < K; k++) policy.info.blocks.forEach((b, i) => (table[k * n + i] = b.id.endsWith('.ca') ? 1 : 0));
    const chunk = await buildChunkModel(policy, policyScheduler(policy, K, 'ddim'), table);
    const perStep = (k: number) => (chunk.graph.model.graph?.node ?? []).filter((x) => x.name?.startsWith(`s${k}/`));
    for (let k = 1; k < K; k++) {
      const encoder = perStep(k).filter((x) => /encoder|cond_obs_emb|time_emb/.test(x.name ?? ''));
      assert.deepEqual(
        encoder.map((x) => x.name),
        [],
        `step ${k} runs the condition encoder`,
      );
      // per cross-attention block: the query projection and output projection, no K/V projection
      const gemms = perStep(k).filter((x) => x.opType === 'Gemm' && /multihead_attn/.test(x.name ?? ''));
      assert.equal(gemms.length, 2 * policy.info.blocks.filter((b) => b.id.endsWith('.ca')).length);
    }
  });
});
