/**
 * DDPM, DDIM and DPM-Solver++ samplers with HuggingFace diffusers semantics (epsilon or sample
 * prediction), denoiser-agnostic.
 *
 * Mirrors `python/bac_models/schedulers.py` (and diffusers): betas made the way diffusers makes them
 * and rounded to float32 as diffusers stores them; `alphas_cumprod` their cumulative product.
 * DDPM and DDIM: "leading" timestep spacing `timesteps = (arange(K) * (N div K)).reverse() +
 * steps_offset`, one step per timestep with the previous timestep `t - N div K`.
 * DPM-Solver++ (diffusers' `DPMSolverMultistepScheduler`, `algorithm_type="dpmsolver++"`): a
 * multistep ODE solver on σ_t = √((1−ᾱ_t)/ᾱ_t), order 1 or 2, spacing "linspace" by default; its
 * second-order steps reuse the previous step's data prediction, so a run carries a
 * {@link SamplerRunState}. Arithmetic is float64 and results are stored as float32 (PyTorch works
 * in float32; the difference is ~1e-7 relative).
 *
 * The denoiser is a callback, so the same code drives ONNX Runtime, the cached runner, or a mock.
 * Per-step noise can be passed explicitly so a trajectory can be replayed from stored noise.
 *
 * Pure math: no vscode, no ORT imports. One idea over 500 lines: diffusers' three samplers share
 * the training noise schedule, the timestep spacings and the run loop that lives here; each step's
 * arithmetic is described once in `sampler-steps.ts`.
 */

import { Rng } from '../core/rng';
import { applyStepPlan, discreteStepPlan, dpmSolverStepPlan, type StepPlan, type X0Limit } from './sampler-steps';

export { thresholdSample } from './sampler-steps';
export type { StepPlan } from './sampler-steps';

/** Beta schedules supported (diffusers names). */
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

/** Sampler types supported (diffusers' DPM-Solver++ is `DPMSolverMultistepScheduler` with `algorithm_type="dpmsolver++"`). */
export type SamplerType = 'ddpm' | 'ddim' | 'dpmsolver++';

/** Sampler types, for messages and validation. */
export const SAMPLER_TYPES: readonly SamplerType[] = ['ddpm', 'ddim', 'dpmsolver++'];

/**
 * Sampler description, as stored in the `bac.sampler` metadata of a BAC-ready ONNX (snake_case keys,
 * diffusers' meaning). Optional keys take diffusers' defaults.
 */
export interface SamplerConfig {
  readonly type: SamplerType | string;
  /** N: training timesteps. */
  readonly num_train_timesteps: number;
  readonly beta_schedule: BetaSchedule | string;
  /** Ignored by `squaredcos_cap_v2`. */
  readonly beta_start: number;
  /** Ignored by `squaredcos_cap_v2`. */
  readonly beta_end: number;
  /** `epsilon` (the denoiser predicts the noise) or `sample` (it predicts x0). */
  readonly prediction_type: string;
  /** DDPM and DDIM clip the predicted x0 to ±clip_sample_range; DPM-Solver++ has no such option (ignored, as in diffusers). */
  readonly clip_sample: boolean;
  /** K: denoiser calls per sampler run, 1 ≤ K ≤ N. */
  readonly num_inference_steps: number;
  /** Default 1. */
  readonly clip_sample_range?: number;
  /** Default 0. */
  readonly steps_offset?: number;
  /** DDIM only; default 0 (deterministic). */
  readonly eta?: number;
  /** DDIM only; default true (the last step's ᾱ_prev is 1). */
  readonly set_alpha_to_one?: boolean;
  /** DPM-Solver++ only: 1 or 2 (default 2, "2M"). */
  readonly solver_order?: number;
  /** DPM-Solver++ only: `midpoint` (default) or `heun`. */
  readonly solver_type?: string;
  /** DPM-Solver++ only; default true: first order at the last step when K < 15. */
  readonly lower_order_final?: boolean;
  /** DPM-Solver++ only; default false: first order at the last step whatever K. */
  readonly euler_at_final?: boolean;
  /** DPM-Solver++ only: σ after the last step, `zero` (default; the last step is then first order) or `sigma_min`. */
  readonly final_sigmas_type?: string;
  /** `linspace` (DPM-Solver++'s default), `leading` (DDPM's and DDIM's, the only one they support here) or `trailing`. */
  readonly timestep_spacing?: string;
  /** DPM-Solver++ only; default −∞: timesteps whose λ = log(α/σ) is below it are not used. */
  readonly lambda_min_clipped?: number;
  /**
   * DPM-Solver++ only; default false. Dynamic thresholding of the data prediction (diffusers'
   * `_threshold_sample`): per batch element s = clamp(quantile(|x0|, dynamic_thresholding_ratio),
   * 1, sample_max_value), x0 ← clamp(x0, −s, s)/s. With sample_max_value 1 it clips x0 to [−1, 1],
   * which is what `clip_sample` does for DDPM and DDIM.
   */
  readonly thresholding?: boolean;
  /** Default 0.995. */
  readonly dynamic_thresholding_ratio?: number;
  /** Default 1. */
  readonly sample_max_value?: number;
}

