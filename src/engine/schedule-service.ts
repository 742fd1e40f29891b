/**
 * "Solve and write a schedule, keeping manual edits": the one workflow behind `bac solve` and the
 * extension's "BAC: Profile Model". Given a profile and parameters, it solves, carries over the
 * hand edits of the schedule already at the output path, and writes the result atomically.
 *
 * Edits that cannot be carried over (a block the profiled model does not have, a step beyond the
 * new K) are never dropped silently: they are listed with the reason, and unless the caller allows
 * dropping them (a person confirmed the overwrite) nothing is written.
 */
import { dirname, resolve } from 'node:path';
import { BacError } from '../core/errors';
import { serializeSchedule } from '../core/schedule-format';
import type { CostTarget } from '../core/cost-target';
import { solveAtBudget, solveForTarget } from '../core/methods';
import type { ScheduleMethod } from '../core/solver-params';
import { solveSchedule, type ManualEdits } from '../core/solve';
import { checkSolverParams, type SolverChoice } from '../core/solver-params';
import type { FileRef, Profile, Schedule } from '../core/types';
import { writeFileAtomic } from './fsutil';
import { relativePosix, resolveStored } from './paths';

/** Hand edits of one block that could not be kept, and why. */
export interface DroppedEdits {
  readonly block: string;
  readonly manual: readonly number[];
  readonly manualOff: readonly number[];
  readonly reason: string;
}

/** What {@link solveAndWriteSchedule} needs. */
export interface SolveAndWriteRequest {
  readonly profile: Profile;
  /** Where the profile is (its model path is stored relative to it). */
  readonly profilePath: string;
  readonly profileSha256: string;
  /** The `.bacschedule` to write. */
  readonly outPath: string;
  readonly params: SolverChoice;
  /** The schedule method (default bac, which uses every parameter). */
  readonly method?: ScheduleMethod;
  /** Solve for this cost target instead of `params.budget` (see core/methods.ts). */
  readonly target?: CostTarget;
  /** The model file when it is no longer where the profile says (its sha256 already checked). */
  readonly modelPath?: string;
  /** The valid schedule now at `outPath`, whose hand edits are kept; undefined when there is none. */
  readonly existing?: Schedule;
  /** Write even when some edits cannot be kept (they are returned in `dropped`). Default false. */
  readonly dropUnkeepable?: boolean;
  /** Atomic writer; default the engine's (the CLI passes one that words file-system errors). */
  readonly write?: (path: string, text: string) => Promise<void>;
}

/** What was written. */
export interface SolveAndWriteResult {
  readonly schedule: Schedule;
  /** Ids of blocks whose hand edits were carried over. */
  readonly kept: readonly string[];
  readonly dropped: readonly DroppedEdits[];
}

/**
 * Solves `request.profile` with `request.params`, keeps the existing schedule's hand edits, and
 * writes the schedule atomically.
 * @throws BacError for parameters out of range, or when edits cannot be kept and dropping them was
 *   not allowed (naming the file, the blocks and the reason; nothing is written).
 */
export async function solveAndWriteSchedule(request: SolveAndWriteRequest): Promise<SolveAndWriteResult> {
  const { profile, profilePath, outPath, params, existing } = request;
  const K = profile.sampler.steps;
  const refused = checkSolverParams(params, { K, blocks: profile.blocks.length });
  if (refused) throw new BacError(refused);
  const { edits, kept, dropped } = carryEdits(existing, profile);
  if (dropped.length > 0 && !request.dropUnkeepable) throw new BacError(droppedMessage(outPath, dropped, existing!, K));
  const outDir = dirname(resolve(outPath));
  const modelPath = request.modelPath ?? resolveStored(dirname(resolve(profilePath)), profile.model.path);
  const model: FileRef = { path: relativePosix(outDir, modelPath), sha256: profile.model.sha256 };
  const profileRef: FileRef = { path: relativePosix(outDir, profilePath), sha256: request.profileSha256 };
  const method = request.method ?? 'bac';
  const options = { topN: params.topN, forceLast: params.forceLast, model, profileRef, edits };
  const schedule = request.target
    ? solveForTarget(method, profile, request.target, options).schedule
    : method === 'bac'
      ? solveSchedule(profile, { ...params, profile: profileRef }, model, edits)
      : solveAtBudget(method, profile, params.budget, options);
  await (request.write ?? writeFileAtomic)(outPath, serializeSchedule(schedule));
  return { schedule, kept, dropped };
}

/** The hand edits of `existing` that fit `profile`, and those that do not. O(Σ edits). */
export function carryEdits(
  existing: Schedule | undefined,
  profile: Profile,
): { edits: Map<string, ManualEdits>; kept: string[]; dropped: DroppedEdits[] } {
  const edits = new Map<string, ManualEdits>();
  const kept: string[] = [];
  const dropped: DroppedEdits[] = [];
  if (!existing) return { edits, kept, dropped };
  const K = profile.sampler.steps;
  const blocks = new Set(profile.blocks.map((b) => b.id));
  for (const b of existing.blocks) {
    if (b.manual.length + b.manualOff.length === 0) continue;
    if (!blocks.has(b.id)) {
      dropped.push({
        block: b.id,
        manual: b.manual,
        manualOff: b.manualOff,
        reason: 'block not in the profiled model',
      });
      continue;
    }
    const beyond = [...b.manual, ...b.manualOff].filter((k) => k >= K);
    if (beyond.length > 0) {
      dropped.push({
        block: b.id,
        manual: b.manual.filter((k) => k >= K),
        manualOff: b.manualOff.filter((k) => k >= K),
        reason: `step ${beyond.join(', ')} beyond the profile's last step ${K - 1}`,
      });
    }
    const fit = { manual: b.manual.filter((k) => k < K), manualOff: b.manualOff.filter((k) => k < K) };
    if (fit.manual.length + fit.manualOff.length > 0) {
      edits.set(b.id, fit);
      kept.push(b.id);
    }
  }
  return { edits, kept, dropped };
}

/** One message for edits that would be lost: the file, the K mismatch if any, each block and why. */
function droppedMessage(outPath: string, dropped: readonly DroppedEdits[], existing: Schedule, K: number): string {
  const byReason = new Map<string, string[]>();
  for (const d of dropped) byReason.set(d.reason, [...(byReason.get(d.reason) ?? []), d.block]);
  const list = [...byReason].map(([reason, ids]) => `${ids.join(', ')} (${reason})`).join('; ');
  const kNote =
    existing.sampler.steps !== K
      ? ` It was solved for K = ${existing.sampler.steps} steps; the profile has K = ${K}.`
      : '';
  return (
    `${outPath}: the manual edits of ${dropped.length} block(s) cannot be kept: ${list}.${kNote} ` +
    'Nothing was written; expected an --out schedule of the same model and K: delete it, or write to another file'
  );
}

/** Short text for logs and CLI output: "kept the manual edits of …", "dropped …". */
export function describeCarriedEdits(outPath: string, result: Pick<SolveAndWriteResult, 'kept' | 'dropped'>): string[] {
  const lines: string[] = [];
  if (result.kept.length > 0)
    lines.push(`kept the manual edits of ${result.kept.length} block(s) from the existing ${outPath}`);
  for (const d of result.dropped)
    lines.push(`dropped the manual edits of block ${d.block} from ${outPath}: ${d.reason}`);
  return lines;
}
