import { performance } from 'node:perf_hooks';
import { BacError } from '../core/errors';
import { createEnv, OBS_DIM, OBS_KEYS, type Env } from '../sim';
import { openChunkRunner, type ChunkRunner, type ChunkUpdates } from './chunk-runner';
import { foldedStepModel } from './onnx/chunk-step';
import type { ModelProto } from './onnx/proto';
import type { ExecutionProviderChoice } from './ort';
import type { Policy } from './policy';
import { Rng } from '../core/rng';
import type { NoiseScheduler } from './samplers';

/**
 * Closed-loop evaluation in the demo simulator, as diffusion_policy runs a policy: keep the last
 * `n_obs_steps` observations (the first repeated at reset), normalise them, sample a chunk, and
 * execute `n_action_steps` actions from index `n_obs_steps − 1`; repeat until every episode ended.
 * All running episodes share one sampler run per chunk (the batch axis), which is what makes
 * hundreds of DDPM-100 episodes feasible on a CPU.
 */

/** Samples one normalised action chunk [B, T, Da] for a batch of normalised windows. */
export type ChunkSampler = (
  cond: Float32Array,
  batch: number,
  initialSample: Float32Array,
  noise: Rng,
) => Promise<Float32Array>;

/** Outcome counts of a closed-loop run. */
export interface ClosedLoopResult {
  readonly episodes: number;
  readonly success: number;
  readonly successRate: number;
  readonly collision: number;
  readonly timeout: number;
  /** Episodes that reached the first stage's target (waypoint A), successful or not. */
  readonly reachedWaypoint: number;
  /** Mean number of control steps of the successful episodes (0 when none). */
  readonly meanStepsSuccess: number;
  /** Chunks sampled (sampler runs, each over the still-running episodes). */
  readonly chunks: number;
  /** Wall time spent inside the chunk sampler, ms. */
  readonly samplerMs: number;
}

/**
 * Checks that the policy observes what the demo simulator observes (its keys and sizes), before any
 * long work that ends in a closed loop.
 * @throws BacError naming the policy's keys and the simulator's.
 */
export function assertDemoTaskPolicy(policy: Policy): void {
  const keys = policy.info.metadata.obsKeys;
  if (keys.join() !== OBS_KEYS.join() || policy.condDim !== OBS_DIM) {
    throw new BacError(
      `${policy.info.name}: bac.obs_keys ${keys.join(', ')} (${policy.condDim} values) are not the demo simulator's ${OBS_KEYS.join(', ')} (${OBS_DIM}); closed-loop evaluation needs a policy trained on the demo task`,
    );
  }
}

/**
 * Runs `episodes` seeded episodes (layout seed `seed + i`) with `sample` as the policy.
 * Deterministic given the seeds and a deterministic sampler.
 */
