import type { ScheduleMethod } from '../core/solver-params';
import { runChildTask } from './child-task';
import { writeFileAtomic } from './fsutil';
import type { TuneMeasure, TuneProgress, TuneSearchReport } from './tune';
import type { TuneJob } from './tune-job';

/**
 * Runs a tune (tune-job.ts) in a separate Node process (child-task.ts), as profiling and speed
 * measurement run: the search's thousands of ONNX Runtime calls never block the caller's event loop
 * (the extension host), and a cancel kills the process. The parent writes the schedule atomically
 * once the child's result arrived, so a cancel or a crash leaves no file.
 */

/** What the child reports: the schedule's text and the search's scores (lower is better). */
export interface TuneOutcome {
  readonly scheduleText: string;
  readonly start: ScheduleMethod;
  readonly tune: { readonly start: number; readonly tuned: number };
  readonly heldout: { readonly start: number; readonly tuned: number };
  readonly search: TuneSearchReport;
  readonly measure: TuneMeasure;
}

/** Rejection reason when the caller cancelled. */
export class TuneProcessCancelledError extends Error {
  constructor() {
    super('Tuning was cancelled; no schedule was written.');
    this.name = 'TuneProcessCancelledError';
  }
}

/**
 * Tunes in a child process and writes `job.outPath`.
 * @throws BacError for user errors reported by the child, or when the child died.
 * @throws TuneProcessCancelledError when `signal` aborted.
 */
export function tuneInChildProcess(
  job: TuneJob,
  options: {
    readonly onProgress?: (p: TuneProgress) => void;
    readonly signal?: AbortSignal;
    readonly log?: (line: string) => void;
  } = {},
): Promise<TuneOutcome> {
  return runChildTask<TuneJob, TuneProgress, TuneOutcome, TuneOutcome>({
    worker: 'tune-worker',
    request: job,
    onProgress: options.onProgress,
    log: options.log,
    signal: options.signal,
    cancelled: () => new TuneProcessCancelledError(),
    onResult: async (outcome) => {
      await writeFileAtomic(job.outPath, outcome.scheduleText);
      return outcome;
    },
    died: (how) => `the tuning process stopped before finishing (${how}); see the BAC log for its last messages`,
  });
}
