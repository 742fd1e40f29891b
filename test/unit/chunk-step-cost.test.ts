import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { buildBaseline } from '../../src/core/baselines';
import { chunkCost, chunkStepTimeUs, scheduleBaseCost, summarizeSchedule } from '../../src/core/cost';
import { parseProfile, serializeProfile } from '../../src/core/profile-format';
import { parseSchedule } from '../../src/core/schedule-format';
import type { Profile, Schedule } from '../../src/core/types';
import {
  chunkStepCostSteps,
  extrapolateChunkTimes,
  LONG_MINIMAL_CHUNK_STEPS,
  SHORT_CHUNK_STEPS,
} from '../../src/engine/chunk-step-cost';

const root = resolve(__dirname, '..', '..');
const parsed = parseProfile(new Uint8Array(readFileSync(join(root, 'fixtures/demo/policy.bacprofile'))));
assert.ok(parsed.ok);
const demo = (parsed as { profile: Profile }).profile;
/** The demo's profile as profiles made before the chunk graph was measured are: no chunkStepTimeUs. */
const { chunkStepTimeUs: _measured, ...gated } = demo;
const sumBlocks = (p: Profile) => p.blocks.reduce((a, b) => a + b.cost.timeUs, 0);

describe('chunk-graph per-step cost', () => {
  it('reproduces the measured ratio of the minimal to the full chunk', () => {
    const K = 100;
    const sigma = 1000;
    for (const r of [0.02, 0.1, 0.5, 0.9]) {
      const c0 = chunkStepTimeUs(r, K, sigma)!;
      assert.ok(c0 >= 0);
      assert.ok(Math.abs((K * c0 + sigma) / (K * (c0 + sigma)) - r) < 1e-12, `r ${r}`);
    }
  });

  it('is fitted from short graphs only, whatever K', () => {
    for (const K of [2, 5, 10, 100, 1000]) {
      const { short, long } = chunkStepCostSteps(K);
      assert.ok(short <= SHORT_CHUNK_STEPS && long <= LONG_MINIMAL_CHUNK_STEPS && short <= long && long <= K, `K ${K}`);
      assert.equal(
        long,
        Math.min(K, LONG_MINIMAL_CHUNK_STEPS),
        'the minimal graph is timed at K itself when short enough',
      );
    }
    assert.ok(SHORT_CHUNK_STEPS >= 2 && LONG_MINIMAL_CHUNK_STEPS > SHORT_CHUNK_STEPS);
  });

  it('extrapolates chunk times that are linear in steps and updates exactly, and never fits a negative cost', () => {
    // a chunk: fixed F, per step c, the blocks' B at every step that updates them
    const [F, c, B] = [0.4, 0.012, 0.7];
    const minimal = (k: number) => F + k * c + B;
    const full = (k: number) => F + k * (c + B);
    for (const K of [3, 10, 100]) {
      const steps = chunkStepCostSteps(K);
      const fit = extrapolateChunkTimes(
        { shortFullMs: full(steps.short), shortMinimalMs: minimal(steps.short), longMinimalMs: minimal(steps.long) },
        steps,
        K,
      );
      assert.ok(Math.abs(fit.minimalMs - minimal(K)) < 1e-9, `K ${K}: minimal`);
      assert.ok(Math.abs(fit.fullMs - full(K)) < 1e-9, `K ${K}: full`);
      assert.ok(Math.abs(fit.stepBlocksMs - B) < 1e-9);
      if (steps.long > steps.short) assert.ok(Math.abs(fit.stepFixedMs - c) < 1e-9);
    }
    // timing noise that makes a longer graph read faster is no negative per-step cost
    const noisy = extrapolateChunkTimes(
      { shortFullMs: 3, shortMinimalMs: 1.2, longMinimalMs: 1.1 },
      { short: 4, long: 24 },
      100,
    );
    assert.equal(noisy.stepFixedMs, 0);
    assert.equal(noisy.minimalMs, 1.1);
  });

  it('is 0 when the minimal chunk costs no more than 1/K of the full one, null when the ratio says nothing', () => {
    assert.equal(chunkStepTimeUs(0.005, 100, 1000), 0);
    assert.equal(chunkStepTimeUs(1, 100, 1000), null);
    assert.equal(chunkStepTimeUs(0.5, 1, 1000), null);
    assert.equal(chunkStepTimeUs(0.5, 10, 0), null);
    assert.equal(chunkStepTimeUs(Number.NaN, 10, 1000), null);
  });

  it('round-trips through the profile file and is absent in files that lack it', () => {
    const without = parseProfile(serializeProfile(gated));
    assert.ok(without.ok);
    assert.equal((without as { profile: Profile }).profile.chunkStepTimeUs, undefined);
    const back = parseProfile(serializeProfile({ ...demo, chunkStepTimeUs: 123.5 }));
    assert.ok(back.ok);
    assert.equal((back as { profile: Profile }).profile.chunkStepTimeUs, 123.5);
    // the writer checks the header against the contract, so a negative time never reaches a file
    assert.throws(() => serializeProfile({ ...demo, chunkStepTimeUs: -1 }), /chunkStepTimeUs/);
  });

  it("is in the shipped demo profile, and the shipped schedule was solved with it (the profile's sha256, its time base)", () => {
    assert.ok(demo.chunkStepTimeUs! > 0 && demo.chunkStepTimeUs! < demo.baseCost.timeUs);
    const bytes = readFileSync(join(root, 'fixtures/demo/policy.bacschedule'), 'utf8');
    const shipped = parseSchedule(bytes);
    assert.ok(shipped.ok);
    const schedule = (shipped as { schedule: Schedule }).schedule;
    assert.deepEqual(schedule.baseCost, scheduleBaseCost(demo));
    const profileBytes = readFileSync(join(root, 'fixtures/demo/policy.bacprofile'));
    assert.equal(schedule.solver.profile?.sha256, createHash('sha256').update(profileBytes).digest('hex'));
  });

  it('is the time base cost of schedules built from the profile; FLOPs are unchanged', () => {
    assert.deepEqual(scheduleBaseCost(gated), demo.baseCost);
    const calibrated: Profile = { ...demo, chunkStepTimeUs: 40 };
    assert.deepEqual(scheduleBaseCost(calibrated), { flops: demo.baseCost.flops, timeUs: 40 });
    const s = buildBaseline('bac', calibrated, demo.model, 10, 3, true);
    assert.equal(s.baseCost.timeUs, 40);
    const old = buildBaseline('bac', gated, demo.model, 10, 3, true);
    assert.equal(summarizeSchedule(s).speedupFlops, summarizeSchedule(old).speedupFlops);
    // a smaller fixed cost per step lets the skipped blocks weigh more
    assert.ok(summarizeSchedule(s).speedupTime! > summarizeSchedule(old).speedupTime!);
    const K = demo.sampler.steps;
    assert.ok(
      Math.abs(chunkCost((c) => c.timeUs, s) - chunkCost((c) => c.timeUs, old) + K * (demo.baseCost.timeUs - 40)) <
        1e-6,
    );
    assert.ok(sumBlocks(demo) > 0);
  });
});
