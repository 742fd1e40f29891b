/**
 * Runs action chunks with a chunk graph (`onnx/chunk-graph.ts`): one ONNX Runtime call per chunk.
 * What `bac eval`, the closed loop and the bench measure; the per-call runners (`runner.ts`) stay
 * for profiling, which needs every block output at every step.
 */
import type * as Ort from 'onnxruntime-node';
import { BacError } from '../core/errors';
import { buildChunkGraph, type ChunkGraph } from './onnx/chunk-graph';
import { CHUNK_COND, CHUNK_INITIAL_SAMPLE, CHUNK_OUTPUT, CHUNK_STEP_NOISE } from './onnx/io-names';
import { foldedStepModel } from './onnx/chunk-step';
import { evaluateTimestepValues } from './onnx/timestep-values';
import { encodeModel, type ModelProto } from './onnx/proto';
import { openSession, type ExecutionProvider, type ExecutionProviderChoice } from './ort';
import { loadOrt, type Policy } from './policy';
import { Rng } from '../core/rng';
import type { NoiseScheduler, NoiseSource } from './samplers';

/** Which blocks update when: a schedule's table ({@link updateTable}) or every block every step. */
export type ChunkUpdates = Uint8Array | 'full';

/**
 * Options of {@link buildChunkModel} and {@link openChunkRunner}. `step`: the folded step of the
 * same policy and batch (`foldedStepModel`), to build several chunk models from one.
 */
export interface ChunkRunnerOptions {
  /** Fixed batch B of every chunk (default 1: the robot's). */
  readonly batch?: number;
  /** ORT intra-op threads (CPU); default ORT's choice. */
  readonly threads?: number;
  /** Execution provider (default cpu). */
  readonly ep?: ExecutionProviderChoice;
  /** Also output per-step values (tests); see `ChunkSpec.exposeSteps`. */
  readonly exposeSteps?: boolean;
}

/** A chunk model as bytes with what the builder did. */
export interface ChunkModel {
  readonly bytes: Uint8Array;
  readonly graph: ChunkGraph;
  readonly batch: number;
}

/**
 * Builds the chunk graph of `policy` for a scheduler and an update table. O(K · nodes) plus one ORT
 * session to fold the step.
 */
export async function buildChunkModel(
  policy: Policy,
  scheduler: NoiseScheduler,
  updates: ChunkUpdates,
  options: Pick<ChunkRunnerOptions, 'batch' | 'exposeSteps'> & { readonly step?: ModelProto } = {},
): Promise<ChunkModel> {
  const batch = options.batch ?? 1;
  const K = scheduler.numInferenceSteps;
  const n = policy.info.blocks.length;
  const table = updates === 'full' ? new Uint8Array(K * n).fill(1) : updates;
  const step = options.step ?? (await foldedStepModel(policy.bytes, batch, policy.info.name));
  const plans = Array.from({ length: K }, (_, k) => scheduler.stepPlan(k));
  const timestepType = policy.info.timestepDtype === 'int64' ? 'int64' : 'float32';
  const timestepValues = await evaluateTimestepValues(
    step,
    plans.map((p) => p.timestep),
    batch,
    timestepType,
  );
  const graph = buildChunkGraph(step, {
    blocks: policy.info.blocks,
    table,
    plans,
    batch,
    sampleShape: [policy.horizon, policy.actionDim],
    condShape: [policy.obsSteps, policy.condDim],
    timestepType,
    timestepValues: timestepValues ?? undefined,
    exposeSteps: options.exposeSteps,
  });
  return { bytes: encodeModel(graph.model), graph, batch };
}

/** One chunk's inputs for a chunk runner. */
export interface ChunkRunInputs {
  /** Normalised `cond` [B, To, Do]. */
  readonly cond: Float32Array;
  /** x_K [B, T, Da]. */
  readonly initialSample: Float32Array;
  /**
   * Per-step noise: a seeded Rng draws B·T·Da normals for each step that uses noise, in step order
   * (the same stream `runSampler` draws), or `noise(k)` gives step k's.
   */
  readonly noise?: NoiseSource;
}

