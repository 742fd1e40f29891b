import type { MeasuredSpeed } from '../core/types';
import { runChildTask } from './child-task';
import type { MeasureProgress, MeasureSpeedRequest } from './measure-speed';

/**
 * Runs {@link measureScheduleSpeed} in a separate Node process (child-task.ts), as profiling runs:
 * ONNX Runtime's calls never block the caller's event loop (the extension host), and a cancel
 * kills the process. Nothing is written: the caller records the result.
 */

/** Rejection reason when the caller cancelled. */
export class MeasureCancelledError extends Error {
  constructor() {
    super('Measuring was cancelled; the schedule is unchanged.');
    this.name = 'MeasureCancelledError';
  }
}

/** Options of {@link measureInChildProcess}. */
export interface MeasureProcessOptions {
  /** Called after every measured observation window. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Aborting kills the child; the promise rejects with {@link MeasureCancelledError}. */
  readonly signal?: AbortSignal;
  /** Receives the child's stdout and stderr lines. */
  readonly log?: (line: string) => void;
}

/**
 * Measures in a child process.
 * @throws BacError for user errors reported by the child, or when the child died.
 * @throws MeasureCancelledError when `signal` aborted.
 */
export function measureInChildProcess(
  request: MeasureSpeedRequest,
  options: MeasureProcessOptions = {},
): Promise<MeasuredSpeed> {
  const { onProgress } = options;
  return runChildTask<MeasureSpeedRequest, MeasureProgress, MeasuredSpeed, MeasuredSpeed>({
    worker: 'measure-worker',
    request,
    onProgress: onProgress && ((p) => onProgress(p.done, p.total)),
    log: options.log,
    signal: options.signal,
    cancelled: () => new MeasureCancelledError(),
    onResult: (measured) => measured,
    died: (how) =>
      `the speed-measurement process stopped before finishing (${how}); see the BAC log for its last messages`,
  });
}
