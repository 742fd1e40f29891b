import { basename } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { BacError } from '../core/errors';
import { readInput } from './fsutil';
import { inspectModel, type ModelInfo } from './onnx/inspect';
import { loadOrt } from './ort';
import type { Schedule } from '../core/types';
import { NoiseScheduler, SAMPLER_TYPES, type SamplerConfig } from './samplers';

/**
 * A BAC-ready policy file as the engine uses it: its bytes, its checked description, its
 * dimensions, and helpers that build ORT feeds for one denoiser call.
 */
export interface Policy {
  /** Path as given. */
  readonly path: string;
  /** File bytes (the plain model). */
  readonly bytes: Uint8Array;
  /** Contract-checked description (blocks, metadata, FLOPs, sha256). */
  readonly info: ModelInfo;
  /** T: action steps per chunk (`sample` dim 1). */
  readonly horizon: number;
  /** Da: action dimension (`sample` dim 2). */
  readonly actionDim: number;
  /** To: observation steps (`cond` dim 1). */
  readonly obsSteps: number;
  /** Do: observation width per step (`cond` dim 2). */
  readonly condDim: number;
}

function fixedDim(info: ModelInfo, input: string, axis: number, fallback: number | undefined, what: string): number {
  const shape = info.inputs.find((i) => i.name === input)?.shape;
  const d = shape?.[axis];
  if (typeof d === 'number' && d > 0) return d;
  if (fallback !== undefined) return fallback;
  throw new BacError(
    `${info.name}: input "${input}" does not declare its ${what} (axis ${axis}); re-export with static dims`,
  );
}

/**
 * Reads and checks a policy file.
 * @throws BacError when the file cannot be read for a reason the user can fix (missing, not
 *   permitted…) or breaks the model contract.
 */
export async function loadPolicy(path: string): Promise<Policy> {
  const bytes = await readInput(path, 'a BAC-ready ONNX policy');
  const info = inspectModel(bytes, { name: basename(path) });
  const md = info.metadata;
  return {
    path,
    bytes,
    info,
    horizon: fixedDim(info, 'sample', 1, md.horizon, 'horizon T'),
    actionDim: fixedDim(info, 'sample', 2, md.normalizer.action.scale.length || undefined, 'action dimension'),
    obsSteps: fixedDim(info, 'cond', 1, md.nObsSteps, 'observation steps'),
    condDim: fixedDim(info, 'cond', 2, md.normalizer.obs.scale.length || undefined, 'observation width'),
  };
}

/**
 * The model's sampler (`bac.sampler`), optionally with another number of inference steps K and
 * another sampler type on the same training schedule (e.g. `dpmsolver++` for a DDPM-trained policy).
 * @throws BacError for a sampler the engine does not implement, blaming the model's metadata.
 */
export function policyScheduler(policy: Policy, numInferenceSteps?: number, type?: string): NoiseScheduler {
  return schedulerOn(policy, numInferenceSteps, type, `${policy.info.name}: metadata bac.sampler`);
}

/**
 * The scheduler a schedule runs on `policy`: the policy's training noise schedule under the
 * schedule's sampler type and K. A schedule may name any sampler and K (the format is diffusers'
 * naming), so whether this engine runs them on this policy is checked here, naming the schedule
 * rather than the model's metadata.
 * @throws BacError naming `scheduleName` for a sampler type the engine does not implement or a K the
 *   policy's training schedule cannot give.
 */
export function scheduleScheduler(
  policy: Policy,
  schedule: Pick<Schedule, 'sampler'>,
  scheduleName = 'the schedule',
): NoiseScheduler {
  checkSamplerType(schedule, scheduleName);
  const { type, steps } = schedule.sampler;
  return schedulerOn(policy, steps, type, `${scheduleName}: ${type} at K = ${steps} on ${policy.info.name}`);
}

/** `bac.sampler` with K and type overridden; failures become BacErrors prefixed with `blame`. */
function schedulerOn(policy: Policy, K: number | undefined, type: string | undefined, blame: string): NoiseScheduler {
  const config = samplerConfigFor(policy.info.metadata.sampler.raw as unknown as SamplerConfig, K, type);
  try {
    return new NoiseScheduler(config);
  } catch (e) {
    throw new BacError(`${blame}: ${(e as Error).message}`);
  }
}

/**
 * Checks that this engine implements a schedule's sampler type, before any work is done. O(1).
 * @throws BacError naming `scheduleName`, the type and the supported ones.
 */
export function checkSamplerType(schedule: Pick<Schedule, 'sampler'>, scheduleName: string): void {
  const { type } = schedule.sampler;
  if (!(SAMPLER_TYPES as readonly string[]).includes(type)) {
    throw new BacError(
      `${scheduleName}: sampler.type "${type}" is not one BAC Studio runs (${SAMPLER_TYPES.join(', ')}); solve the schedule for one of them`,
    );
  }
}