export async function closedLoop(
  policy: Policy,
  sample: ChunkSampler,
  options: {
    episodes: number;
    seed: number;
    noiseSeed: number;
    /** Called after every environment step, and once per episode before its first. */
    onStep?: (episode: number, env: Env) => void;
    /** Called after every chunk with the number of episodes finished. */
    onChunk?: (finished: number, total: number) => void;
  },
): Promise<ClosedLoopResult> {
  const md = policy.info.metadata;
  const To = policy.obsSteps;
  const T = policy.horizon;
  const Da = policy.actionDim;
  assertDemoTaskPolicy(policy);
  const { scale: os, offset: oo } = md.normalizer.obs;
  const { scale: as, offset: ao } = md.normalizer.action;
  const rng = new Rng(options.noiseSeed);
  const envs: Env[] = Array.from({ length: options.episodes }, (_, i) => createEnv(options.seed + i));
  envs.forEach((e, i) => options.onStep?.(i, e));
  const history = envs.map((e) => {
    const o = e.observe();
    return Array.from({ length: To }, () => o.slice());
  });
  let chunks = 0;
  let samplerMs = 0;
  for (;;) {
    const active = envs.flatMap((e, i) => (e.outcome === 'running' ? [i] : []));
    if (active.length === 0) break;
    const B = active.length;
    const cond = new Float32Array(B * To * OBS_DIM);
    active.forEach((ei, b) => {
      history[ei]!.forEach((o, s) => {
        for (let d = 0; d < OBS_DIM; d++) cond[(b * To + s) * OBS_DIM + d] = o[d]! * os[d]! + oo[d]!;
      });
    });
    const t0 = performance.now();
    const x = await sample(cond, B, rng.normalArray(B * T * Da), rng);
    samplerMs += performance.now() - t0;
    chunks++;
    active.forEach((ei, b) => {
      const env = envs[ei]!;
      for (let k = To - 1; k < To - 1 + md.nActionSteps && k < T && env.outcome === 'running'; k++) {
        const a: number[] = [];
        for (let d = 0; d < Da; d++) a.push((x[(b * T + k) * Da + d]! - ao[d]!) / as[d]!);
        const r = env.step(a);
        options.onStep?.(ei, env);
        history[ei]!.shift();
        history[ei]!.push(r.obs);
      }
    });
    options.onChunk?.(envs.length - envs.filter((e) => e.outcome === 'running').length, envs.length);
  }
  const count = (o: Env['outcome']) => envs.filter((e) => e.outcome === o).length;
  const successes = envs.filter((e) => e.outcome === 'success');
  return {
    episodes: envs.length,
    success: count('success'),
    successRate: count('success') / envs.length,
    collision: count('collision'),
    timeout: count('timeout'),
    reachedWaypoint: envs.filter((e) => e.stage >= 1).length,
    meanStepsSuccess: successes.reduce((s, e) => s + e.t, 0) / Math.max(1, successes.length),
    chunks,
    samplerMs,
  };
}

/** A {@link ChunkSampler} backed by chunk graphs, and how to release them. */
export interface ChunkGraphSampler {
  readonly sample: ChunkSampler;
  close(): Promise<void>;
}

/**
 * Samples closed-loop chunks with chunk graphs (one ORT call per chunk). A chunk graph has a fixed
 * batch, while the closed loop's batch shrinks as episodes end: a batch of B runs on the graph of
 * the next power of two ≥ B (built when first needed), padded with copies of the first window
 * whose results are dropped. The noise stream is the per-step runner's: B·T·Da normals from the
 * loop's generator per step that draws noise, so results match the per-call runners' up to
 * float32 sampler arithmetic.
 */
export function chunkGraphSampler(
  policy: Policy,
  scheduler: NoiseScheduler,
  updates: ChunkUpdates,
  options: { readonly ep?: ExecutionProviderChoice; readonly threads?: number } = {},
): ChunkGraphSampler {
  const runners = new Map<number, Promise<ChunkRunner>>();
  const runnerFor = (size: number): Promise<ChunkRunner> => {
    let r = runners.get(size);
    if (!r) {
      // each batch size needs its own folded step (the batch is fixed inside it)
      const step: Promise<ModelProto> = foldedStepModel(policy.bytes, size, policy.info.name);
      r = step.then((s) => openChunkRunner(policy, scheduler, updates, { ...options, batch: size, step: s }));
      runners.set(size, r);
    }
    return r;
  };
  const per = policy.horizon * policy.actionDim;
  const condPer = policy.obsSteps * policy.condDim;
  return {
    async sample(cond, batch, initialSample, noise) {
      const size = 2 ** Math.ceil(Math.log2(batch));
      const runner = await runnerFor(size);
      const padded = new Float32Array(size * condPer);
      padded.set(cond);
      for (let b = batch; b < size; b++) padded.set(cond.subarray(0, condPer), b * condPer);
      const x = new Float32Array(size * per);
      x.set(initialSample);
      const out = await runner.runChunk({
        cond: padded,
        initialSample: x,
        noise: () => {
          const z = new Float32Array(size * per);
          z.set(noise.normalArray(batch * per));
          return z;
        },
      });
      return out.subarray(0, batch * per);
    },
    async close() {
      for (const r of runners.values()) await (await r).close();
    },
  };
}
