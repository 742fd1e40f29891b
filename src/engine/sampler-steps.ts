/**
 * The one definition of every sampler step: DDPM, DDIM and DPM-Solver++ each reduce one step to a
 * {@link StepPlan} — constant coefficients of an affine update plus a limit on the data
 * prediction — and two executors follow a plan: {@link applyStepPlan} (TypeScript, float64, what
 * `NoiseScheduler.step` runs) and the chunk-graph builder (`onnx/chunk-sampler.ts`, float32 ONNX
 * nodes). Neither executor knows which sampler it runs.
 *
 * A step reads the current sample x, the denoiser output p (ε or x0 by `prediction_type`), the
 * previous step's limited data prediction x̂0_{k−1} (DPM-Solver++'s second order) and standard
 * normal noise z:
 *
 *   x0   = a·x + b·p                                   (data prediction)
 *   x̂0   = limit(x0)                                   (none, clip to ±r, or dynamic thresholding)
 *   x'   = cx·x + c0·x̂0 + cp·p + cq·x̂0_{k−1} + cz·z
 *
 * Pure math: no Node, no ORT.
 */

/** What happens to the data prediction before the update. */
export type X0Limit =
  | { readonly kind: 'none' }
  /** x0 ← clamp(x0, −range, range) (DDPM's and DDIM's `clip_sample`). */
  | { readonly kind: 'clip'; readonly range: number }
  /** diffusers' `_threshold_sample`, per batch element (see `thresholdSample`). */
  | { readonly kind: 'threshold'; readonly ratio: number; readonly maxValue: number };

/** One sampler step as constant coefficients (see the file comment for the formula). */
export interface StepPlan {
  /** The denoiser's timestep at this step. */
  readonly timestep: number;
  /** a, b of x0 = a·x + b·p. */
  readonly x0FromSample: number;
  readonly x0FromPrediction: number;
  readonly limit: X0Limit;
  /** cx, c0, cp, cq, cz of the update; a zero coefficient means the term is absent. */
  readonly next: {
    readonly sample: number;
    readonly x0: number;
    readonly prediction: number;
    readonly previousX0: number;
    readonly noise: number;
  };
}

/** The ᾱ values a DDPM or DDIM step from `t` reads. */
export interface DiscreteStepInputs {
  readonly type: 'ddpm' | 'ddim';
  readonly timestep: number;
  /** ᾱ_t. */
  readonly abarT: number;
  /** ᾱ of the previous timestep (or the final ᾱ after the last step). */
  readonly abarPrev: number;
  readonly predictsSample: boolean;
  readonly limit: X0Limit;
  /** DDIM's η (0 for DDPM). */
  readonly eta: number;
  /** Whether DDPM adds noise (t > 0). */
  readonly ddpmNoise: boolean;
}

/**
 * A DDPM (fixed_small) or DDIM step:
 * DDPM: x' = √ᾱ_prev·β'_t/(1−ᾱ_t)·x̂0 + √α'_t·(1−ᾱ_prev)/(1−ᾱ_t)·x + √max((1−ᾱ_prev)/(1−ᾱ_t)·β'_t, 1e-20)·z
 * (z only when t > 0), α'_t = ᾱ_t/ᾱ_prev, β'_t = 1 − α'_t.
 * DDIM: x' = √ᾱ_prev·x̂0 + √(1−ᾱ_prev−σ²)·ε + σ·z, σ = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1−ᾱ_t/ᾱ_prev)),
 * ε the unclipped noise prediction (from x and x0 when the model predicts x0).
 */