/**
 * What a multistep sampler carries from one step of a run to the next. Create one per sampler run
 * with {@link NoiseScheduler.startRun}; DDPM and DDIM ignore it.
 */
export interface SamplerRunState {
  /** Index k of the next step. */
  step: number;
  /** Samples in the batch the arrays hold (B of [B, T, Da]); per-sample operations need it. */
  readonly batch: number;
  /** DPM-Solver++: the previous step's data prediction x0 (null before the first step). */
  previousX0: Float64Array | null;
  /** DPM-Solver++: how many steps have run, capped at the solver order (diffusers' `lower_order_nums`). */
  lowerOrderNums: number;
}

/** Denoiser callback: ε(sample, t, cond) for a batch at one shared timestep; same length as `sample`. */
export type DenoiseFn<C> = (sample: Float32Array, timestep: number, cond: C) => Promise<Float32Array>;

/**
 * Betas as diffusers builds them, rounded to float32 (length N).
 * `squaredcos_cap_v2`: β_i = min(1 − ᾱ((i+1)/N)/ᾱ(i/N), 0.999), ᾱ(t) = cos²((t+0.008)/1.008·π/2).
 * @throws RangeError for an unknown schedule or N < 1.
 */
export function makeBetas(
  numTrainTimesteps: number,
  betaStart: number,
  betaEnd: number,
  schedule: BetaSchedule | string,
): Float64Array {
  const n = numTrainTimesteps;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`num_train_timesteps must be a positive integer, got ${n}`);
  const betas = new Float64Array(n);
  // linspace as torch computes it in float32: start + i * step, mirrored from the end past the middle
  const linspace = (a: number, b: number, i: number): number => {
    if (n === 1) return a;
    const step = (b - a) / (n - 1);
    return i < n / 2 ? a + step * i : b - step * (n - 1 - i);
  };
  switch (schedule) {
    case 'linear':
      for (let i = 0; i < n; i++) betas[i] = Math.fround(linspace(betaStart, betaEnd, i));
      break;
    case 'scaled_linear':
      for (let i = 0; i < n; i++) {
        const v = Math.fround(linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), i));
        betas[i] = Math.fround(v * v);
      }
      break;
    case 'squaredcos_cap_v2': {
      const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
      for (let i = 0; i < n; i++) {
        betas[i] = Math.fround(Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999));
      }
      break;
    }
    default:
      throw new RangeError(`beta_schedule '${schedule}' is not supported (linear, scaled_linear, squaredcos_cap_v2)`);
  }
  return betas;
}

/**
 * Cumulative products ᾱ_t = Π_{s ≤ t} (1 − β_s), rounded to float32 at each step as torch's float32
 * cumprod does. Strictly decreasing, in (0, 1).
 */
export function alphasCumprod(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc = Math.fround(acc * Math.fround(1 - betas[i]!));
    out[i] = acc;
  }
  return out;
}

/**
 * Inference timesteps for K steps, "leading" spacing: `(arange(K) · ⌊N/K⌋).reverse() + offset`.
 * Step k (k = 0 noisiest) uses element k; with K = N it is N−1−k.
 * @throws RangeError unless 1 ≤ K ≤ N.
 */
export function inferenceTimesteps(numTrainTimesteps: number, numInferenceSteps: number, stepsOffset = 0): number[] {
  const k = numInferenceSteps;
  if (!Number.isInteger(k) || k < 1 || k > numTrainTimesteps) {
    throw new RangeError(`num_inference_steps must be an integer in 1..${numTrainTimesteps}, got ${k}`);
  }
  const ratio = Math.floor(numTrainTimesteps / k);
  const ts: number[] = [];
  for (let i = k - 1; i >= 0; i--) ts.push(i * ratio + stepsOffset);
  return ts;
}

