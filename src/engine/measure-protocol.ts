/**
 * Messages between the parent and the speed-measurement child process (`measure-process.ts`,
 * `measure-worker.ts`). Plain data: they cross a process boundary.
 */
import type { MeasuredSpeed } from '../core/types';
import type { MeasureSpeedRequest } from './measure-speed';

/** Parent → child: measure (sent once, right after the child reports `ready`). */
export type MeasureParentMessage = { readonly type: 'start'; readonly request: MeasureSpeedRequest };

/** Child → parent. */
export type MeasureChildMessage =
  | { readonly type: 'ready' }
  /** Observation windows measured so far. */
  | { readonly type: 'progress'; readonly done: number; readonly total: number }
  | { readonly type: 'done'; readonly measured: MeasuredSpeed }
  /** Failure; `user` is true for a user error (BacError), false for a bug. */
  | { readonly type: 'error'; readonly message: string; readonly user: boolean; readonly stack?: string };
