import type * as Ort from 'onnxruntime-node';
import { BacError } from '../core/errors';
import type { Schedule } from '../core/types';
import { scheduleTable } from './compile';
import { buildGatedModel, type GatedModel } from './onnx/gate';
import { CACHE_INPUT, CACHE_OUTPUT, UPDATE_INPUT } from './onnx/io-names';
import { specializeBatchBytes } from './onnx/specialize';
import { openSession, type ExecutionProviderChoice, type OpenedSession } from './ort';
import { blockDims, chunkFeeds, loadOrt, predictionTensor, type Policy } from './policy';
import { runSampler, type NoiseScheduler, type NoiseSource } from './samplers';

/**
 * Runners of one action chunk: the plain model (every block every step) and the cached runner,
 * which drives the If-gated graph with a schedule's update table so that reused blocks really skip
 * their work. Caches live in one packed tensor [nBlocks, B, T, d] and reset per chunk.
 */

/**
 * Update table of a schedule: `table[k * nBlocks + i]` = 1 when block i recomputes at step k.
 * @throws BacError naming `scheduleName` when the schedule's blocks are not `blockIds`, in order.
 */
export function updateTable(
  schedule: Schedule,
  blockIds: readonly string[],
  scheduleName = 'the schedule',
): Uint8Array {
  const ids = schedule.blocks.map((b) => b.id);
  if (ids.length !== blockIds.length || ids.some((id, i) => id !== blockIds[i])) {
    throw new BacError(
      `${scheduleName}: its blocks (${ids.length}: ${ids.slice(0, 3).join(', ')}…) do not match the model's (${blockIds.length}: ${blockIds
        .slice(0, 3)
        .join(', ')}…); it was solved for another model — re-profile and re-solve`,
    );
  }
  return scheduleTable(schedule);
}

/** One chunk's inputs: the normalised observation windows and the noise. */
export interface ChunkInputs {
  /** Batch size B. */
  readonly batch: number;
  /** Normalised `cond` [B, To, Do]. */
  readonly cond: Float32Array;
  /** x_K, [B, T, Da]. */
  readonly initialSample: Float32Array;
  /** Per-step noise for the sampler (a seeded Rng or explicit arrays). */
  readonly noise?: NoiseSource;
}

/** Runs the sampler loop over one chunk's inputs with a runner's denoiser. */
function sampleChunk(
  scheduler: NoiseScheduler,
  inputs: ChunkInputs,
  denoise: (x: Float32Array, t: number) => Promise<Float32Array>,
): Promise<Float32Array> {
  const { cond, initialSample, batch, noise } = inputs;
  return runSampler({ scheduler, cond, initialSample, batch, noise, denoise });
}

/** How a runner opens its session. */
export interface RunnerOptions {
  /** ORT intra-op threads (CPU); default: ORT's choice. */
  readonly threads?: number;
  /**
   * Fix the model's batch axis to this size ({@link specializeBatchBytes}): ONNX Runtime then folds the
   * shape arithmetic away and each call runs fewer nodes. The runner then accepts only chunks of
   * this batch. Unset: the model as exported, any batch. Both runners of a comparison must use the
   * same setting, or the speedup compares two different graphs.
   */
  readonly staticBatch?: number;
}

function checkBatch(options: RunnerOptions, batch: number): void {
  if (options.staticBatch !== undefined && batch !== options.staticBatch) {
    throw new BacError(`this runner was opened for batch ${options.staticBatch}, got a chunk of batch ${batch}`);
  }
}

/** Runs the plain model for one chunk (the "full" baseline). */
export class PlainRunner {
  private constructor(
    private readonly ort: typeof Ort,
    readonly policy: Policy,
    readonly opened: OpenedSession,
    readonly options: RunnerOptions,
  ) {}

  /** Opens a session of the plain model on the chosen provider. */
  static async open(policy: Policy, ep: ExecutionProviderChoice, options: RunnerOptions = {}): Promise<PlainRunner> {
    const bytes =
      options.staticBatch === undefined
        ? policy.bytes
        : specializeBatchBytes(policy.bytes, options.staticBatch, policy.info.name);
    const opened = await openSession(bytes, ep, { intraOpNumThreads: options.threads });
    return new PlainRunner(loadOrt(), policy, opened, options);
  }