/** numpy's `round`: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy's `linspace(start, stop, num)` (endpoint included): `start + i·step`, the last exactly `stop`. */
function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : start + i * step));
}

/**
 * DPM-Solver++ timesteps as diffusers' `DPMSolverMultistepScheduler.set_timesteps` makes them
 * (no Karras or Lu sigmas): with L = N − (number of timesteps whose λ_t < lambda_min_clipped),
 * `linspace`: round(linspace(0, L−1, K+1)) reversed, last dropped; `leading`: (arange(K+1) ·
 * ⌊L/(K+1)⌋) reversed, last dropped, + steps_offset; `trailing`: round(arange(L, 0, −N/K)) − 1.
 * Rounding is numpy's (half to even). O(N + K).
 */
export function dpmSolverTimesteps(
  alphasCumprod: Float64Array,
  numInferenceSteps: number,
  spacing: string,
  stepsOffset: number,
  lambdaMinClipped: number,
): number[] {
  const N = alphasCumprod.length;
  const K = numInferenceSteps;
  if (!Number.isInteger(K) || K < 1 || K > N) {
    throw new RangeError(`num_inference_steps must be an integer in 1..${N}, got ${K}`);
  }
  // λ_t = log α_t − log σ_t decreases with t; count the timesteps from the end that fall below the clip
  let clipped = 0;
  if (lambdaMinClipped > -Infinity) {
    for (let t = N - 1; t >= 0; t--) {
      const a = alphasCumprod[t]!;
      const lambda = Math.log(Math.fround(Math.sqrt(a))) - Math.log(Math.fround(Math.sqrt(Math.fround(1 - a))));
      if (lambda >= lambdaMinClipped) break;
      clipped++;
    }
  }
  const last = N - clipped;
  switch (spacing) {
    case 'linspace':
      return linspace(0, last - 1, K + 1)
        .map(roundHalfEven)
        .reverse()
        .slice(0, K);
    case 'leading': {
      const ratio = Math.floor(last / (K + 1));
      return Array.from({ length: K }, (_, i) => (K - i) * ratio + stepsOffset);
    }
    case 'trailing': {
      const ratio = N / K;
      const count = Math.ceil(last / ratio);
      return Array.from({ length: count }, (_, i) => roundHalfEven(last - i * ratio) - 1);
    }
    default:
      throw new RangeError(`timestep_spacing '${spacing}' is not supported (linspace, leading, trailing)`);
  }
}

/**
 * A noise scheduler for one sampler configuration. Immutable after construction; `step` allocates
 * its result and depends only on its arguments (DPM-Solver++ also reads and advances the run state
 * passed to it).
 */
export class NoiseScheduler {
  /** The configuration with defaults filled in. */
  readonly config: Required<SamplerConfig>;
  /** β_t, float32-rounded, length N. */
  readonly betas: Float64Array;
  /** ᾱ_t, length N. */
  readonly alphasCumprod: Float64Array;
  /** The K timesteps in execution order (descending). */
  readonly timesteps: readonly number[];
  /** ⌊N/K⌋: distance from a timestep to the previous one (DDPM and DDIM). */
  readonly stepRatio: number;
  /**
   * DPM-Solver++: σ̃ = √((1−ᾱ_t)/ᾱ_t) at each of the K timesteps, then the final σ̃ (0 for
   * `final_sigmas_type` zero), float32 as diffusers stores them; empty for DDPM and DDIM.
   */
  readonly sigmas: Float64Array;

