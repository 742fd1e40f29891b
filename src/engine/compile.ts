/**
 * `bac compile S.bacschedule --out M.cached.onnx`: a self-contained deployable model. The If-gated
 * graph of `onnx/gate.ts` with the schedule baked in as a constant bool table [K, nBlocks], one row
 * per sampler step, selected by an int64 input `step` (Gather row → Reshape → the gates). The packed
 * cache is state: `bac_cache` in, `bac_cache_out` out. A robot-side loop needs nothing of BAC beyond
 * its own sampler; the calling convention is stored in the model (`bac.calling_convention`) and
 * documented in `docs/compiled-model.md`.
 */
import { updateSteps } from '../core/blocks';
import { summarizeSchedule } from '../core/cost';
import { BacError } from '../core/errors';
import { checkModelPin } from '../core/model-pin';
import type { BlockId, Schedule } from '../core/types';
import { gateDescribedModel, type GateInfo } from './onnx/gate';
import { CACHE_INPUT, CACHE_OUTPUT, UPDATE_INPUT } from './onnx/io-names';
import { GraphCycleError } from './onnx/graph';
import { decodeOrThrow, describeModel, type ModelInfo } from './onnx/inspect';
import { ModelRejectedError, openSession, type OpenedSession } from './ort';
import { samplerConfigFor } from './policy';
import type { SamplerConfig } from './samplers';
import {
  attrInt,
  boolTensor,
  DataType,
  encodeModel,
  int64Tensor,
  makeNode,
  tensorValueInfo,
  type GraphProto,
  type ModelProto,
} from './onnx/proto';

/** Name of the compiled model's step input: int64 [1], the sampler step k (0 … K−1). */
export const STEP_INPUT = 'step';
/** Initializer holding the schedule: bool [K, nBlocks], row k = which blocks recompute at step k. */
export const SCHEDULE_TABLE = 'bac_schedule_table';
/** Version of the `bac.schedule` / `bac.calling_convention` metadata written here. */
export const COMPILED_VERSION = 1;

/** Options of {@link compileSchedule}. */
export interface CompileOptions {
  /** Model name used in messages (default `model.onnx`). */
  readonly modelName?: string;
  /** Schedule name used in messages (default `schedule`). */
  readonly scheduleName?: string;
  /**
   * Fix the batch axis to this size (`specializeBatch` in `onnx/specialize.ts`; a robot samples one chunk at a time,
   * so 1): ONNX Runtime folds the shape arithmetic away and every call runs fewer nodes. Default:
   * the batch axis stays as exported.
   */
  readonly batch?: number;
}

/** A compiled model with what went into it. */
export interface CompiledSchedule {
  /** The deployable ONNX file. */
  readonly bytes: Uint8Array;
  /** K: rows of the table (valid `step` values are 0 … K−1). */
  readonly steps: number;
  /** The gate table, row-major [K, nBlocks], 1 = update. */
  readonly table: Uint8Array;
  /** The gating (block rows of the packed cache, moved nodes). */
  readonly gate: GateInfo;
  /** The plain model's description. */
  readonly model: ModelInfo;
}

/**
 * The gate table of a schedule: row-major [K, nBlocks], entry 1 when block i recomputes at step k.
 * Blocks in schedule order. O(K · nBlocks).
 */
export function scheduleTable(schedule: Schedule): Uint8Array {
  const K = schedule.sampler.steps;
  const n = schedule.blocks.length;
  const table = new Uint8Array(K * n);
  schedule.blocks.forEach((b, i) => {
    for (const k of updateSteps(b)) if (k >= 0 && k < K) table[k * n + i] = 1;
  });
  return table;
}

/**
 * Compiles a schedule into the model it was made for; returns the bytes of the deployable model.
 * See {@link compileScheduleDetailed}.
 */
export function compileSchedule(modelBytes: Uint8Array, schedule: Schedule, options: CompileOptions = {}): Uint8Array {
  return compileScheduleDetailed(modelBytes, schedule, options).bytes;
}