export function discreteStepPlan(s: DiscreteStepInputs): StepPlan {
  const betaProdT = 1 - s.abarT;
  const sqrtBetaProdT = Math.sqrt(betaProdT);
  const sqrtAbarT = Math.sqrt(s.abarT);
  // x0 = (x − √(1−ᾱ_t)·ε)/√ᾱ_t, or the prediction itself
  const x0FromSample = s.predictsSample ? 0 : 1 / sqrtAbarT;
  const x0FromPrediction = s.predictsSample ? 1 : -sqrtBetaProdT / sqrtAbarT;
  const common = { timestep: s.timestep, x0FromSample, x0FromPrediction, limit: s.limit };
  if (s.type === 'ddpm') {
    const curAlpha = s.abarT / s.abarPrev;
    const curBeta = 1 - curAlpha;
    return {
      ...common,
      next: {
        sample: (Math.sqrt(curAlpha) * (1 - s.abarPrev)) / betaProdT,
        x0: (Math.sqrt(s.abarPrev) * curBeta) / betaProdT,
        prediction: 0,
        previousX0: 0,
        noise: s.ddpmNoise ? Math.sqrt(Math.max(((1 - s.abarPrev) / betaProdT) * curBeta, 1e-20)) : 0,
      },
    };
  }
  const variance = ((1 - s.abarPrev) / betaProdT) * (1 - s.abarT / s.abarPrev);
  const std = s.eta * Math.sqrt(variance);
  const dir = Math.sqrt(Math.max(1 - s.abarPrev - std * std, 0));
  // ε = p, or (x − √ᾱ_t·p)/√(1−ᾱ_t) from the unclipped x0 = p
  return {
    ...common,
    next: {
      sample: s.predictsSample ? dir / sqrtBetaProdT : 0,
      x0: Math.sqrt(s.abarPrev),
      prediction: s.predictsSample ? (-dir * sqrtAbarT) / sqrtBetaProdT : dir,
      previousX0: 0,
      noise: std,
    },
  };
}

/** α and σ of the VP process for σ̃ = √((1−ᾱ)/ᾱ): α = 1/√(σ̃²+1), σ = σ̃·α (diffusers' `_sigma_to_alpha_sigma_t`). */
function alphaSigma(sigmaTilde: number): [number, number] {
  const alpha = 1 / Math.sqrt(sigmaTilde * sigmaTilde + 1);
  return [alpha, sigmaTilde * alpha];
}

/** What a DPM-Solver++ step k reads. */
export interface DpmSolverStepInputs {
  readonly timestep: number;
  /** σ̃ at step k−1 (NaN at k = 0), k and k+1. */
  readonly sigmaPrev: number;
  readonly sigmaS: number;
  readonly sigmaT: number;
  readonly predictsSample: boolean;
  readonly limit: X0Limit;
  readonly firstOrder: boolean;
  readonly solverType: 'midpoint' | 'heun' | string;
}

/**
 * A DPM-Solver++ step (diffusers' `DPMSolverMultistepScheduler`, `dpmsolver++`) from σ̃_s to σ̃_t,
 * λ = log α − log σ, h = λ_t − λ_s: data prediction m = (x − σ_s·ε)/α_s (or p); first order
 * x' = (σ_t/σ_s)·x − α_t(e^{−h} − 1)·m; second order with r = (λ_s − λ_{k−1})/h and D1 = (m − m_{k−1})/r:
 * midpoint adds −½α_t(e^{−h} − 1)·D1, heun α_t((e^{−h} − 1)/h + 1)·D1. With σ̃_t = 0 (the final zero
 * sigma) α_t = 1, h = ∞ and x' = m.
 */
export function dpmSolverStepPlan(s: DpmSolverStepInputs): StepPlan {
  const [alphaS, sigmaS] = alphaSigma(s.sigmaS);
  const [alphaT, sigmaT] = alphaSigma(s.sigmaT);
  const lambdaS = Math.log(alphaS) - Math.log(sigmaS);
  const h = Math.log(alphaT) - Math.log(sigmaT) - lambdaS;
  const expm1 = Math.exp(-h) - 1; // as diffusers computes it (not Math.expm1), for the same rounding
  let x0 = -alphaT * expm1;
  let previousX0 = 0;
  if (!s.firstOrder) {
    const [alphaS1, sigmaS1] = alphaSigma(s.sigmaPrev);
    const r0 = (lambdaS - (Math.log(alphaS1) - Math.log(sigmaS1))) / h;
    const d1 = (s.solverType === 'midpoint' ? -0.5 * alphaT * expm1 : alphaT * (expm1 / h + 1)) / r0;
    x0 += d1;
    previousX0 = -d1;
  }
  return {
    timestep: s.timestep,
    x0FromSample: s.predictsSample ? 0 : 1 / alphaS,
    x0FromPrediction: s.predictsSample ? 1 : -sigmaS / alphaS,
    limit: s.limit,
    next: { sample: sigmaT / sigmaS, x0, prediction: 0, previousX0, noise: 0 },
  };
}

