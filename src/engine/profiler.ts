import { performance } from 'node:perf_hooks';
import type * as Ort from 'onnxruntime-node';
import { BacError } from '../core/errors';
import { BlockStatsAccumulator } from '../core/stats';
import type { BlockProfile, Cost, Profile } from '../core/types';
import { BatchStatsComputer } from './block-stats';
import { measureChunkStepCost } from './chunk-step-cost';
import { applyNormalizer, openEpisodes, sampleWindows, type WindowSample } from './episodes';
import { buildGatedModel } from './onnx/gate';
import { CACHE_INPUT, CACHE_OUTPUT, UPDATE_INPUT } from './onnx/io-names';
import { openSession, type ExecutionProvider, type OpenedSession } from './ort';
import {
  blockDims,
  chunkFeeds,
  denoiserFeeds,
  loadOrt,
  loadPolicy,
  policyScheduler,
  predictionTensor,
  type Policy,
} from './policy';
import { DEFAULT_L1_ELEMENTS, type ProfileProgress, type ProfileRequest } from './profile-protocol';
import { Rng } from '../core/rng';
import { storedPathFor } from './paths';
import { runSampler } from './samplers';

/**
 * Profiling (docs/method.md "Profiling"): for N observation windows, run the full sampler with every
 * block updating and reduce each block's K outputs to a cosine matrix and a mean pairwise L1, then
 * aggregate over samples. Statistics stream: one batch of block outputs is alive at a time (plus
 * the one whose L1 is still on the worker), so memory is O(B · blocks · K · D), independent of N.
 */

/** Most samples per ORT call by default: batching amortises per-call overhead on CPU. */
export const DEFAULT_PROFILE_BATCH = 8;

/**
 * Bytes one batch buffer (every block output of B samples over K steps) may take by default. Up to
 * three are alive at once (one sampling, one on the statistics worker, one handed back), so this
 * bounds profiling memory for wide models: the demo policy (24 blocks × K = 100 × 1 280) fits 8
 * samples in 98 MB, an n_emb 256 DP-T only 5.
 */
export const PROFILE_BATCH_BUFFER_BYTES = 128 * 2 ** 20;

/**
 * Samples per ORT call: `requested` when given, else as many as {@link PROFILE_BATCH_BUFFER_BYTES}
 * holds, at most {@link DEFAULT_PROFILE_BATCH}; never more than `samples`, never fewer than 1.
 */
export function profileBatchSize(blocks: number, K: number, D: number, samples: number, requested?: number): number {
  const byMemory = Math.floor(PROFILE_BATCH_BUFFER_BYTES / (blocks * K * D * 4));
  const b = requested ?? Math.min(DEFAULT_PROFILE_BATCH, byMemory);
  return Math.max(1, Math.min(b, samples));
}

/** Observer of a running profile. */
export interface ProfileHooks {
  readonly progress?: (p: ProfileProgress) => void;
  readonly log?: (line: string) => void;
}

/** A finished profile and where it ran. */
export interface ProfileRun {
  readonly profile: Profile;
  readonly provider: ExecutionProvider;
  readonly notes: string[];
}

/** Reads `count` windows of the model's observation keys and normalises them. */
export async function loadWindows(
  policy: Policy,
  episodesPath: string,
  count: number,
  seed: number,
): Promise<WindowSample[]> {
  const md = policy.info.metadata;
  const source = await openEpisodes(episodesPath);
  try {
    const windows = await sampleWindows(source, {
      keys: md.obsKeys,
      nObsSteps: policy.obsSteps,
      count,
      seed,
      expectedDim: policy.condDim,
    });
    for (const w of windows) applyNormalizer(w.obs, md.normalizer.obs);
    return windows;
  } finally {
    await source.close();
  }
}

/** Salt of the element-subset stream (any constant; changing it changes every estimated ℓ). */
const L1_SUBSET_SALT = 0x1e1e_5eed;

/**
 * Returns a function that draws, for each of G rows, m distinct element indices out of D (a
 * partial Fisher–Yates shuffle of a persistent permutation), sorted ascending for cache locality;
 * or null for every row when m = D (exact). Deterministic given the generator. O(G·m log m).
 */
export function elementSubsetPicker(D: number, m: number, rng: Rng): (G: number) => Uint32Array | null {
  if (m >= D) return () => null;
  const perm = Uint32Array.from({ length: D }, (_, i) => i);
  return (G) => {
    const out = new Uint32Array(G * m);
    for (let g = 0; g < G; g++) {
      for (let j = 0; j < m; j++) {
        const r = j + Math.floor(rng.uniform() * (D - j));
        const v = perm[r]!;
        perm[r] = perm[j]!;
        perm[j] = v;
      }
      out.set(perm.subarray(0, m), g * m);
      out.subarray(g * m, (g + 1) * m).sort();
    }
    return out;
  };
}

