import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BacError, isBacError } from '../core/errors';

/**
 * One piece of ONNX Runtime work in a separate Node process: profiling (profile-process.ts) and
 * speed measurement (measure-process.ts). ORT's synchronous calls then never block the caller's
 * event loop (the extension host), a native abort or running out of memory ends only the child,
 * and a cancel kills it. The child never writes the caller's output: it sends its result over IPC
 * and the parent decides what to do with it, so a killed child cannot leave a partial file.
 *
 * Protocol (plain data over IPC): the child says `ready`, the parent sends `start` with the
 * request once, the child sends `log` and `progress` messages, then exactly one `done` with the
 * result or one `error`, and leaves.
 */

/** Parent → child. */
export type TaskParentMessage<Request> = { readonly type: 'start'; readonly request: Request };

/** Child → parent. */
export type TaskChildMessage<Progress, Result> =
  | { readonly type: 'ready' }
  /** A log line for the Output channel / stderr. */
  | { readonly type: 'log'; readonly line: string }
  | { readonly type: 'progress'; readonly progress: Progress }
  | { readonly type: 'done'; readonly result: Result }
  /** Failure; `user` is true for a user error (BacError), false for a bug. */
  | { readonly type: 'error'; readonly message: string; readonly user: boolean; readonly stack?: string };

/** What the parent side needs to run one task. */
export interface ChildTaskOptions<Request, Progress, Result, Outcome> {
  /** Worker file name without extension, beside this module (`profile-worker`). */
  readonly worker: string;
  /** Entry module to fork instead (e.g. the bundled worker from a tool that runs from sources). */
  readonly workerModule?: string;
  readonly request: Request;
  readonly onProgress?: (p: Progress) => void;
  /** Receives the child's log messages, stdout and stderr lines. */
  readonly log?: (line: string) => void;
  /** Aborting kills the child; the promise rejects with `cancelled()` unless the result arrived. */
  readonly signal?: AbortSignal;
  readonly cancelled: () => Error;
  /** Extra environment for the child. */
  readonly env?: NodeJS.ProcessEnv;
  /** Receives the child's pid once it runs. */
  readonly onSpawn?: (pid: number) => void;
  /**
   * Turns the result into the outcome (e.g. writes the file); the task settles only once it
   * finished, and a cancel or the child's exit after `done` no longer changes the outcome.
   */
  readonly onResult: (result: Result) => Outcome | Promise<Outcome>;
  /** The message of the BacError for a child that ended before its result (`how`: signal or code). */
  readonly died: (how: string) => string;
}

/**
 * The worker to fork: the bundled `dist/<worker>.js` beside this bundle, or, from sources (tests,
 * tsx), the TypeScript entry through tsx — by absolute URL, as the child may run in any directory.
 */
function workerEntry(worker: string): { module: string; execArgv: string[] } {
  const bundled = join(__dirname, `${worker}.js`);
  if (existsSync(bundled)) return { module: bundled, execArgv: [] };
  const source = join(__dirname, `${worker}.ts`);
  if (existsSync(source)) return { module: source, execArgv: ['--import', pathToFileURL(require.resolve('tsx')).href] };
  throw new Error(`${worker} not found beside ${__dirname} (expected ${worker}.js or .ts)`);
}

/**
 * Runs one task in a child process (parent side).
 * @throws BacError for user errors the child reported, or when the child died before its result.
 * @throws `cancelled()` when `signal` aborted before the result arrived.
 */
export function runChildTask<Request, Progress, Result, Outcome>(
  o: ChildTaskOptions<Request, Progress, Result, Outcome>,
): Promise<Outcome> {
  const { signal, log } = o;
  if (signal?.aborted) return Promise.reject(o.cancelled());
  const entry = o.workerModule ? { module: o.workerModule, execArgv: [] } : workerEntry(o.worker);
  return new Promise<Outcome>((resolve, reject) => {
    let settled = false;
    let resultReceived = false;
    let child: ChildProcess;
    try {
      child = fork(entry.module, [], {
        execArgv: entry.execArgv,
        env: { ...process.env, ...o.env },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        serialization: 'advanced',
      });
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
      // Once the result arrived the work is done and its outcome is being made (a file written,
      // milliseconds): a late cancel must not report "cancelled" while the outcome appears.
      if (resultReceived) return;
      child.kill('SIGKILL');
      finish(() => reject(o.cancelled()));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const forward = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log?.(line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    child.on('error', (e) => finish(() => reject(e)));
    child.on('message', (raw: unknown) => {
      const msg = raw as TaskChildMessage<Progress, Result>;
      switch (msg.type) {
        case 'ready': {
          if (child.pid !== undefined) o.onSpawn?.(child.pid);
          const start: TaskParentMessage<Request> = { type: 'start', request: o.request };
          child.send(start);
          break;
        }
        case 'log':
          log?.(msg.line);
          break;
        case 'progress':
          o.onProgress?.(msg.progress);
          break;
        case 'error':
          finish(() =>
            reject(
              msg.user ? new BacError(msg.message) : new Error(`${msg.message}${msg.stack ? `\n${msg.stack}` : ''}`),
            ),
          );
          child.kill();
          break;
        case 'done':
          resultReceived = true;
          Promise.resolve()
            .then(() => o.onResult(msg.result))
            .then(
              (outcome) => finish(() => resolve(outcome)),
              (e: unknown) => finish(() => reject(e)),
            );
          break;
      }
    });
    child.on('exit', (code, sig) => {
      // After `done` the child exits by design while the parent may still be making the outcome.
      if (resultReceived) return;
      finish(() => reject(new BacError(o.died(sig ? `signal ${sig}` : `exit code ${code}`))));
    });
  });
}

/**
 * Serves one task in the child process (worker side): waits for `start`, runs `run` with hooks
 * that report progress and log lines, sends `done` or `error`, and leaves once the message is on
 * the channel (ORT's threads would otherwise keep the process alive). `describeError` may rewrite
 * a thrown error first (e.g. name the model file the user gave).
 */
export function serveChildTask<Request, Progress, Result>(
  run: (request: Request, hooks: { progress: (p: Progress) => void; log: (line: string) => void }) => Promise<Result>,
  describeError: (e: unknown, request: Request) => unknown = (e) => e,
): void {
  const send = (msg: TaskChildMessage<Progress, Result>): Promise<void> =>
    new Promise((resolve) => {
      // resolves once handed to the IPC channel, so exiting cannot drop it
      if (!process.send) resolve();
      else process.send(msg, undefined, {}, () => resolve());
    });
  process.on('message', (raw: unknown) => {
    const msg = raw as TaskParentMessage<Request>;
    if (msg.type !== 'start') return;
    run(msg.request, {
      progress: (progress) => void send({ type: 'progress', progress }),
      log: (line) => void send({ type: 'log', line }),
    })
      .then(
        (result) => send({ type: 'done', result }),
        (thrown: unknown) => {
          const e = describeError(thrown, msg.request);
          const err = e instanceof Error ? e : new Error(String(e));
          return send({
            type: 'error',
            message: err.message,
            user: isBacError(e),
            stack: isBacError(e) ? undefined : err.stack,
          });
        },
      )
      .finally(() => process.disconnect?.());
  });
  // The parent decides about interrupts: Ctrl-C in a terminal signals the whole process group, and
  // the parent must report one "interrupted" (it kills this process), not "the child died".
  process.on('SIGINT', () => undefined);
  // A parent that ended (even by SIGKILL) closes the IPC channel: nobody wants the result any more.
  process.on('disconnect', () => process.exit(0));
  void send({ type: 'ready' });
}