  /**
   * @throws RangeError for an unsupported type, schedule, prediction type or DPM-Solver++ option,
   *   or K outside 1..N.
   */
  constructor(config: SamplerConfig) {
    if (!(SAMPLER_TYPES as readonly string[]).includes(config.type)) {
      throw new RangeError(`sampler type '${config.type}' is not supported (${SAMPLER_TYPES.join(', ')})`);
    }
    if (config.prediction_type !== 'epsilon' && config.prediction_type !== 'sample') {
      throw new RangeError(`prediction_type '${config.prediction_type}' is not supported (epsilon, sample)`);
    }
    const dpm = config.type === 'dpmsolver++';
    this.config = {
      clip_sample_range: 1,
      steps_offset: 0,
      eta: 0,
      set_alpha_to_one: true,
      solver_order: 2,
      solver_type: 'midpoint',
      lower_order_final: true,
      euler_at_final: false,
      final_sigmas_type: 'zero',
      timestep_spacing: dpm ? 'linspace' : 'leading',
      lambda_min_clipped: -Infinity,
      thresholding: false,
      dynamic_thresholding_ratio: 0.995,
      sample_max_value: 1,
      ...config,
    };
    const c = this.config;
    this.betas = makeBetas(config.num_train_timesteps, config.beta_start, config.beta_end, config.beta_schedule);
    this.alphasCumprod = alphasCumprod(this.betas);
    this.stepRatio = Math.floor(config.num_train_timesteps / config.num_inference_steps);
    if (!dpm) {
      if (c.timestep_spacing !== 'leading') {
        throw new RangeError(`timestep_spacing '${c.timestep_spacing}' is not supported for ${c.type} (leading)`);
      }
      this.timesteps = inferenceTimesteps(config.num_train_timesteps, config.num_inference_steps, c.steps_offset);
      this.sigmas = new Float64Array(0);
      return;
    }
    if (c.solver_order !== 1 && c.solver_order !== 2) {
      throw new RangeError(`solver_order ${c.solver_order} is not supported for dpmsolver++ (1, 2)`);
    }
    if (c.solver_type !== 'midpoint' && c.solver_type !== 'heun') {
      throw new RangeError(`solver_type '${c.solver_type}' is not supported (midpoint, heun)`);
    }
    if (c.final_sigmas_type !== 'zero' && c.final_sigmas_type !== 'sigma_min') {
      throw new RangeError(`final_sigmas_type '${c.final_sigmas_type}' is not supported (zero, sigma_min)`);
    }
    for (const key of ['use_karras_sigmas', 'use_lu_lambdas', 'use_exponential_sigmas']) {
      if ((config as unknown as Record<string, unknown>)[key] === true) {
        throw new RangeError(`${key} is not supported for dpmsolver++`);
      }
    }
    this.timesteps = dpmSolverTimesteps(
      this.alphasCumprod,
      config.num_inference_steps,
      c.timestep_spacing,
      c.steps_offset,
      c.lambda_min_clipped,
    );
    const repeated = this.timesteps.find((t, i) => i > 0 && t === this.timesteps[i - 1]);
    if (repeated !== undefined) {
      // two steps at one timestep make h = 0 and the next second-order step divide by it (NaN in
      // diffusers too)
      throw new RangeError(
        `dpmsolver++ with ${c.timestep_spacing} spacing and num_inference_steps ${config.num_inference_steps} of ${config.num_train_timesteps} repeats timestep ${repeated}; use fewer steps`,
      );
    }
    // σ̃ in float32 as torch computes ((1 − ᾱ) / ᾱ) ** 0.5
    const sigmaTilde = (a: number): number => Math.fround(Math.sqrt(Math.fround(Math.fround(1 - a) / a)));
    const last = c.final_sigmas_type === 'zero' ? 0 : sigmaTilde(this.alphasCumprod[0]!);
    this.sigmas = Float64Array.from([...this.timesteps.map((t) => sigmaTilde(this.alphasCumprod[t]!)), last]);
  }

  /**
   * A fresh per-run state for {@link step} (multistep samplers need one per sampler run).
   * @param batch samples B in the arrays the run steps (default 1).
   */
  startRun(batch = 1): SamplerRunState {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    return { step: 0, batch, previousX0: null, lowerOrderNums: 0 };
  }

  /** K. */
  get numInferenceSteps(): number {
    return this.timesteps.length;
  }

  /** Whether `step(…, t, …)` consumes noise (DDPM at t > 0; DDIM when eta > 0; never DPM-Solver++). */
  usesNoise(t: number): boolean {
    if (this.config.type === 'dpmsolver++') return false;
    return this.config.type === 'ddpm' ? t > 0 : this.config.eta > 0;
  }

