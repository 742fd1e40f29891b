/**
 * Measuring one schedule's speed as `bac eval` records it, for callers that have the schedule but
 * no evaluation of their own ("BAC: Measure Speed" through `measure-process.ts`): its chunk graph
 * against the faster full-model runner, batch 1, on observation windows of the given episodes.
 */
import { checkModelPin } from '../core/model-pin';
import { measuredSpeedRecord } from '../core/measured-speed';
import type { MeasuredSpeed, Schedule } from '../core/types';
import { deviceName, evaluate, type Evaluation } from './evaluate';
import { ModelRejectedError, type ExecutionProviderChoice } from './ort';
import { resolveStored } from './paths';
import { loadPolicy, scheduleScheduler } from './policy';
import { loadWindows } from './profiler';

/** Observation windows measured so far, of all. */
export interface MeasureProgress {
  readonly done: number;
  readonly total: number;
}

/** Windows a measurement runs when none are asked for (`bac eval`'s default). */
export const DEFAULT_MEASURE_SAMPLES = 16;

/** What to measure: the schedule as parsed, the folder its paths are relative to, and the windows. */
export interface MeasureSpeedRequest {
  readonly schedule: Schedule;
  /** The schedule file's folder: `model.path` is relative to it. */
  readonly scheduleDir: string;
  /** Episodes to cut observation windows from (absolute). */
  readonly episodesPath: string;
  readonly samples: number;
  readonly seed: number;
  readonly ep: ExecutionProviderChoice;
}

/**
 * Checks that the schedule's model is present and unchanged, evaluates the schedule alone and
 * returns the `measured` record `bac eval` would write. O(samples · 3) chunks.
 * @throws BacError for a missing or changed model, unreadable episodes, a mismatched schedule.
 */
export async function measureScheduleSpeed(
  request: MeasureSpeedRequest,
  onSample?: (done: number, total: number) => void,
): Promise<MeasuredSpeed> {
  const { schedule } = request;
  const modelPath = resolveStored(request.scheduleDir, schedule.model.path);
  const policy = await loadPolicy(modelPath);
  checkModelPin(schedule.model, policy.info.sha256, 'the schedule');
  const scheduler = scheduleScheduler(policy, schedule);
  const windows = await loadWindows(policy, request.episodesPath, request.samples, request.seed);
  const ev = await evaluate(policy, scheduler, windows, [{ name: 'Schedule', schedule }], {
    ep: request.ep,
    seed: request.seed,
    onSample,
  }).catch((e: unknown) => {
    throw e instanceof ModelRejectedError ? e.withModel(modelPath) : e;
  });
  return evaluationRecord(schedule, ev, 0);
}

/**
 * The `measured` record of schedule `i` of an evaluation, timestamped now: what `bac eval` and
 * "BAC: Measure Speed" write into the schedule.
 */
export function evaluationRecord(schedule: Schedule, ev: Evaluation, i: number): MeasuredSpeed {
  const mine = ev.results[i]!;
  return measuredSpeedRecord(
    schedule,
    {
      provider: ev.provider,
      device: deviceName(ev.provider),
      speedup: mine.measuredSpeedup,
      chunkMs: mine.chunkMs,
      fullChunkMs: ev.fullChunkMs,
    },
    new Date(),
  );
}
