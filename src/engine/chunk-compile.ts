/**
 * `bac compile --chunk`: the chunk graph of a schedule (`onnx/chunk-graph.ts`) as a deployable
 * model — one ONNX Runtime call per action chunk, no sampler loop on the robot. The calling
 * convention is stored in the model (`bac.chunk`) and documented in docs/compiled-model.md.
 */
import { summarizeSchedule } from '../core/cost';
import type { Schedule } from '../core/types';
import { buildChunkModel, type ChunkModel } from './chunk-runner';
import { CHUNK_COND, CHUNK_INITIAL_SAMPLE, CHUNK_OUTPUT, CHUNK_STEP_NOISE } from './onnx/io-names';
import { ortOptimized } from './onnx/chunk-step';
import { decodeModel, encodeModel } from './onnx/proto';
import { scheduleScheduler, type Policy } from './policy';
import { updateTable } from './runner';

/** Version of the `bac.chunk` metadata written here. */
export const CHUNK_MODEL_VERSION = 1;

/** Metadata keys of the plain model that describe a per-call loop and do not apply to a chunk model. */
const PER_CALL_KEYS = ['bac.schedule', 'bac.calling_convention', 'bac.chunk'];

/** A compiled chunk model with what went into it. */
export interface CompiledChunk {
  readonly bytes: Uint8Array;
  readonly chunk: ChunkModel;
  /** K. */
  readonly steps: number;
}

/**
 * Compiles `schedule` (for `policy`, already checked to be its model) into a chunk model of fixed
 * batch `batch`. The sampler is the one the schedule was profiled with (`bac.sampler` records it).
 * @throws BacError naming `scheduleName` when the schedule's blocks are not the model's or its sampler
 *   is not one the engine runs; BacError when the model cannot be unrolled.
 */
export async function compileChunk(
  policy: Policy,
  schedule: Schedule,
  batch = 1,
  scheduleName = 'the schedule',
): Promise<CompiledChunk> {
  const scheduler = scheduleScheduler(policy, schedule, scheduleName);
  const table = updateTable(
    schedule,
    policy.info.blocks.map((b) => b.id),
    scheduleName,
  );
  const chunk = await buildChunkModel(policy, scheduler, table, { batch });
  const K = scheduler.numInferenceSteps;
  const summary = summarizeSchedule(schedule);
  const noiseSteps = scheduler.timesteps.flatMap((_, k) => (scheduler.stepPlan(k).next.noise !== 0 ? [k] : []));
  const sample = `[${batch}, ${policy.horizon}, ${policy.actionDim}]`;
  const meta = {
    'bac.sampler': scheduler.config,
    'bac.chunk': {
      version: CHUNK_MODEL_VERSION,
      doc: 'docs/compiled-model.md',
      steps: K,
      batch,
      timesteps: scheduler.timesteps,
      inputs: {
        [CHUNK_COND]: `float32 [${batch}, ${policy.obsSteps}, ${policy.condDim}]: the normalized observation window`,
        [CHUNK_INITIAL_SAMPLE]: `float32 ${sample}: x_K, standard normal noise`,
        ...(chunk.graph.usesNoise
          ? {
              [CHUNK_STEP_NOISE]: `float32 [${K}, ${batch}, ${policy.horizon}, ${policy.actionDim}]: standard normal noise; row k is step k's (rows of steps that draw none are ignored)`,
            }
          : {}),
      },
      outputs: {
        [CHUNK_OUTPUT]: `float32 ${sample}: the normalized action chunk (denormalize with bac.normalizer.action)`,
      },
      noiseSteps,
      schedule: {
        budget: schedule.solver.budget,
        topN: schedule.solver.topN,
        updates: summary.updates,
        fullUpdates: summary.fullUpdates,
        speedupFlops: Number(summary.speedupFlops.toFixed(4)),
        model: { path: schedule.model.path, sha256: policy.info.sha256 },
      },
    },
  };
  const props = decodeModel(policy.bytes).metadataProps.filter(
    (p) => !PER_CALL_KEYS.includes(p.key ?? '') && p.key !== 'bac.sampler',
  );
  // ORT's basic pass (each step's constant time embedding folded) done here, once, so a deployer's
  // session opens with nothing left to optimise
  const optimized = decodeModel(await ortOptimized(chunk.bytes, 'basic', policy.info.name));
  const model = {
    ...optimized,
    metadataProps: [...props, ...Object.entries(meta).map(([key, v]) => ({ key, value: JSON.stringify(v) }))],
  };
  return { bytes: encodeModel(model), chunk, steps: K };
}