  /** Forward process: √ᾱ_t·x0 + √(1−ᾱ_t)·noise (one timestep for the whole array). */
  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    const a = this.alphasCumprod[t];
    if (a === undefined) throw new RangeError(`timestep ${t} outside 0..${this.alphasCumprod.length - 1}`);
    const sa = Math.sqrt(a);
    const sb = Math.sqrt(1 - a);
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = sa * original[i]! + sb * noise[i]!;
    return out;
  }

  /**
   * One sampler step from timestep `t` to `t − ⌊N/K⌋`; returns the new sample.
   *
   * DDPM (fixed_small): x0 = (x − √(1−ᾱ_t)·ε)/√ᾱ_t, clipped; mean = √ᾱ_prev·β'_t/(1−ᾱ_t)·x0 +
   * √α'_t·(1−ᾱ_prev)/(1−ᾱ_t)·x with α'_t = ᾱ_t/ᾱ_prev, β'_t = 1 − α'_t; plus
   * √max((1−ᾱ_prev)/(1−ᾱ_t)·β'_t, 1e-20)·noise when t > 0.
   * DDIM: x_prev = √ᾱ_prev·x0 + √(1−ᾱ_prev−σ²)·ε (+ σ·noise), σ = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1−ᾱ_t/ᾱ_prev)).
   *
   * DPM-Solver++: see {@link dpmSolverStep}.
   * With `prediction_type` sample the model output is x0 itself and ε = (x − √ᾱ_t·x0)/√(1−ᾱ_t).
   *
   * @param noise standard normal noise of the sample's length; required exactly when `usesNoise(t)`.
   * @param state the run's state ({@link startRun}); required by DPM-Solver++, ignored otherwise.
   * @throws RangeError on length mismatch, missing noise or state, or a timestep outside 0..N−1.
   */
  step(
    modelOutput: Float32Array,
    t: number,
    sample: Float32Array,
    noise?: Float32Array,
    state?: SamplerRunState,
  ): Float32Array {
    const n = sample.length;
    if (modelOutput.length !== n) {
      throw new RangeError(`model output has ${modelOutput.length} values, sample has ${n}`);
    }
    if (this.alphasCumprod[t] === undefined || !Number.isInteger(t)) {
      throw new RangeError(`timestep ${t} outside 0..${this.alphasCumprod.length - 1}`);
    }
    if (this.config.type === 'dpmsolver++') {
      if (!state) throw new RangeError('dpmsolver++ is a multistep sampler: pass the run state from startRun()');
      return this.dpmSolverStep(modelOutput, t, sample, state);
    }
    const needNoise = this.usesNoise(t);
    if (needNoise && (noise === undefined || noise.length !== n)) {
      throw new RangeError(`step at t=${t} needs noise of length ${n}`);
    }
    return applyStepPlan(this.discretePlan(t), modelOutput, sample, null, noise, state?.batch ?? 1).sample;
  }

  /**
   * The plan of step k of a run (see `sampler-steps.ts`): what {@link step} computes at
   * `timesteps[k]`, for executors other than {@link step} (the chunk graph). O(1).
   * @throws RangeError unless 0 ≤ k < K.
   */
  stepPlan(k: number): StepPlan {
    const t = this.timesteps[k];
    if (t === undefined || !Number.isInteger(k))
      throw new RangeError(`step ${k} outside 0..${this.timesteps.length - 1}`);
    return this.config.type === 'dpmsolver++' ? this.dpmSolverPlan(k) : this.discretePlan(t);
  }

  /** What limits x0: DDPM's and DDIM's clip_sample, DPM-Solver++'s thresholding. */
  private get x0Limit(): X0Limit {
    const c = this.config;
    if (c.type === 'dpmsolver++') {
      return c.thresholding
        ? { kind: 'threshold', ratio: c.dynamic_thresholding_ratio, maxValue: c.sample_max_value }
        : { kind: 'none' };
    }
    return c.clip_sample ? { kind: 'clip', range: c.clip_sample_range } : { kind: 'none' };
  }

  /** DDPM or DDIM step from timestep `t` to `t − ⌊N/K⌋` (any t in 0..N−1). */
  private discretePlan(t: number): StepPlan {
    const isDdim = this.config.type === 'ddim';
    const prevT = t - this.stepRatio;
    const finalAbar = isDdim && !this.config.set_alpha_to_one ? this.alphasCumprod[0]! : 1;
    return discreteStepPlan({
      type: isDdim ? 'ddim' : 'ddpm',
      timestep: t,
      abarT: this.alphasCumprod[t]!,
      abarPrev: prevT >= 0 ? this.alphasCumprod[prevT]! : finalAbar,
      predictsSample: this.config.prediction_type === 'sample',
      limit: this.x0Limit,
      eta: isDdim ? this.config.eta : 0,
      ddpmNoise: !isDdim && t > 0,
    });
  }

  /**
   * DPM-Solver++ step k: first order at k = 0, with `solver_order` 1, or at the last step when
   * `final_sigmas_type` is zero, `euler_at_final`, or `lower_order_final` with K < 15; second order
   * otherwise (diffusers' `lower_order_nums` is min(k, order) in a run that starts at step 0).
   */
  private dpmSolverPlan(k: number): StepPlan {
    const c = this.config;
    const K = this.timesteps.length;
    const lowerOrderFinal =
      k === K - 1 && (c.euler_at_final || (c.lower_order_final && K < 15) || c.final_sigmas_type === 'zero');
    return dpmSolverStepPlan({
      timestep: this.timesteps[k]!,
      sigmaPrev: k > 0 ? this.sigmas[k - 1]! : NaN,
      sigmaS: this.sigmas[k]!,
      sigmaT: this.sigmas[k + 1]!,
      predictsSample: c.prediction_type === 'sample',
      limit: this.x0Limit,
      firstOrder: c.solver_order === 1 || k === 0 || lowerOrderFinal,
      solverType: c.solver_type,
    });
  }

  /**
   * One DPM-Solver++ step k ({@link dpmSolverPlan}), from σ̃_s = sigmas[k] to σ̃_t = sigmas[k+1].
   * Advances `state`.
   * @throws RangeError when `t` is not the run's next timestep (steps must run in order).
   */
  private dpmSolverStep(
    modelOutput: Float32Array,
    t: number,
    sample: Float32Array,
    state: SamplerRunState,
  ): Float32Array {
    const k = state.step;
    const K = this.timesteps.length;
    if (k >= K || this.timesteps[k] !== t) {
      throw new RangeError(
        `dpmsolver++ step ${k} expects timestep ${this.timesteps[k] ?? '(none: the run has ended)'}, got ${t}; run the K steps in order with a fresh startRun() per run`,
      );
    }
    const { sample: out, x0 } = applyStepPlan(
      this.dpmSolverPlan(k),
      modelOutput,
      sample,
      state.previousX0,
      undefined,
      state.batch,
    );
    state.previousX0 = x0;
    state.lowerOrderNums = Math.min(state.lowerOrderNums + 1, this.config.solver_order);
    state.step = k + 1;
    return out;
  }
}

