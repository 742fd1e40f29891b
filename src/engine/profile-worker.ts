/**
 * Entry of the profiling child process (see profile-process.ts). It profiles one request and
 * reports over IPC; it never writes the output file, so a crash here cannot leave a partial one.
 */
import { isBacError } from '../core/errors';
import { serializeProfile } from '../core/profile-format';
import type { ChildMessage, ParentMessage } from './profile-protocol';
import { runProfile } from './profiler';

function send(msg: ChildMessage): void {
  process.send?.(msg);
}

process.on('message', (raw: unknown) => {
  const msg = raw as ParentMessage;
  if (msg.type !== 'start') return;
  runProfile(msg.request, {
    progress: (progress) => send({ type: 'progress', progress }),
    log: (line) => send({ type: 'log', line }),
  }).then(
    (run) => {
      const bytes = serializeProfile(run.profile);
      send({ type: 'done', profileBase64: Buffer.from(bytes).toString('base64'), provider: run.provider, notes: run.notes });
      // Exit once the message is flushed; the ORT threads would otherwise keep the process alive.
      process.disconnect?.();
    },
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      send({ type: 'error', message: err.message, user: isBacError(e), stack: isBacError(e) ? undefined : err.stack });
      process.disconnect?.();
    },
  );
});

process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