/**
 * Compiles a schedule into the model it was made for.
 *
 * Refuses (BacError) a schedule whose `model.sha256` is not the model's, whose blocks are not the
 * model's blocks in model order, or in which a block does not update at step 0 (the cache would be
 * read before anything wrote it). The model's metadata is kept; `bac.sampler` gets the schedule's
 * sampler type and K (the loop the table was solved for); `bac.schedule` and
 * `bac.calling_convention` are added. Opset and IR version stay the model's.
 * O(model size + K · nBlocks).
 */
export function compileScheduleDetailed(
  modelBytes: Uint8Array,
  schedule: Schedule,
  options: CompileOptions = {},
): CompiledSchedule {
  const modelName = options.modelName ?? 'model.onnx';
  const scheduleName = options.scheduleName ?? 'schedule';
  const decoded = decodeOrThrow(modelBytes, modelName);
  const info = describeModel(decoded, modelBytes, modelName);
  checkModelPin(schedule.model, info.sha256, scheduleName);
  const modelIds = info.blocks.map((b) => b.id);
  const schedIds = schedule.blocks.map((b) => b.id);
  if (modelIds.join(',') !== schedIds.join(',')) {
    throw new BacError(
      `${scheduleName}: blocks ${fmtIds(schedIds)} do not match ${modelName}'s blocks ${fmtIds(modelIds)}, expected one entry per model block in model order`,
    );
  }
  const K = schedule.sampler.steps;
  if (!Number.isInteger(K) || K < 1)
    throw new BacError(`${scheduleName}: sampler.steps is ${K}, expected an integer ≥ 1`);
  const table = scheduleTable(schedule);
  const n = schedIds.length;
  const noStart = schedIds.filter((_, i) => !table[i]);
  if (noStart.length > 0) {
    throw new BacError(
      `${scheduleName}: block(s) ${noStart.join(', ')} do not update at step 0, expected step 0 in every block's update set (the cache starts empty)`,
    );
  }

  const batch = options.batch;
  const { model: gated, info: gate } = gateOrNameModel(
    () => gateDescribedModel(decoded, info, modelName, batch),
    modelName,
  );
  const g = gated.graph as GraphProto;
  const names = new Set<string>([
    ...g.node.flatMap((x) => [...x.input, ...x.output]),
    ...g.initializer.map((t) => t.name ?? ''),
  ]);
  for (const reserved of [STEP_INPUT, SCHEDULE_TABLE]) {
    if (names.has(reserved))
      throw new BacError(`${modelName}: already uses the name "${reserved}", which BAC reserves for compiled models`);
  }
  const rowName = 'bac_compiled/schedule_row';
  const shapeName = 'bac_compiled/update_shape';
  const compiledGraph: GraphProto = {
    ...g,
    // gates now come from the table: Gather(table, step) → [1, n] → Reshape → [n] = bac_update
    node: [
      makeNode('Gather', [SCHEDULE_TABLE, STEP_INPUT], [rowName], 'bac_compiled/Gather_schedule', [attrInt('axis', 0)]),
      makeNode('Reshape', [rowName, shapeName], [UPDATE_INPUT], 'bac_compiled/Reshape_update'),
      ...g.node,
    ],
    initializer: [...g.initializer, boolTensor(SCHEDULE_TABLE, [K, n], table), int64Tensor(shapeName, [1], [n])],
    input: g.input.flatMap((i) => (i.name === UPDATE_INPUT ? [tensorValueInfo(STEP_INPUT, DataType.INT64, [1])] : [i])),
  };

  const summary = summarizeSchedule(schedule);
  const props = decoded.metadataProps.filter(
    (p) => !['bac.sampler', 'bac.schedule', 'bac.calling_convention'].includes(p.key ?? ''),
  );
  // the sampler the schedule was profiled with, as profiling built it (e.g. DPM-Solver++ for a
  // DDPM-trained policy gets its thresholding), so a deployer's loop runs what was solved for
  const sampler = samplerConfigFor(info.metadata.sampler.raw as unknown as SamplerConfig, K, schedule.sampler.type);
  const meta: Record<string, unknown> = {
    'bac.sampler': sampler,
    'bac.schedule': {
      version: COMPILED_VERSION,
      steps: K,
      blocks: schedIds,
      budget: schedule.solver.budget,
      topN: schedule.solver.topN,
      forceLast: schedule.solver.forceLast,
      updates: summary.updates,
      fullUpdates: summary.fullUpdates,
      speedupFlops: Number(summary.speedupFlops.toFixed(4)),
      model: { path: schedule.model.path, sha256: info.sha256 },
      profile: schedule.solver.profile,
    },
    'bac.calling_convention': callingConvention(info, gate, K, batch),
  };
  const compiled: ModelProto = {
    ...gated,
    graph: compiledGraph,
    metadataProps: [...props, ...Object.entries(meta).map(([key, v]) => ({ key, value: JSON.stringify(v) }))],
  };
  return { bytes: encodeModel(compiled), steps: K, table, gate, model: info };
}