/** An open chunk runner. */
export interface ChunkRunner {
  readonly model: ChunkModel;
  readonly provider: ExecutionProvider;
  /** Runs one chunk (one ORT call); returns the final normalised sample [B, T, Da]. */
  runChunk(inputs: ChunkRunInputs): Promise<Float32Array>;
  /** Runs one chunk and returns every graph output by name (graphs built with `exposeSteps`). */
  runChunkOutputs(inputs: ChunkRunInputs): Promise<Record<string, Float32Array>>;
  close(): Promise<void>;
}

/**
 * Builds (or takes) a chunk model and opens it. The runner owns its input tensors; `runChunk`
 * copies the inputs in.
 * @throws BacError for a model that cannot be unrolled or loaded.
 */
export async function openChunkRunner(
  policy: Policy,
  scheduler: NoiseScheduler,
  updates: ChunkUpdates,
  options: ChunkRunnerOptions & { readonly model?: ChunkModel; readonly step?: ModelProto } = {},
): Promise<ChunkRunner> {
  const model = options.model ?? (await buildChunkModel(policy, scheduler, updates, options));
  // the step was optimised before unrolling (`chunk-step.ts`): `basic` only folds each step's constants
  const opened = await openSession(model.bytes, options.ep ?? 'cpu', {
    intraOpNumThreads: options.threads,
    graphOptimizationLevel: 'basic',
  });
  const ort = loadOrt();
  const B = model.batch;
  const sampleDims = [B, policy.horizon, policy.actionDim];
  const sampleSize = B * policy.horizon * policy.actionDim;
  const K = scheduler.numInferenceSteps;
  const plans = Array.from({ length: K }, (_, k) => scheduler.stepPlan(k));
  const cond = new Float32Array(B * policy.obsSteps * policy.condDim);
  const initial = new Float32Array(sampleSize);
  const noise = new Float32Array(model.graph.usesNoise ? K * sampleSize : 0);
  const feeds: Record<string, Ort.Tensor> = {
    [CHUNK_COND]: new ort.Tensor('float32', cond, [B, policy.obsSteps, policy.condDim]),
    [CHUNK_INITIAL_SAMPLE]: new ort.Tensor('float32', initial, sampleDims),
  };
  if (model.graph.usesNoise) feeds[CHUNK_STEP_NOISE] = new ort.Tensor('float32', noise, [K, ...sampleDims]);
  const output = new ort.Tensor('float32', new Float32Array(sampleSize), sampleDims);
  const setInputs = (inputs: ChunkRunInputs): void => {
    if (inputs.cond.length !== cond.length || inputs.initialSample.length !== sampleSize) {
      throw new BacError(
        `this chunk runner was built for batch ${B}: cond needs ${cond.length} values (got ${inputs.cond.length}), the sample ${sampleSize} (got ${inputs.initialSample.length})`,
      );
    }
    cond.set(inputs.cond);
    initial.set(inputs.initialSample);
    if (!model.graph.usesNoise) return;
    const source = inputs.noise;
    if (source === undefined) throw new BacError('this sampler draws noise at some steps: pass a noise source');
    for (let k = 0; k < K; k++) {
      if (plans[k]!.next.noise === 0) continue;
      noise.set(source instanceof Rng ? source.normalArray(sampleSize) : source(k), k * sampleSize);
    }
  };
  return {
    model,
    provider: opened.provider,
    async runChunk(inputs) {
      setInputs(inputs);
      await opened.session.run(feeds, { [CHUNK_OUTPUT]: output });
      return (output.data as Float32Array).slice();
    },
    async runChunkOutputs(inputs) {
      setInputs(inputs);
      const out = await opened.session.run(feeds);
      return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
    },
    async close() {
      await opened.session.release();
    },
  };
}
