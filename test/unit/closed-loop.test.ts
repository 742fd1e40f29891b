import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { chunkGraphSampler, closedLoop } from '../../src/engine/closed-loop';
import { loadPolicy, policyScheduler } from '../../src/engine/policy';
import { Rng } from '../../src/core/rng';
import { PlainRunner } from '../../src/engine/runner';
import { DEFAULT_TASK, OBS_DIM } from '../../src/sim';

const root = resolve(__dirname, '..', '..');
// The engine tests' small DP-T has the demo task's observation keys; its weights are not used here.
const model = join(root, 'test/fixtures/engine/small-dpt.onnx');

describe('closed loop in the demo simulator', () => {
  it('runs every episode to its end: a policy that stands still times out after the step limit', async () => {
    const policy = await loadPolicy(model);
    const r = await closedLoop(
      policy,
      async (_cond, batch) => new Float32Array(batch * policy.horizon * policy.actionDim),
      {
        episodes: 5,
        seed: 300_000,
        noiseSeed: 1,
      },
    );
    assert.deepEqual(
      { success: r.success, collision: r.collision, timeout: r.timeout },
      { success: 0, collision: 0, timeout: 5 },
    );
    assert.equal(r.chunks, Math.ceil(DEFAULT_TASK.maxSteps / policy.info.metadata.nActionSteps));
  });

  it('feeds normalised observations and de-normalises actions: heading for the current target reaches or hits something', async () => {
    const policy = await loadPolicy(model);
    const { scale: os, offset: oo } = policy.info.metadata.normalizer.obs;
    const { scale: as, offset: ao } = policy.info.metadata.normalizer.action;
    const r = await closedLoop(
      policy,
      async (cond, batch) => {
        const x = new Float32Array(batch * policy.horizon * policy.actionDim);
        for (let b = 0; b < batch; b++) {
          // Latest observation of the window; decode stage, waypoint_rel (2..3) and goal_rel (4..5).
          const base = (b * policy.obsSteps + policy.obsSteps - 1) * OBS_DIM;
          const raw = (d: number) => (cond[base + d]! - oo[d]!) / os[d]!;
          const toGoal = raw(10) > 0.5;
          const dx = raw(toGoal ? 4 : 2);
          const dy = raw(toGoal ? 5 : 3);
          const n = Math.hypot(dx, dy) || 1;
          const step = Math.min(DEFAULT_TASK.maxStepSize, n);
          for (let k = 0; k < policy.horizon; k++) {
            x[(b * policy.horizon + k) * 2] = (dx / n) * step * as[0]! + ao[0]!;
            x[(b * policy.horizon + k) * 2 + 1] = (dy / n) * step * as[1]! + ao[1]!;
          }
        }
        return x;
      },
      { episodes: 20, seed: 300_000, noiseSeed: 1 },
    );
    assert.equal(r.success + r.collision + r.timeout, 20);
    assert.equal(r.timeout, 0, 'driving straight at the targets never stalls');
    assert.ok(r.collision > 0, 'obstacles sit between the targets, so the straight line collides');
  });

  it("the chunk-graph sampler pads a shrinking batch and draws the per-step runner's noise stream", async () => {
    const policy = await loadPolicy(model);
    const scheduler = policyScheduler(policy, 20, 'ddpm');
    const graph = chunkGraphSampler(policy, scheduler, 'full', { threads: 1 });
    const plain = await PlainRunner.open(policy, 'cpu', { threads: 1 });
    try {
      for (const batch of [3, 1]) {
        const rng = new Rng(batch);
        const cond = rng.normalArray(batch * policy.obsSteps * policy.condDim);
        const x = rng.normalArray(batch * policy.horizon * policy.actionDim);
        const got = await graph.sample(cond, batch, x, new Rng(7));
        const want = await plain.runChunk(scheduler, { batch, cond, initialSample: x, noise: new Rng(7) });
        assert.equal(got.length, want.length);
        const worst = got.reduce((w, v, i) => Math.max(w, Math.abs(v - want[i]!)), 0);
        // float32 graph vs float64 TypeScript sampler arithmetic (test/unit/chunk-graph.test.ts)
        assert.ok(worst <= 1e-4, `batch ${batch}: chunk graph vs per-step loop ${worst}`);
      }
    } finally {
      await graph.close();
      await plain.release();
    }
  });
});