/**
 * Dynamic thresholding in place (diffusers' `_threshold_sample`), per batch element of `x.length /
 * batch` values: s = clamp(quantile(|x|, ratio), 1, maxValue) with torch's linear interpolation,
 * then x ← clamp(x, −s, s)/s. O(n log n).
 * @throws RangeError when the batch does not divide the array.
 */
export function thresholdSample(x: Float64Array, batch: number, ratio: number, maxValue: number): void {
  const per = x.length / batch;
  if (!Number.isInteger(per)) throw new RangeError(`${x.length} values do not split into a batch of ${batch}`);
  const { lo, frac } = quantilePosition(per, ratio);
  for (let b = 0; b < batch; b++) {
    const row = x.subarray(b * per, (b + 1) * per);
    const sorted = Float64Array.from(row, Math.abs).sort();
    const q = sorted[lo]! + frac * ((sorted[Math.min(lo + 1, per - 1)] ?? sorted[lo]!) - sorted[lo]!);
    const s = Math.min(Math.max(q, 1), maxValue);
    for (let i = 0; i < per; i++) row[i] = Math.min(s, Math.max(-s, row[i]!)) / s;
  }
}

/** torch's linear quantile of n sorted values at `ratio`: element lo, plus frac of the gap to lo+1. */
export function quantilePosition(n: number, ratio: number): { lo: number; frac: number } {
  const pos = ratio * (n - 1);
  const lo = Math.floor(pos);
  return { lo, frac: pos - lo };
}

/**
 * Runs one plan in float64 and stores the new sample as float32. Returns it with the limited data
 * prediction (the next step's x̂0_{k−1}).
 * @param previousX0 the previous step's limited data prediction; required when `plan.next.previousX0` ≠ 0.
 * @param noise required when `plan.next.noise` ≠ 0.
 * @param batch samples in the arrays (thresholding works per sample).
 */
export function applyStepPlan(
  plan: StepPlan,
  prediction: Float32Array,
  sample: Float32Array,
  previousX0: Float64Array | null,
  noise: Float32Array | undefined,
  batch: number,
): { sample: Float32Array; x0: Float64Array } {
  const n = sample.length;
  const { x0FromSample: a, x0FromPrediction: b, limit, next: c } = plan;
  const x0 = new Float64Array(n);
  for (let i = 0; i < n; i++) x0[i] = a * sample[i]! + b * prediction[i]!;
  if (limit.kind === 'clip') for (let i = 0; i < n; i++) x0[i] = Math.min(limit.range, Math.max(-limit.range, x0[i]!));
  if (limit.kind === 'threshold') thresholdSample(x0, batch, limit.ratio, limit.maxValue);
  if (c.previousX0 !== 0 && (previousX0 === null || previousX0.length !== n)) {
    throw new RangeError('this step is second order: it needs the previous step’s data prediction');
  }
  if (c.noise !== 0 && (noise === undefined || noise.length !== n)) {
    throw new RangeError(`step at t=${plan.timestep} needs noise of length ${n}`);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = c.sample * sample[i]! + c.x0 * x0[i]!;
    if (c.prediction !== 0) v += c.prediction * prediction[i]!;
    if (c.previousX0 !== 0) v += c.previousX0 * previousX0![i]!;
    if (c.noise !== 0) v += c.noise * noise![i]!;
    out[i] = v;
  }
  return { sample: out, x0 };
}
