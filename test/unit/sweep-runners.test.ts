/**
 * The sweep's runners (`openChunkGraphRunners`, what its costs are measured with) run a
 * configuration to the same actions as the per-step runners (the plain model and the If-gated
 * cached runner, built here as the reference), on the demo policy, same inputs and the same noise
 * stream — for the full model and a cache schedule, under a sampler that draws noise (DDPM) and one
 * that does not (DDIM). A runner set that fed noise in another order, or built the wrong table,
 * differs by O(1).
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fullSchedule, isFullSchedule } from '../../src/core/sweep';
import { Rng } from '../../src/core/rng';
import { parseSchedule } from '../../src/core/schedule-format';
import { readFileSync } from 'node:fs';
import type { Schedule } from '../../src/core/types';
import { loadPolicy, policyScheduler, type Policy } from '../../src/engine/policy';
import { CachedRunner, PlainRunner, updateTable } from '../../src/engine/runner';
import { openChunkGraphRunners, type ConfigRunners } from '../../src/engine/sweep-measure';

const root = resolve(__dirname, '..', '..');
const demo = join(root, 'fixtures/demo');

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The reference: the per-step batch-1 runners, the plain model for full schedules. */
async function openPerStepRunners(policy: Policy): Promise<ConfigRunners> {
  const plain = await PlainRunner.open(policy, 'cpu', { threads: 1, staticBatch: 1 });
  const cached = await CachedRunner.open(policy, 'cpu', { threads: 1, staticBatch: 1 });
  return {
    description: 'per-step batch-1 ONNX Runtime runners',
    provider: plain.opened.provider,
    open: (scheduler, schedule) => {
      if (isFullSchedule(schedule)) return Promise.resolve((inputs) => plain.runChunk(scheduler, inputs));
      const table = updateTable(schedule, cached.blockIds);
      return Promise.resolve((inputs) => cached.runChunk(scheduler, table, inputs));
    },
    release: async () => {
      await plain.release();
      await cached.release();
    },
  };
}

describe('sweep runners: chunk graphs and per-step runners agree', () => {
  let policy: Policy;
  let shipped: Schedule;
  let graphs: ConfigRunners;
  let perStep: ConfigRunners;
  before(async () => {
    policy = await loadPolicy(join(demo, 'policy.onnx'));
    const parsed = parseSchedule(readFileSync(join(demo, 'policy.bacschedule'), 'utf8'));
    assert.ok(parsed.ok);
    shipped = parsed.schedule;
    graphs = await openChunkGraphRunners(policy, 'cpu');
    perStep = await openPerStepRunners(policy);
  });
  after(async () => {
    await graphs?.release();
    await perStep?.release();
  });

  const cases: [string, () => Schedule][] = [
    ['DDPM-100, the shipped BAC schedule', () => shipped],
    ['DDPM-100, full model', () => fullSchedule(shipped, { type: 'ddpm', steps: 100 })],
    ['DDIM-10, full model', () => fullSchedule(shipped, { type: 'ddim', steps: 10 })],
  ];
  for (const [label, schedule] of cases) {
    it(label, async () => {
      const s = schedule();
      const scheduler = policyScheduler(policy, s.sampler.steps, s.sampler.type);
      const a = await graphs.open(scheduler, s);
      const b = await perStep.open(scheduler, s);
      const size = policy.horizon * policy.actionDim;
      const cond = new Rng(5).normalArray(policy.obsSteps * policy.condDim);
      const inputs = () => ({ batch: 1, cond, initialSample: new Rng(9).normalArray(size), noise: new Rng(10) });
      const x = await a(inputs());
      const y = await b(inputs());
      // the whole-chunk bound of test/unit/chunk-graph.test.ts (float32 graph vs float64 sampler)
      assert.ok(maxDiff(x, y) <= 1e-4, `${label}: ${maxDiff(x, y)}`);
      assert.equal(graphs.provider, 'cpu');
    });
  }
});
