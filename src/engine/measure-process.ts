import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BacError } from '../core/errors';
import type { MeasuredSpeed } from '../core/types';
import type { MeasureChildMessage, MeasureParentMessage } from './measure-protocol';
import type { MeasureSpeedRequest } from './measure-speed';

/**
 * Runs {@link measureScheduleSpeed} in a separate Node process, as profiling runs (profile-process.ts):
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

/** The bundled `dist/measure-worker.js` beside this bundle, else (sources, tests) the TypeScript entry through tsx. */
function workerEntry(): { module: string; execArgv: string[] } {
  const bundled = join(__dirname, 'measure-worker.js');
  if (existsSync(bundled)) return { module: bundled, execArgv: [] };
  const source = join(__dirname, 'measure-worker.ts');
  if (existsSync(source)) return { module: source, execArgv: ['--import', pathToFileURL(require.resolve('tsx')).href] };
  throw new Error(`speed-measurement worker not found beside ${__dirname} (expected measure-worker.js or .ts)`);
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
  const { onProgress, signal, log } = options;
  if (signal?.aborted) return Promise.reject(new MeasureCancelledError());
  const entry = workerEntry();
  return new Promise<MeasuredSpeed>((resolve, reject) => {
    let settled = false;
    let child: ChildProcess;
    try {
      child = fork(entry.module, [], { execArgv: entry.execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    } catch (e) {
      reject(e);
      return;
    }
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      child.kill('SIGKILL');
      finish(() => reject(new MeasureCancelledError()));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const forward = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log?.(line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    child.on('error', (e) => finish(() => reject(e)));
    child.on('message', (raw: unknown) => {
      const msg = raw as MeasureChildMessage;
      switch (msg.type) {
        case 'ready': {
          const start: MeasureParentMessage = { type: 'start', request };
          child.send(start);
          break;
        }
        case 'progress':
          onProgress?.(msg.done, msg.total);
          break;
        case 'done':
          finish(() => resolve(msg.measured));
          break;
        case 'error':
          finish(() =>
            reject(
              msg.user ? new BacError(msg.message) : new Error(`${msg.message}${msg.stack ? `\n${msg.stack}` : ''}`),
            ),
          );
          child.kill();
          break;
      }
    });
    child.on('exit', (code, sig) => {
      finish(() =>
        reject(
          new BacError(
            `the speed-measurement process stopped before finishing (${sig ? `signal ${sig}` : `exit code ${code}`}); see the BAC log for its last messages`,
          ),
        ),
      );
    });
  });
}