  /** Samples one action chunk; returns the final normalised sample [B, T, Da]. */
  async runChunk(scheduler: NoiseScheduler, inputs: ChunkInputs): Promise<Float32Array> {
    checkBatch(this.options, inputs.batch);
    const { session } = this.opened;
    const prediction = this.policy.info.prediction;
    // Fetch only the prediction: asking for the 24 block outputs would cost time the plain model
    // does not spend in deployment. ORT writes it into one buffer allocated per chunk (the
    // sampler consumes each prediction before the next call), as the cached runner does.
    const eps = predictionTensor(this.ort, this.policy, inputs.batch);
    const step = chunkFeeds(this.ort, this.policy, inputs.cond, inputs.batch);
    const fetches = { [prediction]: eps };
    return sampleChunk(scheduler, inputs, async (x, t) => {
      step.setStep(x, t);
      await session.run(step.feeds, fetches);
      return eps.data as Float32Array;
    });
  }

  async release(): Promise<void> {
    await this.opened.session.release();
  }
}

/** Runs the If-gated graph with a schedule. */
export class CachedRunner {
  private constructor(
    private readonly ort: typeof Ort,
    readonly policy: Policy,
    readonly gated: GatedModel,
    readonly opened: OpenedSession,
    readonly options: RunnerOptions,
  ) {}

  /**
   * Builds the gated graph from the policy (batch-specialized first when `options.staticBatch` is
   * set) and opens it on the chosen provider.
   */
  static async open(
    policy: Policy,
    ep: ExecutionProviderChoice,
    options: RunnerOptions & { readonly gated?: GatedModel } = {},
  ): Promise<CachedRunner> {
    const g = options.gated ?? buildGatedModel(policy.bytes, policy.info.name, options.staticBatch);
    const opened = await openSession(g.bytes, ep, { intraOpNumThreads: options.threads });
    return new CachedRunner(loadOrt(), policy, g, opened, options);
  }

  /** Block ids in the row order of the packed tensors. */
  get blockIds(): string[] {
    return this.gated.gate.blocks.map((b) => b.id);
  }

  /**
   * Samples one action chunk with `table` (see {@link updateTable}). Caches start at zero and every
   * block must update at step 0 (a schedule invariant), so no stale cache from a previous chunk or
   * observation is ever used.
   * @param onStep receives the packed block outputs after every step (for tests and profiling).
   */
  async runChunk(
    scheduler: NoiseScheduler,
    table: Uint8Array,
    inputs: ChunkInputs,
    onStep?: (k: number, packed: Float32Array) => void,
  ): Promise<Float32Array> {
    checkBatch(this.options, inputs.batch);
    const n = this.gated.gate.blocks.length;
    const K = scheduler.numInferenceSteps;
    if (table.length !== K * n)
      throw new BacError(`update table has ${table.length} entries, expected K·blocks = ${K}·${n}`);
    for (let i = 0; i < n; i++) {
      if (!table[i]) throw new BacError(`block ${this.blockIds[i]} does not update at step 0; every block must`);
    }
    const { session } = this.opened;
    const prediction = this.policy.info.prediction;
    const { T, d } = blockDims(this.policy);
    const elements = inputs.batch * T * d;
    const cacheDims = [n, inputs.batch, T, d];
    // Two packed caches, allocated once per chunk: step k reads one and ORT writes the other
    // (pre-allocated outputs), then they swap. Letting ORT allocate the output and copy it into a
    // fresh JS buffer on every call cost a few hundred µs per call here, as much as the whole
    // non-block rest of a gated call.
    const caches = [0, 1].map(() => new this.ort.Tensor('float32', new Float32Array(n * elements), cacheDims));
    const eps = predictionTensor(this.ort, this.policy, inputs.batch);
    const step = chunkFeeds(this.ort, this.policy, inputs.cond, inputs.batch);
    const gates = new Uint8Array(n);
    const feeds = step.feeds;
    feeds[UPDATE_INPUT] = new this.ort.Tensor('bool', gates, [n]);
    let k = 0;
    return sampleChunk(scheduler, inputs, async (x, t) => {
      step.setStep(x, t);
      gates.set(table.subarray(k * n, (k + 1) * n));
      feeds[CACHE_INPUT] = caches[k % 2]!;
      const written = caches[(k + 1) % 2]!;
      await session.run(feeds, { [prediction]: eps, [CACHE_OUTPUT]: written });
      // The buffer is overwritten two steps later: observers get a copy.
      if (onStep) onStep(k, (written.data as Float32Array).slice());
      k++;
      return eps.data as Float32Array;
    });
  }

  async release(): Promise<void> {
    await this.opened.session.release();
  }
}
