/**
 * Reading `.bacschedule` files from disk into validated values, with user errors naming the file
 * and field, and telling a profile's bytes from a schedule's (profiles are read by the engine's
 * profile-file.ts).
 */
import { FileIssuesError } from '../core/json-validate';
import { parseSchedule } from '../core/schedule-format';
import type { Schedule } from '../core/types';
import { readInput } from '../engine/fsutil';

/** Whether bytes start like a `.bacprofile` (its 8-byte magic), so `bac info` can take either file. */
export function looksLikeProfile(bytes: Uint8Array): boolean {
  const magic = 'BACPROF\0';
  return bytes.length >= 8 && [...magic].every((ch, i) => bytes[i] === ch.charCodeAt(0));
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