/** Runs the gating; a graph cycle (a broken model) becomes a user error naming the model. */
function gateOrNameModel<T>(gate: () => T, modelName: string): T {
  try {
    return gate();
  } catch (e) {
    if (e instanceof GraphCycleError) throw new BacError(`${modelName}: ${e.message}`);
    throw e;
  }
}

/**
 * Checks that ONNX Runtime loads a compiled model (on the CPU, the provider every deployer has),
 * so `bac compile` never writes a file a robot cannot open. Gating only rewires the model's graph,
 * so a refusal means the input model was already broken (e.g. a node reading a value nothing
 * produces, which the graph rewrite cannot see). O(model size): ORT parses and optimises it once.
 * @throws BacError naming the model and ORT's reason.
 */
export async function checkCompiledModelLoads(compiled: Uint8Array, modelName: string): Promise<void> {
  let opened: OpenedSession;
  try {
    opened = await openSession(compiled, 'cpu', { intraOpNumThreads: 1 });
  } catch (e) {
    if (!(e instanceof ModelRejectedError)) throw e;
    throw new BacError(
      `${modelName}: ONNX Runtime cannot load the model compiled from it (${e.detail}), so nothing was written; ` +
        `expected a model ONNX Runtime loads, check ${modelName} with onnx.checker or re-export it`,
    );
  }
  await opened.session.release();
}

/** The loop a deployer writes, as JSON stored in `bac.calling_convention` (see docs/compiled-model.md). */
function callingConvention(
  info: ModelInfo,
  gate: GateInfo,
  K: number,
  batch: number | undefined,
): Record<string, unknown> {
  const shape = (dims: readonly unknown[]): string => `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
  return {
    version: COMPILED_VERSION,
    doc: 'docs/compiled-model.md',
    batch: batch ?? 'any (B is free; compile with --batch to fix it)',
    inputs: {
      sample: 'float32 [B, T, Da]: the current noisy action chunk x_k',
      timestep: `${info.timestepDtype} [B]: the sampler's timestep t_k for step k`,
      cond: 'float32 [B, To, Do]: the normalized observation window',
      [STEP_INPUT]: `int64 [1]: k, the sampler step, 0 … ${K - 1} (k = 0 is the noisiest)`,
      [CACHE_INPUT]: `float32 ${shape(gate.cacheShape)}: the previous call's ${CACHE_OUTPUT}; any values (e.g. zeros) at k = 0`,
    },
    outputs: {
      [info.prediction]: 'float32 [B, T, Da]: the denoiser prediction, fed to the sampler step',
      [CACHE_OUTPUT]: `float32 ${shape(gate.cacheShape)}: block outputs in model order (${gate.blocks.map((b) => b.id).join(', ')}); pass back as ${CACHE_INPUT}`,
    },
    loop: [
      `cache = zeros(${shape(gate.cacheShape)})`,
      'x = initial noise [B, T, Da]',
      `for k in 0 … ${K - 1}: (pred, cache) = model(sample=x, timestep=t_k, cond=cond, step=[k], ${CACHE_INPUT}=cache); x = sampler.step(pred, t_k, x)`,
      'action chunk = x (denormalize with bac.normalizer.action)',
    ],
    reset: 'start every action chunk at k = 0; step 0 recomputes every block, so the cache needs no reset',
    sampler:
      "bac.sampler (type and num_inference_steps are the schedule's); t_k are its K timesteps in execution order",
  };
}

const fmtIds = (ids: readonly BlockId[]): string =>
  ids.length > 8 ? `[${ids.slice(0, 8).join(', ')}, … (${ids.length})]` : `[${ids.join(', ')}]`;
