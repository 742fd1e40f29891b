/**
 * Entry of the profiling child process (see profile-process.ts). It profiles one request and
 * reports over IPC (child-task.ts); it never writes the output file, so a crash here cannot leave
 * a partial one.
 */
import { serializeProfile } from '../core/profile-format';
import { serveChildTask } from './child-task';
import { ModelRejectedError } from './ort';
import type { ProfileProgress, ProfileRequest, ProfileResult } from './profile-protocol';
import { runProfile } from './profiler';

serveChildTask<ProfileRequest, ProfileProgress, ProfileResult>(
  async (request, hooks) => {
    const run = await runProfile(request, hooks);
    return {
      profileBase64: Buffer.from(serializeProfile(run.profile)).toString('base64'),
      provider: run.provider,
      notes: run.notes,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
  },
  // The profiler opens the model from bytes: name the file the user gave in the message.
  (e, request) => (e instanceof ModelRejectedError ? e.withModel(request.modelPath) : e),
);
