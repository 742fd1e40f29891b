/**
 * Entry of the tuning child process (see tune-process.ts): ONNX Runtime and the closed loop run
 * here, not in the extension host; the parent writes the schedule, so a killed child leaves no file.
 */
import { serializeSchedule } from '../core/schedule-format';
import { serveChildTask } from './child-task';
import type { TuneProgress } from './tune';
import { tuneSchedule } from './tune';
import { loadProfile } from './profile-file';
import { prepareTune, type TuneJob } from './tune-job';
import type { TuneOutcome } from './tune-process';

serveChildTask<TuneJob, TuneProgress, TuneOutcome>(async (job, hooks) => {
  const request = await prepareTune(job, await loadProfile(job.profilePath));
  const r = await tuneSchedule({ ...request, onProgress: (p) => hooks.progress(p) });
  return {
    scheduleText: serializeSchedule(r.schedule),
    start: r.start,
    tune: r.tune,
    heldout: r.heldout,
    search: r.search,
    measure: r.measure,
  };
});
