/**
 * Entry of the speed-measurement child process (see measure-process.ts): ONNX Runtime runs here,
 * not in the extension host, and the parent can end it at any time.
 */
import type { MeasuredSpeed } from '../core/types';
import { serveChildTask } from './child-task';
import { measureScheduleSpeed, type MeasureProgress, type MeasureSpeedRequest } from './measure-speed';

serveChildTask<MeasureSpeedRequest, MeasureProgress, MeasuredSpeed>((request, hooks) =>
  measureScheduleSpeed(request, (done, total) => hooks.progress({ done, total })),
);
