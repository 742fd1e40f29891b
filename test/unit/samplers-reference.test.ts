/**
 * The TypeScript samplers against reference trajectories of diffusers' DDPM, DDIM and DPM-Solver++
 * (`test/fixtures/samplers/diffusers-reference.json`: an independent numpy re-derivation from
 * diffusers' source, version and commit recorded in the fixture; see
 * `python/tests/reference/make_diffusers_reference.py`). Python's schedulers read the same fixture
 * (`python/tests/test_schedulers_reference.py`). Only the public sampler API is used: a scheduler
 * built from its `bac.sampler` description, its timesteps, and `runSampler` (DPM-Solver++'s σ are
 * checked through the trajectory).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NoiseScheduler, runSampler, type SamplerConfig } from '../../src/engine/samplers';

interface ReferenceCase {
  readonly name: string;
  readonly config: SamplerConfig;
  readonly batch: number;
  readonly amplitude: number;
  readonly timesteps: readonly number[];
  readonly initial: readonly number[];
  readonly noise: Readonly<Record<string, readonly number[]>>;
  readonly trajectory: readonly (readonly number[])[];
}

const reference = JSON.parse(
  readFileSync(join(__dirname, '..', 'fixtures', 'samplers', 'diffusers-reference.json'), 'utf8'),
) as { source: { package: string; commit: string }; cases: ReferenceCase[] };

/** The fixture's model: out[i] = A·tanh(x[i]) + 0.1·cos(0.37·i + 0.01·t). */
function referenceModel(amplitude: number) {
  return async (x: Float32Array, t: number): Promise<Float32Array> =>
    Float32Array.from(x, (v, i) => amplitude * Math.tanh(v) + 0.1 * Math.cos(0.37 * i + 0.01 * t));
}

/**
 * Float32 steps against float64 reference arithmetic: the error grows with the sample's magnitude
 * (DPM-Solver++ divides by α_s ≈ 0.003 at the noisiest step), so it is bounded relative to the
 * step's largest value (observed ≤ 3e-7; a swapped midpoint/heun or a first-order solver moves it
 * by ≥ 1.8e-5).
 */
function assertClose(got: ArrayLike<number>, want: readonly number[], what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const scale = Math.max(1, ...want.map(Math.abs));
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    assert.ok(err <= 2e-6 * scale, `${what}[${i}]: ${got[i]} vs reference ${want[i]} (|Δ| = ${err.toExponential(2)})`);
  }
}

describe(`samplers match ${reference.source.package} ${reference.source.commit.slice(0, 10)} (re-derived reference)`, () => {
  assert.ok(reference.cases.length >= 10);
  for (const c of reference.cases) {
    it(c.name, async () => {
      const scheduler = new NoiseScheduler(c.config);
      assert.deepEqual([...scheduler.timesteps], c.timesteps, 'timesteps');
      const trajectory: Float32Array[] = [];
      await runSampler({
        scheduler,
        denoise: referenceModel(c.amplitude),
        cond: null,
        initialSample: Float32Array.from(c.initial),
        noise: (k) => Float32Array.from(c.noise[String(k)] ?? []),
        batch: c.batch,
        onStep: (_k, _t, x) => trajectory.push(x),
      });
      assert.equal(trajectory.length, c.trajectory.length, 'steps');
      c.trajectory.forEach((want, k) => assertClose(trajectory[k]!, want, `step ${k} (t = ${c.timesteps[k]})`));
    });
  }
});