/** Where per-step noise comes from: a seeded generator, or explicit arrays (`noise(k)` for step k). */
export type NoiseSource = Rng | ((step: number) => Float32Array);

/** Options of {@link runSampler}. */
export interface RunSamplerOptions<C> {
  readonly scheduler: NoiseScheduler;
  readonly denoise: DenoiseFn<C>;
  readonly cond: C;
  /** x_K: the initial noise, flattened [B, T, Da]; not modified. */
  readonly initialSample: Float32Array;
  /** Per-step noise; asked only for steps that use noise. Required if any step does. */
  readonly noise?: NoiseSource;
  /** Called after every step with k, the timestep and the new sample (e.g. to record a trajectory). */
  readonly onStep?: (k: number, timestep: number, sample: Float32Array) => void;
  /** Samples B in `initialSample` (default 1); needed where a step works per sample (thresholding). */
  readonly batch?: number;
}

/**
 * Run the full sampler loop: for k = 0 … K−1, x ← step(denoise(x, t_k, cond), t_k, x, noise_k).
 * Returns the final sample (the normalised action chunk). Deterministic given its inputs.
 * @throws RangeError when a step needs noise and none is given, or the denoiser returns a wrong length.
 */
export async function runSampler<C>(opts: RunSamplerOptions<C>): Promise<Float32Array> {
  const { scheduler, denoise, cond, noise, onStep } = opts;
  let x = opts.initialSample;
  const ts = scheduler.timesteps;
  const state = scheduler.startRun(opts.batch ?? 1);
  for (let k = 0; k < ts.length; k++) {
    const t = ts[k]!;
    const eps = await denoise(x, t, cond);
    let nz: Float32Array | undefined;
    if (scheduler.usesNoise(t)) {
      if (noise === undefined) throw new RangeError(`step ${k} (t=${t}) needs noise but no noise source was given`);
      nz = noise instanceof Rng ? noise.normalArray(x.length) : noise(k);
    }
    x = scheduler.step(eps, t, x, nz, state);
    onStep?.(k, t, x);
  }
  return x;
}
