import { readFile } from 'node:fs/promises';
import { profileMismatch } from '../core/editor-view';
import { parseProfile } from '../core/profile-format';
import type { ModelStatus, ProfileStatus } from '../core/protocol';
import type { Profile, Schedule } from '../core/types';
import { sha256Bytes } from '../engine/fsutil';
import { dirname, HashCache, resolveStored, statFile } from './files';

/**
 * Resolving what a `.bacschedule` links to: its `.bacprofile` (needed to re-solve and for the
 * charts) and its model (to tell a stale schedule). Every outcome comes with the sentence the
 * editor's banner and the CodeLens show: what is wrong, why it matters, how to fix it.
 */

const REPROFILE = 'Run "BAC: Profile Model" to profile the model again.';

/** A usable profile, or why there is none. */
export interface ProfileLink {
  readonly status: ProfileStatus;
  /** Set exactly when `status.state` is `ok`. */
  readonly profile: Profile | null;
  /** sha256 of the profile file (cache key for derived data such as trade-off curves). */
  readonly sha256: string | null;
}

/** Loads linked profiles and model hashes, caching both by (mtime, size). */
export class LinkResolver {
  private readonly profiles = new Map<
    string,
    { mtimeMs: number; size: number; sha256: string; parsed: ReturnType<typeof parseProfile> }
  >();

  constructor(readonly hashes: HashCache = new HashCache()) {}

  /**
   * The profile a schedule stored at `schedulePath` links, checked against the recorded sha256 and
   * against the schedule's K and blocks. `schedulePath` null means an untitled document.
   */
  async profile(schedulePath: string | null, schedule: Schedule): Promise<ProfileLink> {
    const ref = schedule.solver.profile;
    const fail = (state: ProfileStatus['state'], message: string): ProfileLink => ({
      status: { state, message, path: ref?.path ?? null },
      profile: null,
      sha256: null,
    });
    if (!ref) {
      return fail(
        'none',
        'This schedule links no profile (hand-written or a baseline), so budget, top-n and force-last cannot re-solve it and the similarity charts are empty. Cells can still be edited. ' +
          REPROFILE,
      );
    }
    if (schedulePath === null) {
      return fail(
        'unsaved',
        `The linked profile ${ref.path} is relative to the schedule, which is not saved yet. Save the file to re-solve it.`,
      );
    }
    const path = resolveStored(dirname(schedulePath), ref.path);
    const s = await statFile(path);
    if (!s) {
      return fail(
        'missing',
        `The linked profile ${ref.path} was not found next to this schedule, so it cannot be re-solved and the similarity charts are empty. ${REPROFILE}`,
      );
    }
    let hit = this.profiles.get(path);
    if (!hit || hit.mtimeMs !== s.mtimeMs || hit.size !== s.size) {
      const bytes = new Uint8Array(await readFile(path));
      hit = { ...s, sha256: sha256Bytes(bytes), parsed: parseProfile(bytes) };
      this.profiles.set(path, hit);
    }
    if (hit.sha256 !== ref.sha256) {
      return fail(
        'mismatch',
        `The profile ${ref.path} changed since this schedule was solved (sha256 ${hit.sha256.slice(0, 8)}… instead of ${ref.sha256.slice(0, 8)}…), so re-solving from it could silently mix two profilings. ${REPROFILE}`,
      );
    }
    if (!hit.parsed.ok) {
      const first = hit.parsed.errors[0];
      return fail(
        'invalid',
        `The profile ${ref.path} cannot be read (${first ? `${first.path ? `${first.path}: ` : ''}${first.message}` : 'unknown problem'}). ${REPROFILE}`,
      );
    }
    const why = profileMismatch(schedule, hit.parsed.profile);
    if (why) return fail('incompatible', `The profile ${ref.path} does not fit this schedule: ${why}. ${REPROFILE}`);
    return { status: { state: 'ok', message: '', path: ref.path }, profile: hit.parsed.profile, sha256: hit.sha256 };
  }

  /** Whether the schedule's model is still the file it was solved for. */
  async model(schedulePath: string | null, schedule: Schedule): Promise<ModelStatus> {
    if (schedulePath === null) return { state: 'unknown', message: '' };
    const path = resolveStored(dirname(schedulePath), schedule.model.path);
    let sha: string | null;
    try {
      sha = await this.hashes.sha256(path);
    } catch {
      return { state: 'unknown', message: '' };
    }
    if (sha === null) {
      return {
        state: 'missing',
        message: `The model ${schedule.model.path} was not found next to this schedule; it is stale until the model is back or re-profiled.`,
      };
    }
    if (sha !== schedule.model.sha256) {
      return {
        state: 'changed',
        message: `The model ${schedule.model.path} changed since this schedule was solved (sha256 differs), so its speedups and update steps may not hold. ${REPROFILE}`,
      };
    }
    return { state: 'ok', message: '' };
  }

  /** Forgets a file (a watcher saw it change). */
  invalidate(path: string): void {
    this.profiles.delete(path);
    this.hashes.invalidate(path);
  }
}
