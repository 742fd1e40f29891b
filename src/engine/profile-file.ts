/**
 * Reading a `.bacprofile` from disk into a validated profile: the one reader of the CLI commands
 * and the tuning child process, so a missing or broken profile reads the same wherever it is met.
 */
import { FileIssuesError } from '../core/json-validate';
import { parseProfile } from '../core/profile-format';
import type { Profile } from '../core/types';
import { readInput } from './fsutil';

/** A `.bacprofile` read and validated, with its bytes (for the hash a schedule records). */
export interface LoadedProfile {
  readonly profile: Profile;
  readonly bytes: Uint8Array;
}

/**
 * Reads and validates a `.bacprofile`.
 * @throws BacError when it cannot be read; FileIssuesError naming the file and every issue.
 */
export async function loadProfile(file: string): Promise<LoadedProfile> {
  const bytes = await readInput(file, 'a .bacprofile written by `bac profile` or BAC: Profile Model');
  const r = parseProfile(bytes);
  if (!r.ok) throw new FileIssuesError(file, r.errors);
  return { profile: r.profile, bytes };
}
