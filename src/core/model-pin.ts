/**
 * A schedule pins the model it was solved for by sha256 (`model.sha256`). Whatever runs, compiles,
 * measures or sweeps a schedule checks that pin against the model it loaded, so a schedule never
 * runs on a model whose blocks it was not solved for — with one message everywhere.
 */
import { BacError } from './errors';
import type { FileRef } from './types';

/**
 * Checks a schedule's model pin. O(1).
 * @param scheduleName how the user knows the schedule: its path, or a name (`schedule`).
 * @throws BacError when `modelSha256` (the loaded model's) differs from `pinned.sha256`, naming
 *   the schedule, the pinned path, both hashes (12 digits) and the remedy.
 */
export function checkModelPin(pinned: FileRef, modelSha256: string, scheduleName: string): void {
  if (pinned.sha256 === modelSha256) return;
  throw new BacError(
    `${scheduleName}: model.sha256 ${pinned.sha256.slice(0, 12)}… does not match the model (${modelSha256.slice(0, 12)}…; the schedule names ${pinned.path}): the schedule was solved for another model, or the model changed since; use the model it names, or re-profile and re-solve`,
  );
}