/** Median of a small sample. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Measures the per-call time of every block and of the rest (c_0) on a batch-1 gated graph:
 * c_0 = time with every gate off (embeddings, condition encoder, head and the gating overhead);
 * c_b = time with only b on − time with all off, rescaled so Σ c_b equals (all on − all off), which
 * cancels most of the per-configuration timing noise. Blocks of one kind with the same FLOPs run
 * the same operators on the same shapes, so they share one estimate: the median of all their
 * (block on − all off) differences, each taken within one round. A block measured alone is
 * ~1/10 of a call, so on a busy machine its own median can read 0 (or several times its cost);
 * pooled over the layers, one block's slow spell no longer decides its time. O(blocks · runs) calls.
 * @throws BacError when the model does not declare the block width d.
 */
export async function measureBlockTimes(
  policy: Policy,
  opened: OpenedSession,
  runs = 15,
): Promise<{ base: number; blocks: number[] }> {
  const ort = loadOrt();
  const n = policy.info.blocks.length;
  const { T, d } = blockDims(policy);
  const rng = new Rng(1);
  const sample = rng.normalArray(policy.horizon * policy.actionDim);
  const cond = rng.normalArray(policy.obsSteps * policy.condDim);
  const cacheDims = [n, 1, T, d];
  const cache = new ort.Tensor('float32', new Float32Array(n * T * d), cacheDims);
  // Called as the cached runner calls it: both outputs into pre-allocated buffers.
  const fetches = {
    [policy.info.prediction]: predictionTensor(ort, policy, 1),
    [CACHE_OUTPUT]: new ort.Tensor('float32', new Float32Array(n * T * d), cacheDims),
  };
  // Configurations: all off, all on, then each block alone. They are timed round-robin, one call
  // each per round, and each gets the median of its rounds: timed in bursts, one configuration at
  // a time, a slow spell of a shared machine (tens of ms) could cover a whole burst and inflate
  // one block while the next reads zero.
  const configs: Uint8Array[] = [new Uint8Array(n), new Uint8Array(n).fill(1)];
  for (let i = 0; i < n; i++) {
    const g = new Uint8Array(n);
    g[i] = 1;
    configs.push(g);
  }
  const feeds = denoiserFeeds(ort, policy, sample, 10, cond, 1);
  feeds[CACHE_INPUT] = cache;
  const gateTensors = configs.map((g) => new ort.Tensor('bool', g, [n]));
  const samples = configs.map(() => [] as number[]);
  // The first rounds are not timed: they warm caches, allocators and each If branch's first run.
  for (let r = 0; r < runs + 2; r++) {
    for (let c = 0; c < configs.length; c++) {
      feeds[UPDATE_INPUT] = gateTensors[c]!;
      const t0 = performance.now();
      await opened.session.run(feeds, fetches);
      if (r >= 2) samples[c]!.push(performance.now() - t0);
    }
  }
  const [offRuns, onRuns, ...singleRuns] = samples;
  const minusOff = (xs: readonly number[]) => xs.map((t, r) => (t - offRuns![r]!) * 1000);
  const groups = new Map<string, number[]>();
  policy.info.blocks.forEach((b, i) => {
    const key = `${b.kind}:${b.cost.flops}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const raw = new Array<number>(n).fill(0);
  for (const members of groups.values()) {
    const t = Math.max(0, median(members.flatMap((i) => minusOff(singleRuns[i]!))));
    for (const i of members) raw[i] = t;
  }
  const total = raw.reduce((a, b) => a + b, 0);
  const scale = total > 0 ? Math.max(0, median(minusOff(onRuns!))) / total : 0;
  return { base: median(offRuns!) * 1000, blocks: raw.map((t) => t * scale) };
}

/**
 * Profiles a model on episodes. Deterministic for a given request (windows, noise and batch
 * composition all follow the seed), except for the measured times. Every ONNX Runtime session it
 * opens is released on every path, a throwing hook or a failing call included.
 * @throws BacError for user errors (contract, episodes, keys, dimensions).
 */
export async function runProfile(request: ProfileRequest, hooks: ProfileHooks = {}): Promise<ProfileRun> {
  const log = hooks.log ?? (() => undefined);
  const plan = await planProfile(request, log);
  const opened = await openSession(plan.policy.bytes, request.executionProvider, { intraOpNumThreads: 1 });
  try {
    opened.notes.forEach((line) => log(line));
    const started = performance.now();
    const sampled = await sampleBlockStatistics(plan, opened, request.seed, hooks);
    const times = await timeGatedBlocks(plan.policy, opened.provider);
    const blocksTimeUs = times.blocks.reduce((a, b) => a + b, 0);
    const chunkStarted = performance.now();
    const chunk = await measureChunkStepCost(plan.policy, plan.scheduler, opened.provider, blocksTimeUs);
    const chunkSeconds = (performance.now() - chunkStarted) / 1000;
    log(
      `chunk graph (fitted on short graphs): step 0 only ≈ ${chunk.minimalMs.toFixed(1)} ms, full ≈ ${chunk.fullMs.toFixed(1)} ms per chunk → ${chunk.stepTimeUs === null ? 'no' : `${chunk.stepTimeUs.toFixed(1)} µs`} per-step fixed cost (${chunkSeconds.toFixed(1)} s)`,
    );
    log(`profiled ${sampled.done} samples in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const profile = assembleProfile(request, plan, sampled, times, chunk.stepTimeUs, opened.provider);
    return { profile, provider: opened.provider, notes: [...opened.notes] };
  } finally {
    await opened.session.release();
  }
}

/** Everything a profile needs before a session opens: checked request, model, sampler, windows. */
interface ProfilePlan {
  readonly policy: Policy;
  readonly scheduler: ReturnType<typeof policyScheduler>;
  /** Denoising steps K. */
  readonly K: number;
  /** Elements of one block output of one sample (T·d). */
  readonly D: number;
  readonly windows: readonly WindowSample[];
  /** Samples per ORT call. */
  readonly batchSize: number;
  /** Elements per sample and block that estimate ℓ (D when exact). */
  readonly l1Elements: number;
}

/**
 * Checks the request and loads what the profile reads (model, episodes' windows), so that bad
 * input fails before any session or worker exists.
 */
async function planProfile(request: ProfileRequest, log: (line: string) => void): Promise<ProfilePlan> {
  if (!Number.isInteger(request.samples) || request.samples < 1) {
    throw new BacError(`samples = ${request.samples} is invalid, expected an integer ≥ 1`);
  }
  const policy = await loadPolicy(request.modelPath);
  const { info } = policy;
  const scheduler = policyScheduler(policy, request.steps, request.samplerType);
  const K = scheduler.numInferenceSteps;
  const { T, d } = blockDims(policy);
  const D = T * d;
  const l1Elements = Math.min(D, request.l1Elements ?? DEFAULT_L1_ELEMENTS);
  if (!Number.isInteger(l1Elements) || l1Elements < 1) {
    throw new BacError(`l1Elements = ${request.l1Elements} is invalid, expected an integer ≥ 1`);
  }
  const windows = await loadWindows(policy, request.episodesPath, request.samples, request.seed);
  log(
    `${info.name}: ${info.blocks.length} blocks, K = ${K} (${scheduler.config.type}), ${windows.length} observation windows`,
  );
  const batchSize = profileBatchSize(info.blocks.length, K, D, windows.length, request.batchSize);
  log(`batches of ${batchSize} sample${batchSize === 1 ? '' : 's'} per ONNX Runtime call`);
  return { policy, scheduler, K, D, windows, batchSize, l1Elements };
}

/** Per-block statistics aggregated over the samples, and how many samples they hold. */
interface SampledStatistics {
  readonly accumulators: readonly BlockStatsAccumulator[];
  readonly done: number;
}

/**
 * Runs the full sampler on every window, batch by batch, with every block output written into the
 * statistics buffer, and reduces each batch on the statistics worker while the next one samples.
 * The worker is closed on every path.
 */
async function sampleBlockStatistics(
  plan: ProfilePlan,
  opened: OpenedSession,
  seed: number,
  hooks: ProfileHooks,
): Promise<SampledStatistics> {
  const { policy, scheduler, K, D, windows, batchSize } = plan;
  const { info } = policy;
  const blocks = info.blocks;
  const { T: Tb, d } = blockDims(policy);
  const ort = loadOrt();
  const rng = new Rng(seed);
  // Its own stream, so the sampler noise (and thus Sim) does not depend on l1Elements.
  const pickElements = elementSubsetPicker(D, plan.l1Elements, new Rng(seed ^ L1_SUBSET_SALT));
  const accumulators = blocks.map(() => new BlockStatsAccumulator(K));
  const stats = await BatchStatsComputer.create();
  const started = performance.now();
  let done = 0;
  let finishPrevious: (() => Promise<void>) | null = null;
  try {
    for (let first = 0; first < windows.length; first += batchSize) {
      const batch = windows.slice(first, first + batchSize);
      const B = batch.length;
      const cond = new Float32Array(B * policy.obsSteps * policy.condDim);
      batch.forEach((w, s) => cond.set(w.obs, s * w.obs.length));
      // X[j][k][s][e]: block j's output of one call is one contiguous B·D run (see block-stats.ts).
      const X = stats.buffer(blocks.length * K * B * D);
      // ORT writes each block's output straight into its place in X (a view of B·D floats at
      // block j, step k), and the prediction into one buffer per batch: nothing is copied in JS.
      const eps = predictionTensor(ort, policy, B);
      const outputDims = [B, Tb, d];
      // the batch's inputs, allocated once: each call copies in its sample and timestep
      const step = chunkFeeds(ort, policy, cond, B);
      let k = 0;
      await runSampler({
        scheduler,
        cond,
        initialSample: rng.normalArray(B * policy.horizon * policy.actionDim),
        batch: B,
        noise: rng,
        denoise: async (x, t) => {
          const fetches: Record<string, Ort.Tensor> = { [info.prediction]: eps };
          blocks.forEach((b, j) => {
            const at = (j * K + k) * B * D;
            fetches[b.output] = new ort.Tensor('float32', X.subarray(at, at + B * D), outputDims);
          });
          step.setStep(x, t);
          await opened.session.run(step.feeds, fetches);
          k++;
          return eps.data as Float32Array;
        },
      });
      const G = blocks.length * B;
      const finish = await stats.start(X, G, B, K, D, pickElements(G));
      // Aggregate the previous batch now: its L1 ran on the worker while this batch sampled.
      if (finishPrevious) await finishPrevious();
      finishPrevious = async () => {
        const results = await finish();
        results.forEach((r, g) => accumulators[Math.floor(g / B)]!.add(r));
        done += B;
        const elapsed = performance.now() - started;
        hooks.progress?.({ done, total: windows.length, etaMs: (elapsed / done) * (windows.length - done) });
      };
    }
    if (finishPrevious) await finishPrevious();
  } finally {
    await stats.close();
  }
  return { accumulators, done };
}

/**
 * Per-call times of the blocks and the rest, measured on the gated graph as the cached runner runs
 * it on the robot: batch 1, batch axis fixed (runner.ts), so the schedule's expected speedup by
 * time predicts what `bac eval` and `bac compile --batch 1` get. The session is released on every
 * path.
 */
async function timeGatedBlocks(
  policy: Policy,
  provider: ExecutionProvider,
): Promise<{ base: number; blocks: number[] }> {
  const gated = await openSession(buildGatedModel(policy.bytes, policy.info.name, 1).bytes, provider, {
    intraOpNumThreads: 1,
  });
  try {
    return await measureBlockTimes(policy, gated);
  } finally {
    await gated.session.release();
  }
}

/** The profile file's content from the statistics and the measured times. */
function assembleProfile(
  request: ProfileRequest,
  plan: ProfilePlan,
  sampled: SampledStatistics,
  times: { base: number; blocks: number[] },
  chunkStepTimeUs: number | null,
  provider: ExecutionProvider,
): Profile {
  const { info } = plan.policy;
  const blockProfiles: BlockProfile[] = info.blocks.map((b, i) => {
    const agg = sampled.accumulators[i]!.result();
    const cost: Cost = { flops: b.cost.flops, timeUs: times.blocks[i]! };
    return {
      id: b.id,
      layer: b.layer,
      kind: b.kind,
      simMean: agg.simMean,
      simStd: agg.simStd,
      l1Mean: agg.l1Mean,
      l1Std: agg.l1Std,
      cost,
    };
  });
  return {
    model: { path: storedPathFor(request.outPath, request.modelPath), sha256: info.sha256 },
    sampler: { type: plan.scheduler.config.type, steps: plan.K },
    samples: sampled.done,
    seed: request.seed,
    episodes: storedPathFor(request.outPath, request.episodesPath),
    executionProvider: provider,
    createdAt: new Date().toISOString(),
    baseCost: { flops: info.baseCost.flops, timeUs: times.base },
    l1Elements: plan.l1Elements,
    ...(chunkStepTimeUs === null ? {} : { chunkStepTimeUs }),
    blocks: blockProfiles,
  };
}
