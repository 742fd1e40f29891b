/**
 * DDPM and DDIM samplers with HuggingFace diffusers semantics (epsilon prediction), denoiser-agnostic.
 *
 * Mirrors `python/bac_models/schedulers.py` (and diffusers): betas made the way diffusers makes them
 * and rounded to float32 as diffusers stores them; `alphas_cumprod` their cumulative product;
 * "leading" timestep spacing `timesteps = (arange(K) * (N div K)).reverse() + steps_offset`; one
 * step per timestep with the previous timestep `t - N div K`. Arithmetic is float64 and results are
 * stored as float32 (PyTorch works in float32; the difference is ~1e-7 relative).
 *
 * The denoiser is a callback, so the same code drives ONNX Runtime, the cached runner, or a mock.
 * Per-step noise can be passed explicitly so a trajectory can be replayed from stored noise.
 *
 * Pure math: no vscode, no ORT imports.
 */

import { Rng } from './rng';

/** Beta schedules supported (diffusers names). */
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

/** Sampler types supported. */
export type SamplerType = 'ddpm' | 'ddim';

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
  /** Only `epsilon` is supported. */
  readonly prediction_type: string;
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

/**
 * A noise scheduler for one sampler configuration. Immutable after construction; `step` is a pure
 * function of its arguments (it allocates the result).
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
  /** ⌊N/K⌋: distance from a timestep to the previous one. */
  readonly stepRatio: number;

  /**
   * @throws RangeError for an unsupported type, schedule or prediction type, or K outside 1..N.
   */
  constructor(config: SamplerConfig) {
    if (config.type !== 'ddpm' && config.type !== 'ddim') {
      throw new RangeError(`sampler type '${config.type}' is not supported (ddpm, ddim)`);
    }
    if (config.prediction_type !== 'epsilon') {
      throw new RangeError(`prediction_type '${config.prediction_type}' is not supported (epsilon)`);
    }
    this.config = {
      clip_sample_range: 1,
      steps_offset: 0,
      eta: 0,
      set_alpha_to_one: true,
      ...config,
    };
    this.betas = makeBetas(config.num_train_timesteps, config.beta_start, config.beta_end, config.beta_schedule);
    this.alphasCumprod = alphasCumprod(this.betas);
    this.timesteps = inferenceTimesteps(
      config.num_train_timesteps,
      config.num_inference_steps,
      this.config.steps_offset,
    );
    this.stepRatio = Math.floor(config.num_train_timesteps / config.num_inference_steps);
  }

  /** K. */
  get numInferenceSteps(): number {
    return this.timesteps.length;
  }

  /** Whether `step(…, t, …)` consumes noise (DDPM at t > 0; DDIM when eta > 0). */
  usesNoise(t: number): boolean {
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
   * @param noise standard normal noise of the sample's length; required exactly when `usesNoise(t)`.
   * @throws RangeError on length mismatch, missing noise or a timestep outside 0..N−1.
   */
  step(modelOutput: Float32Array, t: number, sample: Float32Array, noise?: Float32Array): Float32Array {
    const n = sample.length;
    if (modelOutput.length !== n) {
      throw new RangeError(`model output has ${modelOutput.length} values, sample has ${n}`);
    }
    const abarT = this.alphasCumprod[t];
    if (abarT === undefined || !Number.isInteger(t)) {
      throw new RangeError(`timestep ${t} outside 0..${this.alphasCumprod.length - 1}`);
    }
    const prevT = t - this.stepRatio;
    const isDdim = this.config.type === 'ddim';
    const finalAbar = isDdim && !this.config.set_alpha_to_one ? this.alphasCumprod[0]! : 1;
    const abarPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : finalAbar;
    const betaProdT = 1 - abarT;
    const sqrtBetaProdT = Math.sqrt(betaProdT);
    const sqrtAbarT = Math.sqrt(abarT);
    const clip = this.config.clip_sample;
    const r = this.config.clip_sample_range;

    const needNoise = this.usesNoise(t);
    if (needNoise && (noise === undefined || noise.length !== n)) {
      throw new RangeError(`step at t=${t} needs noise of length ${n}`);
    }

    const out = new Float32Array(n);
    if (!isDdim) {
      const curAlpha = abarT / abarPrev;
      const curBeta = 1 - curAlpha;
      const x0Coeff = (Math.sqrt(abarPrev) * curBeta) / betaProdT;
      const xtCoeff = (Math.sqrt(curAlpha) * (1 - abarPrev)) / betaProdT;
      const std = needNoise ? Math.sqrt(Math.max(((1 - abarPrev) / betaProdT) * curBeta, 1e-20)) : 0;
      for (let i = 0; i < n; i++) {
        const x = sample[i]!;
        let x0 = (x - sqrtBetaProdT * modelOutput[i]!) / sqrtAbarT;
        if (clip) x0 = Math.min(r, Math.max(-r, x0));
        let v = x0Coeff * x0 + xtCoeff * x;
        if (needNoise) v += std * noise![i]!;
        out[i] = v;
      }
    } else {
      const variance = ((1 - abarPrev) / betaProdT) * (1 - abarT / abarPrev);
      const std = this.config.eta * Math.sqrt(variance);
      const dirCoeff = Math.sqrt(Math.max(1 - abarPrev - std * std, 0));
      const sqrtAbarPrev = Math.sqrt(abarPrev);
      for (let i = 0; i < n; i++) {
        const eps = modelOutput[i]!;
        let x0 = (sample[i]! - sqrtBetaProdT * eps) / sqrtAbarT;
        if (clip) x0 = Math.min(r, Math.max(-r, x0));
        let v = sqrtAbarPrev * x0 + dirCoeff * eps;
        if (needNoise) v += std * noise![i]!;
        out[i] = v;
      }
    }
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
  for (let k = 0; k < ts.length; k++) {
    const t = ts[k]!;
    const eps = await denoise(x, t, cond);
    let nz: Float32Array | undefined;
    if (scheduler.usesNoise(t)) {
      if (noise === undefined) throw new RangeError(`step ${k} (t=${t}) needs noise but no noise source was given`);
      nz = noise instanceof Rng ? noise.normalArray(x.length) : noise(k);
    }
    x = scheduler.step(eps, t, x, nz);
    onStep?.(k, t, x);
  }
  return x;
}
