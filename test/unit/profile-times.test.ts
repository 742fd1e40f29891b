/**
 * The measured per-block `timeUs` of a profile (measureBlockTimes), on a session whose calls take
 * known, deterministic times on a fake clock: no real timing is asserted. What the profile stores
 * must be the per-block share of the measured (all on − all off) call time, every share in
 * proportion to the block's own measured cost, and one slow outlier call must not move it; blocks
 * of one kind share one estimate, so a slow spell over all of one block's calls does not either.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import type * as Ort from 'onnxruntime-node';
import { UPDATE_INPUT } from '../../src/engine/onnx/io-names';
import type { OpenedSession } from '../../src/engine/ort';
import { loadPolicy } from '../../src/engine/policy';
import { measureBlockTimes } from '../../src/engine/profiler';

const root = resolve(__dirname, '..', '..');
const model = join(root, 'test/fixtures/engine/small-dpt.onnx');
const demo = join(root, 'fixtures/demo/policy.onnx');

/** Base (all gates off) call time, ms. */
const BASE_MS = 0.5;
/** Each block's own cost when it runs, ms (blocks 0.sa, 0.ca, 0.ffn, 1.sa, …: one cost per kind). */
const OWN_MS = [0.1, 0.2, 0.3, 0.1, 0.2, 0.3];
/** What any call with at least one gate on pays once more (an If branch's set-up), ms. */
const BRANCH_MS = 0.06;

describe('measured per-block times', () => {
  it('sum to the measured (all on − all off) time, in proportion to each block alone, ignoring an outlier', async (t) => {
    const policy = await loadPolicy(model);
    assert.equal(policy.info.blocks.length, OWN_MS.length);
    let clock = 0;
    let calls = 0;
    t.mock.method(performance, 'now', () => clock);
    const session = {
      run: async (feeds: Record<string, Ort.Tensor>) => {
        const gates = feeds[UPDATE_INPUT]!.data as Uint8Array;
        const on = OWN_MS.filter((_, i) => gates[i]);
        // call 40 is a slow spell of the machine: the median of the rounds must ignore it
        clock += BASE_MS + (on.length ? BRANCH_MS : 0) + on.reduce((a, b) => a + b, 0) + (++calls === 40 ? 50 : 0);
        return {};
      },
    };
    const opened = { session, provider: 'cpu', notes: [] } as unknown as OpenedSession;
    const times = await measureBlockTimes(policy, opened, 9);

    const allOff = BASE_MS * 1000;
    const allOn = (BASE_MS + BRANCH_MS + OWN_MS.reduce((a, b) => a + b, 0)) * 1000;
    assert.ok(Math.abs(times.base - allOff) < 1e-6, `base ${times.base} µs`);
    const sum = times.blocks.reduce((a, b) => a + b, 0);
    // The property the rescale keeps: the blocks' times add up to what switching all of them on costs
    // (without it they would add up to 6 × the branch set-up instead of 1 ×).
    assert.ok(Math.abs(sum - (allOn - allOff)) < 1e-6, `Σ blocks ${sum} µs, expected ${allOn - allOff} µs`);
    // each block alone measured OWN + BRANCH; shares keep those proportions
    const alone = OWN_MS.map((c) => (c + BRANCH_MS) * 1000);
    const aloneSum = alone.reduce((a, b) => a + b, 0);
    times.blocks.forEach((b, i) => {
      const expected = (alone[i]! / aloneSum) * (allOn - allOff);
      assert.ok(Math.abs(b - expected) < 1e-6, `block ${i}: ${b} µs, expected ${expected} µs`);
    });
  });

  it("gives blocks of one kind one time: a slow spell over all of one block's calls does not inflate it", async (t) => {
    const policy = await loadPolicy(demo);
    const n = policy.info.blocks.length;
    const kinds = policy.info.blocks.map((b) => b.kind);
    const own = { sa: 0.08, ca: 0.06, ffn: 0.1 } as const;
    const slow = 3; // block 1.sa: every call with it alone is 3 ms slower (another process ran then)
    let clock = 0;
    t.mock.method(performance, 'now', () => clock);
    const session = {
      run: async (feeds: Record<string, Ort.Tensor>) => {
        const gates = feeds[UPDATE_INPUT]!.data as Uint8Array;
        const on = kinds.filter((_, i) => gates[i]);
        const alone = on.length === 1 && gates[slow] === 1;
        clock += BASE_MS + on.reduce((a, k) => a + own[k], 0) + (alone ? 3 : 0);
        return {};
      },
    };
    const opened = { session, provider: 'cpu', notes: [] } as unknown as OpenedSession;
    const times = await measureBlockTimes(policy, opened, 9);
    assert.equal(policy.info.blocks[slow]!.kind, 'sa');
    times.blocks.forEach((b, i) => {
      const expected = own[kinds[i]!] * 1000;
      assert.ok(Math.abs(b - expected) < 1e-6, `block ${policy.info.blocks[i]!.id}: ${b} µs, expected ${expected} µs`);
    });
    assert.equal(times.blocks.length, n);
  });
});
