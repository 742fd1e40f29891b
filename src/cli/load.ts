/**
 * Reading BAC files from disk into validated values, with user errors naming the file and field.
 */
import { parseProfile } from '../core/profile-format';
import { parseSchedule } from '../core/schedule-format';
import type { Profile, Schedule } from '../core/types';
import { FileIssuesError } from './args';
import { readInput } from './fsutil';

/** Whether bytes start like a `.bacprofile` (its 8-byte magic), so `bac info` can take either file. */
export function looksLikeProfile(bytes: Uint8Array): boolean {
  const magic = 'BACPROF\0';
  return bytes.length >= 8 && [...magic].every((ch, i) => bytes[i] === ch.charCodeAt(0));
}

/**
 * Reads and validates a `.bacprofile`. Returns the profile and its bytes (for hashing).
 * @throws BacError / FileIssuesError naming the file and every issue.
 */
export async function loadProfile(file: string): Promise<{ profile: Profile; bytes: Uint8Array }> {
  const bytes = await readInput(file, 'a .bacprofile written by `bac profile` or BAC Studio');
  const r = parseProfile(bytes);
  if (!r.ok) throw new FileIssuesError(file, r.errors);
  return { profile: r.profile, bytes };
}

/** Decodes UTF-8 strictly; a non-UTF-8 file is reported as one issue. */
function decodeUtf8(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FileIssuesError(file, [
      { path: '', message: 'is not valid UTF-8 text, expected a UTF-8 JSON .bacschedule' },
    ]);
  }
}

/**
 * Validates `.bacschedule` bytes already read.
 * @throws FileIssuesError naming the file and every issue.
 */
export function scheduleFromBytes(file: string, bytes: Uint8Array): Schedule {
  const r = parseSchedule(decodeUtf8(file, bytes));
  if (!r.ok) throw new FileIssuesError(file, r.errors);
  return r.schedule;
}

/**
 * Reads and validates a `.bacschedule`.
 * @throws BacError / FileIssuesError naming the file and every issue.
 */
export async function loadSchedule(file: string): Promise<Schedule> {
  return scheduleFromBytes(file, await readInput(file, 'a .bacschedule'));
}
