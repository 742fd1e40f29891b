/**
 * Entry of the profiling child process (see profile-process.ts). It profiles one request and
 * reports over IPC; it never writes the output file, so a crash here cannot leave a partial one.
 */
import { isBacError } from '../core/errors';
import { serializeProfile } from '../core/profile-format';
import { ModelRejectedError } from './ort';
import type { ChildMessage, ParentMessage } from './profile-protocol';
import { runProfile } from './profiler';

/** Sends a message; resolves once it was handed to the IPC channel (so exiting cannot drop it). */
function send(msg: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(msg, undefined, {}, () => resolve());
  });
}

process.on('message', (raw: unknown) => {
  const msg = raw as ParentMessage;
  if (msg.type !== 'start') return;
  runProfile(msg.request, {
    progress: (progress) => void send({ type: 'progress', progress }),
    log: (line) => void send({ type: 'log', line }),
  })
    .then(
      (run) => {
        const bytes = serializeProfile(run.profile);
        return send({
          type: 'done',
          profileBase64: Buffer.from(bytes).toString('base64'),
          provider: run.provider,
          notes: run.notes,
          peakRssBytes: process.resourceUsage().maxRSS * 1024,
        });
      },
      (thrown: unknown) => {
        // The profiler opens the model from bytes: name the file the user gave in the message.
        const e = thrown instanceof ModelRejectedError ? thrown.withModel(msg.request.modelPath) : thrown;
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

// The parent decides about interrupts: Ctrl-C in a terminal signals the whole process group, and
// the parent must report one "interrupted" (it kills this process), not "the child died".
process.on('SIGINT', () => undefined);
// A parent that ended (even by SIGKILL) closes the IPC channel: nobody wants the result any more.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