/**
 * The three contract inputs of one denoiser call for a batch of B (a single call; loops over a
 * chunk's K calls use {@link chunkFeeds} directly, which allocates once).
 */
export function denoiserFeeds(
  ort: typeof Ort,
  policy: Policy,
  sample: Float32Array,
  timestep: number,
  cond: Float32Array,
  B: number,
): Record<string, Ort.Tensor> {
  const step = chunkFeeds(ort, policy, cond, B);
  step.setStep(sample, timestep);
  return step.feeds;
}

/**
 * T and d of the block outputs [B, T, d] (T defaults to the horizon when the model leaves it
 * symbolic). What the profiler, the runners and the bench size their buffers by.
 * @throws BacError when the model does not declare d.
 */
export function blockDims(policy: Policy): { readonly T: number; readonly d: number } {
  const [, T, d] = policy.info.blockShape;
  if (typeof d !== 'number') throw new BacError(`${policy.info.name}: block outputs do not declare their width d`);
  return { T: typeof T === 'number' ? T : policy.horizon, d };
}

/** The contract inputs of one chunk's denoiser calls, allocated once (see {@link chunkFeeds}). */
export interface ChunkFeeds {
  /** `sample`, `timestep` and `cond`; pass to `session.run` (add other inputs to it freely). */
  readonly feeds: Record<string, Ort.Tensor>;
  /** Copies step k's sample [B, T, Da] and timestep into the feeds. O(B·T·Da). */
  setStep(sample: Float32Array, timestep: number): void;
}

/**
 * Feeds for the K denoiser calls of one chunk: tensors created once, with the sample and timestep
 * copied in per step (the observation window is fixed for the chunk). Building three ORT tensors
 * per call is a fixed cost that is not small against a mostly cached call (docs/benchmarks.md).
 * The tensors' buffers are owned here, so callers may reuse their arrays.
 */
export function chunkFeeds(ort: typeof Ort, policy: Policy, cond: Float32Array, B: number): ChunkFeeds {
  const sample = new Float32Array(B * policy.horizon * policy.actionDim);
  const int64 = policy.info.timestepDtype === 'int64';
  const t64 = new BigInt64Array(int64 ? B : 0);
  const t32 = new Float32Array(int64 ? 0 : B);
  const feeds: Record<string, Ort.Tensor> = {
    sample: new ort.Tensor('float32', sample, [B, policy.horizon, policy.actionDim]),
    timestep: int64 ? new ort.Tensor('int64', t64, [B]) : new ort.Tensor('float32', t32, [B]),
    cond: new ort.Tensor('float32', cond.slice(), [B, policy.obsSteps, policy.condDim]),
  };
  return {
    feeds,
    setStep(x: Float32Array, timestep: number): void {
      sample.set(x);
      if (int64) t64.fill(BigInt(timestep));
      else t32.fill(timestep);
    },
  };
}

/**
 * A zeroed prediction tensor [B, T, Da] to pass as a pre-allocated output: ORT writes each call's
 * prediction into it instead of allocating and copying a fresh buffer per call.
 */
export function predictionTensor(ort: typeof Ort, policy: Policy, B: number): Ort.Tensor {
  return new ort.Tensor('float32', new Float32Array(B * policy.horizon * policy.actionDim), [
    B,
    policy.horizon,
    policy.actionDim,
  ]);
}

/**
 * The sampler configuration a policy whose metadata says `raw` runs with another K and/or sampler
 * type (see {@link samplerDefaultsFor}); `raw` itself when neither changes. What profiling, `bac
 * eval` and `bac compile` (its `bac.sampler`) all use, so a schedule runs with the sampler it was
 * profiled with.
 */
export function samplerConfigFor(raw: SamplerConfig, numInferenceSteps?: number, type?: string): SamplerConfig {
  return {
    ...raw,
    ...(numInferenceSteps ? { num_inference_steps: numInferenceSteps } : {}),
    ...(type && type !== raw.type ? samplerDefaultsFor(type, raw) : {}),
  };
}

/**
 * What changes when a policy is sampled with another sampler than the one in its metadata: the
 * type, the spacing (diffusers' default for DPM-Solver++ is `linspace`; DDPM and DDIM use
 * `leading`), and the policy's x0 clipping: DPM-Solver++ has no `clip_sample`, so a policy trained
 * with it gets dynamic thresholding with `sample_max_value` = its clip range, which clips x0 the
 * same way (without it, ε-prediction on the cosine schedule divides by α ≈ 5e-4 at the first step
 * and the sample leaves the trained range).
 */
function samplerDefaultsFor(type: string, raw: SamplerConfig): Partial<SamplerConfig> & { type: string } {
  if (type !== 'dpmsolver++') return { type, timestep_spacing: 'leading' };
  return {
    type,
    timestep_spacing: 'linspace',
    ...(raw.clip_sample ? { thresholding: true, sample_max_value: raw.clip_sample_range ?? 1 } : {}),
  };
}

export { loadOrt };
