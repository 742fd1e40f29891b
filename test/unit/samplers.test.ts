/**
 * Pure sampler math: betas / ᾱ against values computed by PyTorch with diffusers' formulas
 * (python/bac_models/schedulers.py), timestep spacing, step formulas on hand-checkable cases,
 * and determinism of the seeded RNG.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Rng } from '../../src/core/rng';
import {
  NoiseScheduler,
  alphasCumprod,
  inferenceTimesteps,
  makeBetas,
  runSampler,
  thresholdSample,
  type SamplerConfig,
} from '../../src/engine/samplers';
import { resolve } from 'node:path';
import { loadPolicy, policyScheduler } from '../../src/engine/policy';

const close = (a: number, b: number, rel: number, msg: string): void => {
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-30), `${msg}: ${a} vs ${b}`);
};

const DP_DDPM: SamplerConfig = {
  type: 'ddpm',
  num_train_timesteps: 100,
  beta_schedule: 'squaredcos_cap_v2',
  beta_start: 0.0001,
  beta_end: 0.02,
  prediction_type: 'epsilon',
  clip_sample: true,
  num_inference_steps: 100,
};

test('betas and alphas_cumprod match torch/diffusers values', () => {
  // [schedule, N, {index: beta}, {index: alphas_cumprod}] printed by PyTorch (float32)
  const cases: [string, number, Record<number, number>, Record<number, number>][] = [
    [
      'squaredcos_cap_v2',
      100,
      { 0: 0.00063128158217296, 1: 0.0011169370263814926, 50: 0.03154633939266205, 99: 0.9990000128746033 },
      { 0: 0.9993687272071838, 50: 0.47826457023620605, 99: 2.4285407107527135e-7 },
    ],
    [
      'linear',
      100,
      { 0: 9.999999747378752e-5, 1: 0.0003010100917890668, 50: 0.010150505229830742, 99: 0.019999999552965164 },
      { 0: 0.9998999834060669, 50: 0.7692912817001343, 99: 0.3635632395744324 },
    ],
    [
      'scaled_linear',
      100,
      { 0: 9.999999747378752e-5, 1: 0.00012831199273932725, 50: 0.005833052098751068, 99: 0.020000001415610313 },
      { 0: 0.9998999834060669, 50: 0.8915449976921082, 99: 0.4845898449420929 },
    ],
    [
      'linear',
      1000,
      { 0: 9.999999747378752e-5, 1: 0.00011991991777904332, 499: 0.0100400410592556, 999: 0.019999999552965164 },
      { 999: 4.0358307160204276e-5 },
    ],
  ];
  for (const [schedule, n, betaVals, abarVals] of cases) {
    const betas = makeBetas(n, 0.0001, 0.02, schedule);
    const abar = alphasCumprod(betas);
    assert.equal(betas.length, n);
    for (const [i, v] of Object.entries(betaVals)) close(betas[Number(i)]!, v, 1e-6, `${schedule} beta[${i}]`);
    // cumprod over up to 1000 float32 products: allow a little rounding-order drift
    for (const [i, v] of Object.entries(abarVals)) close(abar[Number(i)]!, v, 1e-5, `${schedule} abar[${i}]`);
    for (let i = 1; i < n; i++) assert.ok(abar[i]! < abar[i - 1]!, 'alphas_cumprod strictly decreasing');
  }
  assert.throws(() => makeBetas(100, 0, 0, 'sigmoid'), /not supported/);
});

test('squaredcos_cap_v2 caps beta at 0.999 and follows the cosine alpha-bar', () => {
  const n = 100;
  const betas = makeBetas(n, 0, 0, 'squaredcos_cap_v2');
  const ab = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  close(betas[10]!, 1 - ab(11 / n) / ab(10 / n), 1e-6, 'beta[10]');
  close(betas[n - 1]!, 0.999, 1e-7, 'last beta capped');
});

test('inference timesteps use leading spacing', () => {
  assert.deepEqual(inferenceTimesteps(100, 10), [90, 80, 70, 60, 50, 40, 30, 20, 10, 0]);
  const all = inferenceTimesteps(100, 100);
  assert.equal(all.length, 100);
  assert.equal(all[0], 99);
  assert.equal(all[99], 0);
  assert.deepEqual(inferenceTimesteps(1000, 3), [666, 333, 0]);
  assert.deepEqual(
    inferenceTimesteps(100, 16, 1),
    Array.from({ length: 16 }, (_, i) => (15 - i) * 6 + 1),
  );
  assert.throws(() => inferenceTimesteps(100, 0), RangeError);
  assert.throws(() => inferenceTimesteps(100, 101), RangeError);
});

test('DDPM step: t=0 is deterministic and returns the clipped x0 prediction', () => {
  const s = new NoiseScheduler(DP_DDPM);
  const abar0 = s.alphasCumprod[0]!;
  const x = Float32Array.from([0.5, 3, -3]);
  const eps = Float32Array.from([0.1, 0, 0]);
  // at t = 0: abar_prev = 1, so x_prev = x0 (clipped), no noise
  const out = s.step(eps, 0, x);
  close(out[0]!, (0.5 - Math.sqrt(1 - abar0) * 0.1) / Math.sqrt(abar0), 1e-6, 'x0');
  assert.equal(out[1], 1);
  assert.equal(out[2], -1);
  assert.throws(() => s.step(eps, 5, x), /needs noise/);
});

test('DDPM step with zero noise equals the posterior mean; noise scales by sqrt(fixed_small variance)', () => {
  const s = new NoiseScheduler({ ...DP_DDPM, clip_sample: false });
  const t = 40;
  const a = s.alphasCumprod[t]!;
  const ap = s.alphasCumprod[t - 1]!;
  const x = Float32Array.from([0.3]);
  const eps = Float32Array.from([-0.2]);
  const x0 = (0.3 - Math.sqrt(1 - a) * -0.2) / Math.sqrt(a);
  const mean = ((Math.sqrt(ap) * (1 - a / ap)) / (1 - a)) * x0 + ((Math.sqrt(a / ap) * (1 - ap)) / (1 - a)) * 0.3;
  close(s.step(eps, t, x, Float32Array.from([0]))[0]!, mean, 1e-6, 'mean');
  const std = Math.sqrt(((1 - ap) / (1 - a)) * (1 - a / ap));
  close(s.step(eps, t, x, Float32Array.from([1]))[0]!, mean + std, 1e-6, 'mean + std');
});

test('DDIM eta=0 is deterministic and needs no noise; a perfect epsilon recovers x0 exactly', () => {
  const s = new NoiseScheduler({ ...DP_DDPM, type: 'ddim', num_inference_steps: 10, clip_sample: false });
  assert.equal(s.usesNoise(90), false);
  const x0 = 0.7;
  const epsTrue = -1.3;
  const t = 90;
  const a = s.alphasCumprod[t]!;
  const x = Float32Array.from([Math.sqrt(a) * x0 + Math.sqrt(1 - a) * epsTrue]);
  const out = s.step(Float32Array.from([epsTrue]), t, x);
  const ap = s.alphasCumprod[80]!;
  close(out[0]!, Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * epsTrue, 1e-6, 'DDIM step keeps the same x0/eps');
  // final step (t = 0 → abar_prev = 1 with set_alpha_to_one) returns x0
  const a0 = s.alphasCumprod[0]!;
  const x0s = Float32Array.from([Math.sqrt(a0) * x0 + Math.sqrt(1 - a0) * epsTrue]);
  close(s.step(Float32Array.from([epsTrue]), 0, x0s)[0]!, x0, 1e-6, 'last DDIM step gives x0');
});

test('addNoise is the forward process', () => {
  const s = new NoiseScheduler(DP_DDPM);
  const a = s.alphasCumprod[50]!;
  const y = s.addNoise(Float32Array.from([1, -1]), Float32Array.from([0.5, 2]), 50);
  close(y[0]!, Math.sqrt(a) + Math.sqrt(1 - a) * 0.5, 1e-6, 'addNoise[0]');
  close(y[1]!, -Math.sqrt(a) + Math.sqrt(1 - a) * 2, 1e-6, 'addNoise[1]');
});

test('constructor rejects unsupported configurations', () => {
  assert.throws(() => new NoiseScheduler({ ...DP_DDPM, type: 'dpmsolver' }), /not supported/);
  assert.throws(() => new NoiseScheduler({ ...DP_DDPM, prediction_type: 'v_prediction' }), /not supported/);
  assert.throws(() => new NoiseScheduler({ ...DP_DDPM, num_inference_steps: 0 }), RangeError);
});

test('Rng is deterministic per seed, different across seeds, and roughly standard normal', () => {
  const a = new Rng(42).normalArray(1000);
  const b = new Rng(42).normalArray(1000);
  const c = new Rng(43).normalArray(1000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  // fixed first values guard against accidental changes of the stream (profiles record seeds)
  const r = new Rng(0);
  const first = [r.nextUint32(), r.nextUint32(), r.nextUint32()];
  assert.deepEqual(first, [3809008728, 1133695204, 53579671]);
  const g = new Rng(12345);
  assert.deepEqual(
    [g.normal(), g.normal(), g.normal()],
    [2.0477069220073236, -0.18646424047915222, 0.3095964959606745],
  );
  const big = new Rng(7).normalArray(200_000);
  let mean = 0;
  for (const v of big) mean += v;
  mean /= big.length;
  let varSum = 0;
  for (const v of big) varSum += (v - mean) ** 2;
  const variance = varSum / big.length;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.02, `variance ${variance}`);
  const u = new Rng(1);
  for (let i = 0; i < 10_000; i++) {
    const x = u.uniform();
    assert.ok(x > 0 && x < 1);
  }
  assert.throws(() => new Rng(Number.NaN), RangeError);
});

test('runSampler drives the callback K times in timestep order and is reproducible', async () => {
  const s = new NoiseScheduler({ ...DP_DDPM, num_inference_steps: 20 });
  const seen: number[] = [];
  const denoise = async (x: Float32Array, t: number, cond: number): Promise<Float32Array> => {
    seen.push(t);
    return x.map((v) => 0.1 * v + cond);
  };
  const init = new Rng(3).normalArray(8);
  const run = (): Promise<Float32Array> =>
    runSampler({ scheduler: s, denoise, cond: 0.05, initialSample: init, noise: new Rng(9) });
  const r1 = await run();
  assert.deepEqual(seen.slice(0, 20), s.timesteps);
  const r2 = await run();
  assert.deepEqual(r1, r2);
  await assert.rejects(runSampler({ scheduler: s, denoise, cond: 0, initialSample: init }), /needs noise/);
});

test('with the exact ε of Gaussian data, sample moments follow the closed-form linear recursion', async () => {
  // x0 ~ N(mu, s²) ⇒ x_t ~ N(√ᾱ·mu, ᾱs² + 1 − ᾱ) and E[ε | x_t] = √(1−ᾱ)(x_t − √ᾱ·mu)/(ᾱs² + 1 − ᾱ).
  // With this oracle every step is affine, x ← A·x + B + σ·z, so the output mean and variance are known
  // exactly. (They are NOT mu and s²: fixed_small DDPM drops the Var[x0 | x_t] term and DDIM is a coarse
  // ODE step, so both under-disperse at finite K -- e.g. DDPM-100 on squaredcos gives std ≈ 0.185 for
  // s = 0.2 -- as diffusers does.) An end-to-end check of step coefficients, timesteps and noise scale.
  const mu = 0.3;
  const sd = 0.2;
  const n = 40_000;
  for (const [type, steps] of [
    ['ddpm', 100],
    ['ddpm', 10],
    ['ddim', 10],
  ] as const) {
    const s = new NoiseScheduler({ ...DP_DDPM, type, num_inference_steps: steps });
    const ac = s.alphasCumprod;
    let mean = 0;
    let variance = 1;
    for (const t of s.timesteps) {
      const a = ac[t]!;
      const ap = t - s.stepRatio >= 0 ? ac[t - s.stepRatio]! : 1;
      const v = a * sd * sd + 1 - a;
      const k = Math.sqrt(1 - a) / v; // ε(x) = k·(x − √a·mu)
      const x0A = (1 - Math.sqrt(1 - a) * k) / Math.sqrt(a); // x0(x) = x0A·x + x0B
      const x0B = Math.sqrt(1 - a) * k * mu;
      let A: number;
      let B: number;
      let sig2 = 0;
      if (type === 'ddpm') {
        const beta = 1 - a / ap;
        const c1 = (Math.sqrt(ap) * beta) / (1 - a);
        const c2 = (Math.sqrt(a / ap) * (1 - ap)) / (1 - a);
        A = c1 * x0A + c2;
        B = c1 * x0B;
        if (t > 0) sig2 = ((1 - ap) / (1 - a)) * beta;
      } else {
        A = Math.sqrt(ap) * x0A + Math.sqrt(1 - ap) * k;
        B = Math.sqrt(ap) * x0B - Math.sqrt(1 - ap) * k * Math.sqrt(a) * mu;
      }
      mean = A * mean + B;
      variance = A * A * variance + sig2;
    }
    const oracle = async (x: Float32Array, t: number): Promise<Float32Array> => {
      const a = ac[t]!;
      const v = a * sd * sd + 1 - a;
      return x.map((xi) => (Math.sqrt(1 - a) * (xi - Math.sqrt(a) * mu)) / v);
    };
    const out = await runSampler({
      scheduler: s,
      denoise: oracle,
      cond: undefined,
      initialSample: new Rng(11).normalArray(n),
      noise: new Rng(12),
    });
    let m = 0;
    for (const v of out) m += v;
    m /= n;
    let q = 0;
    for (const v of out) q += (v - m) ** 2;
    const std = Math.sqrt(q / n);
    // sampling error: ≈ std/√n ≈ 0.001 for the mean and ≈ std/√(2n) for the std
    assert.ok(Math.abs(m - mean) < 0.004, `${type}-${steps}: mean ${m} vs ${mean}`);
    assert.ok(Math.abs(std - Math.sqrt(variance)) < 0.004, `${type}-${steps}: std ${std} vs ${Math.sqrt(variance)}`);
    assert.ok(Math.abs(mean - mu) < 0.01 && Math.sqrt(variance) < sd, 'recursion sanity');
  }
});

const DPM: SamplerConfig = { ...DP_DDPM, type: 'dpmsolver++', num_inference_steps: 10 };

test("dpmsolver++ timesteps follow diffusers' spacings, with numpy's half-to-even rounding", () => {
  // linspace(0, 99, 11) = 0, 9.9, …, 49.5, …, 99: 49.5 rounds to the even 50
  assert.deepEqual(new NoiseScheduler(DPM).timesteps, [99, 89, 79, 69, 59, 50, 40, 30, 20, 10]);
  // linspace(0, 99, 5) = 0, 24.75, 49.5, 74.25, 99 → 0, 25, 50, 74, 99 (reversed, the 0 dropped)
  assert.deepEqual(new NoiseScheduler({ ...DPM, num_inference_steps: 4 }).timesteps, [99, 74, 50, 25]);
  // leading: ⌊100 / 11⌋ = 9 → 90, 81, …, 9; trailing: round(arange(100, 0, −10)) − 1
  assert.deepEqual(
    new NoiseScheduler({ ...DPM, timestep_spacing: 'leading', steps_offset: 1 }).timesteps,
    [91, 82, 73, 64, 55, 46, 37, 28, 19, 10],
  );
  assert.deepEqual(
    new NoiseScheduler({ ...DPM, timestep_spacing: 'trailing' }).timesteps,
    [99, 89, 79, 69, 59, 49, 39, 29, 19, 9],
  );
  // λ clipping drops the noisiest timesteps (cosine: λ_99 ≈ −7.6, λ_95 ≈ −3.9)
  const clipped = new NoiseScheduler({ ...DPM, lambda_min_clipped: -5 });
  assert.ok(clipped.timesteps[0]! < 99 && clipped.timesteps[0]! > 90, `first timestep ${clipped.timesteps[0]}`);
  const s = new NoiseScheduler(DPM);
  assert.equal(s.sigmas.length, 11);
  assert.equal(s.sigmas[10], 0, 'final_sigmas_type zero');
  close(s.sigmas[0]!, Math.sqrt((1 - s.alphasCumprod[99]!) / s.alphasCumprod[99]!), 1e-6, 'σ̃ at t = 99');
  const min = new NoiseScheduler({ ...DPM, final_sigmas_type: 'sigma_min' });
  close(min.sigmas[10]!, Math.sqrt((1 - min.alphasCumprod[0]!) / min.alphasCumprod[0]!), 1e-6, 'sigma_min');
});

test('dpmsolver++ with the exact ε or x0 of Gaussian data integrates the probability-flow ODE', async () => {
  // x0 ~ N(mu, s²). The probability-flow ODE carries x_t ~ N(√ᾱ_t·mu, v_t), v_t = ᾱ_t·s² + 1 − ᾱ_t,
  // from t = 99 down to any t exactly; DPM-Solver++ integrates it with an error that shrinks with K.
  // So the output distribution is known in closed form, independently of the solver's
  // coefficients: with final σ = σ_min it is x at t = 0; with final σ = 0 the last step returns the
  // data prediction at the last timestep, E[x0 | x_t] = mu + (√ᾱ_t·s²/v_t)(x_t − √ᾱ_t·mu), whose
  // spread √ᾱ_t·s²/√v_t is below s. ε and x0 oracles exercise both prediction types.
  const mu = 0.3;
  const sd = 0.2;
  const n = 20_000;
  // [prediction, order, K, spacing, final σ, tolerance on the std]: second order is within 1 % at
  // K = 25 when the last step lands on σ = 0; a last step down to σ_min crosses a long λ interval
  // (σ̃ 0.04 → 0.025) and is within 3 % at K = 50; first order (DDIM) is 6 % short at K = 25
  const stdError: Record<string, number> = {};
  for (const [prediction, order, steps, spacing, final, tolerance] of [
    ['epsilon', 2, 25, 'linspace', 'zero', 0.005],
    ['sample', 2, 25, 'linspace', 'zero', 0.005],
    ['epsilon', 1, 25, 'linspace', 'zero', 0.015],
    ['sample', 2, 50, 'trailing', 'sigma_min', 0.006],
    ['epsilon', 2, 50, 'linspace', 'sigma_min', 0.006],
  ] as const) {
    const s = new NoiseScheduler({
      ...DPM,
      prediction_type: prediction,
      solver_order: order,
      num_inference_steps: steps,
      timestep_spacing: spacing,
      final_sigmas_type: final,
    });
    const ac = s.alphasCumprod;
    const v = (a: number): number => a * sd * sd + 1 - a;
    const oracle = async (x: Float32Array, t: number): Promise<Float32Array> => {
      const a = ac[t]!;
      return prediction === 'epsilon'
        ? x.map((xi) => (Math.sqrt(1 - a) * (xi - Math.sqrt(a) * mu)) / v(a))
        : x.map((xi) => mu + ((Math.sqrt(a) * sd * sd) / v(a)) * (xi - Math.sqrt(a) * mu));
    };
    const out = await runSampler({
      scheduler: s,
      denoise: oracle,
      cond: undefined,
      initialSample: new Rng(21).normalArray(n),
    });
    let m = 0;
    for (const x of out) m += x;
    m /= n;
    let q = 0;
    for (const x of out) q += (x - m) ** 2;
    const std = Math.sqrt(q / n);
    let wantMean: number;
    let wantStd: number;
    if (final === 'sigma_min') {
      wantMean = Math.sqrt(ac[0]!) * mu;
      wantStd = Math.sqrt(v(ac[0]!));
    } else {
      const a = ac[s.timesteps[steps - 1]!]!;
      wantMean = mu;
      wantStd = (Math.sqrt(a) * sd * sd) / Math.sqrt(v(a));
    }
    // sampling error ≈ std/√n ≈ 0.0014 for the mean; x_K ~ N(0, 1) instead of N(√ᾱ·mu, v) at
    // ᾱ_99 ≈ 2e-7 is negligible
    const what = `${prediction} order ${order} K=${steps} ${spacing} final ${final}`;
    assert.ok(Math.abs(m - wantMean) < 0.005, `${what}: mean ${m} vs ${wantMean}`);
    assert.ok(Math.abs(std - wantStd) < tolerance, `${what}: std ${std} vs ${wantStd}`);
    stdError[`${prediction}/${order}/${steps}/${final}`] = Math.abs(std - wantStd);
  }
  // the second-order multistep correction is what makes it converge faster than DDIM
  assert.ok(
    stdError['epsilon/2/25/zero']! * 3 < stdError['epsilon/1/25/zero']!,
    `order 2 error ${stdError['epsilon/2/25/zero']} vs order 1 ${stdError['epsilon/1/25/zero']}`,
  );
});

test('a dpmsolver++ first-order step is the DDIM step between the same two timesteps', () => {
  const s = new NoiseScheduler({ ...DPM, solver_order: 1, clip_sample: false });
  const x = Float32Array.from([0.7, -0.2, 1.5]);
  const eps = Float32Array.from([0.3, -0.9, 0.1]);
  const state = s.startRun();
  const got = s.step(eps, s.timesteps[0]!, x, undefined, state);
  const got2 = s.step(eps, s.timesteps[1]!, got, undefined, state);
  // DDIM (η = 0): x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε with x0 = (x − √(1−ᾱ_s)·ε)/√ᾱ_s
  const ddim = (xs: Float32Array, from: number, to: number): number[] => {
    const as = s.alphasCumprod[from]!;
    const at = s.alphasCumprod[to]!;
    return Array.from(xs, (v, i) => {
      const x0 = (v - Math.sqrt(1 - as) * eps[i]!) / Math.sqrt(as);
      return Math.sqrt(at) * x0 + Math.sqrt(1 - at) * eps[i]!;
    });
  };
  ddim(x, s.timesteps[0]!, s.timesteps[1]!).forEach((v, i) => close(got[i]!, v, 1e-6, `step 0, element ${i}`));
  ddim(got, s.timesteps[1]!, s.timesteps[2]!).forEach((v, i) => close(got2[i]!, v, 1e-6, `step 1, element ${i}`));
});

test('dpmsolver++ is multistep: steps run in order with one state per run; bad options are refused', async () => {
  const s = new NoiseScheduler(DPM);
  const x = Float32Array.from([0.5, -0.5]);
  const eps = Float32Array.from([0.1, 0.2]);
  assert.throws(() => s.step(eps, 99, x), /multistep sampler: pass the run state/);
  const state = s.startRun();
  s.step(eps, 99, x, undefined, state);
  assert.throws(() => s.step(eps, 99, x, undefined, state), /step 1 expects timestep 89, got 99/);
  // second order from step 1 on: the same output with a different previous x0 gives a different step
  const a = s.step(eps, 89, x, undefined, {
    step: 1,
    batch: 1,
    previousX0: Float64Array.from([0, 0]),
    lowerOrderNums: 1,
  });
  const b = s.step(eps, 89, x, undefined, {
    step: 1,
    batch: 1,
    previousX0: Float64Array.from([1, 1]),
    lowerOrderNums: 1,
  });
  assert.notDeepEqual(a, b);
  const denoise = async (v: Float32Array): Promise<Float32Array> => v.map((e) => 0.5 * e);
  const run = (): Promise<Float32Array> => runSampler({ scheduler: s, denoise, cond: 0, initialSample: x });
  assert.deepEqual(await run(), await run(), 'each run starts from a fresh state');
  assert.equal(s.usesNoise(99), false);
  for (const [bad, re] of [
    [{ solver_order: 3 }, /solver_order 3 is not supported/],
    [{ solver_type: 'bh2' }, /solver_type 'bh2' is not supported/],
    [{ final_sigmas_type: 'max' }, /final_sigmas_type 'max' is not supported/],
    [{ timestep_spacing: 'karras' }, /timestep_spacing 'karras' is not supported/],
    [{ use_lu_lambdas: true }, /use_lu_lambdas is not supported/],
    [{ use_karras_sigmas: true }, /use_karras_sigmas is not supported/],
  ] as const) {
    assert.throws(() => new NoiseScheduler({ ...DPM, ...(bad as object) }), re);
  }
  assert.throws(() => new NoiseScheduler({ ...DP_DDPM, timestep_spacing: 'linspace' }), /not supported for ddpm/);
  // linspace(0, 99, 101) rounds two neighbours to one timestep: h = 0 would divide by zero later
  assert.throws(
    () => new NoiseScheduler({ ...DPM, num_inference_steps: 100 }),
    /repeats timestep \d+; use fewer steps/,
  );
  assert.throws(() => new NoiseScheduler({ ...DP_DDPM, prediction_type: 'v_prediction' }), /epsilon, sample/);
});

test('ddpm and ddim with sample prediction equal the epsilon form fed the matching ε', () => {
  for (const type of ['ddpm', 'ddim'] as const) {
    const e = new NoiseScheduler({ ...DP_DDPM, type, num_inference_steps: 10, clip_sample: false });
    const x = new NoiseScheduler({
      ...DP_DDPM,
      type,
      num_inference_steps: 10,
      clip_sample: false,
      prediction_type: 'sample',
    });
    const t = e.timesteps[3]!;
    const sample = Float32Array.from([0.4, -1.2, 0.05]);
    const x0 = Float32Array.from([0.3, -0.6, 0.9]);
    const a = e.alphasCumprod[t]!;
    const eps = sample.map((v, i) => (v - Math.sqrt(a) * x0[i]!) / Math.sqrt(1 - a));
    const noise = Float32Array.from([0.1, 0.2, -0.3]);
    const viaEps = e.step(eps, t, sample, type === 'ddpm' ? noise : undefined);
    const viaX0 = x.step(x0, t, sample, type === 'ddpm' ? noise : undefined);
    viaEps.forEach((v, i) => close(viaX0[i]!, v, 1e-5, `${type} element ${i}`));
  }
});

test('dynamic thresholding matches torch.quantile per batch element; with max 1 it clips x0 to [−1, 1]', () => {
  // torch: quantile(|x|, 0.9, dim=1) = [3.3, 0.63]; s = clamp(·, 1, 2.5) = [2.5, 1]
  const x = Float64Array.from([0.5, -3.0, 1.2, 2.5, -0.1, 4.0, 0.0, -1.7, 0.2, -0.3, 0.1, 0.4, -0.5, 0.05, 0.6, -0.7]);
  thresholdSample(x, 2, 0.9, 2.5);
  const want = [0.2, -1.0, 0.48, 1.0, -0.04, 1.0, 0.0, -0.68, 0.2, -0.3, 0.1, 0.4, -0.5, 0.05, 0.6, -0.7];
  want.forEach((v, i) => assert.ok(Math.abs(x[i]! - v) < 1e-12, `element ${i}: ${x[i]} vs ${v}`));
  const y = Float64Array.from([3, -0.5, -7, 0.25]);
  thresholdSample(y, 1, 0.995, 1);
  assert.deepEqual([...y], [1, -0.5, -1, 0.25]);
  assert.throws(() => thresholdSample(y, 3, 0.9, 1), /do not split into a batch of 3/);
});

test('a policy trained with clip_sample, sampled with dpmsolver++, thresholds x0 at its clip range', async () => {
  // the demo policy's metadata: DDPM-100, clip_sample true (range 1)
  const policy = await loadPolicy(resolve(__dirname, '..', '..', 'fixtures', 'demo', 'policy.onnx'));
  const s = policyScheduler(policy, 10, 'dpmsolver++');
  assert.equal(s.config.type, 'dpmsolver++');
  assert.equal(s.config.thresholding, true);
  assert.equal(s.config.sample_max_value, 1);
  assert.equal(s.config.timestep_spacing, 'linspace');
  assert.equal(s.numInferenceSteps, 10);
  const back = policyScheduler(policy, 10, 'ddim');
  assert.equal(back.config.timestep_spacing, 'leading');
  assert.equal(policyScheduler(policy).config.type, 'ddpm');
});
