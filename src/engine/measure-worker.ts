/**
 * Entry of the speed-measurement child process (see measure-process.ts): ONNX Runtime runs here,
 * not in the extension host, and the parent can end it at any time.
 */
import { isBacError } from '../core/errors';
import type { MeasureChildMessage, MeasureParentMessage } from './measure-protocol';
import { measureScheduleSpeed } from './measure-speed';

/** Sends a message; resolves once it was handed to the IPC channel (so exiting cannot drop it). */
function send(msg: MeasureChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(msg, undefined, {}, () => resolve());
  });
}

process.on('message', (raw: unknown) => {
  const msg = raw as MeasureParentMessage;
  if (msg.type !== 'start') return;
  measureScheduleSpeed(msg.request, (done, total) => void send({ type: 'progress', done, total }))
    .then(
      (measured) => send({ type: 'done', measured }),
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        return send({
          type: 'error',
          message: err.message,
          user: isBacError(e),
          stack: isBacError(e) ? undefined : err.stack,
        });
      },
    )
    // Leave once the result is on the channel; ORT's threads would otherwise keep the process alive.
    .finally(() => process.disconnect?.());
});

// A parent that ended (even by SIGKILL) closes the IPC channel: nobody wants the result any more.
process.on('disconnect', () => process.exit(0));
void send({ type: 'ready' });
