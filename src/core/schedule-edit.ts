/**
 * The edits a person makes to a schedule in the editor, as pure functions of the schedule:
 * toggling one (block, step) cell, and re-solving with new parameters while keeping hand edits.
 * The editor turns the result into a minimal text edit (see `edits.ts`).
 */
import { originOf } from './blocks';
import type { CostTarget } from './cost-target';
import { BacError } from './errors';
import { solveAtBudget, solveForTarget } from './methods';
import { manualEditsOf, solveSchedule } from './solve';
import { checkSolverParams, type ScheduleMethod, type SolverChoice } from './solver-params';
import type { BlockId, Profile, Schedule, ScheduleBlock, SolverParams } from './types';

/** Result of an edit: the new schedule, or why the edit is refused (one sentence for the UI). */
export type EditResult =
  { readonly ok: true; readonly schedule: Schedule } | { readonly ok: false; readonly reason: string };

/** Why step 0 cannot be toggled; shown in the editor's tooltip and status line. */
export const STEP_ZERO_REASON =
  'Step 0 always computes: at the first denoising step no block has a cache to reuse yet.';

const without = (a: readonly number[], s: number): number[] => a.filter((x) => x !== s);
const withStep = (a: readonly number[], s: number): number[] => [...a, s].sort((x, y) => x - y);

/**
 * Toggles whether `blockId` updates at `step`:
 * - an update made by hand is simply removed;
 * - an ACS or BUA update is removed and recorded in `manualOff`, so a re-solve honours the removal;
 * - a reuse step becomes a manual update (and leaves `manualOff` if a person had removed it), so a
 *   re-solve keeps it.
 * Step 0 is refused (every block computes there). O(S log S) for the block, O(B) for the copy.
 */
export function toggleStep(schedule: Schedule, blockId: BlockId, step: number): EditResult {
  const K = schedule.sampler.steps;
  const index = schedule.blocks.findIndex((b) => b.id === blockId);
  if (index < 0) return { ok: false, reason: `Block ${blockId} is not in this schedule.` };
  if (!Number.isInteger(step) || step < 0 || step >= K) {
    return { ok: false, reason: `Step ${step} is out of range; this schedule has steps 0…${K - 1}.` };
  }
  if (step === 0) return { ok: false, reason: STEP_ZERO_REASON };
  const b = schedule.blocks[index]!;
  let next: ScheduleBlock;
  switch (originOf(b, step)) {
    case 'manual':
      next = { ...b, manual: without(b.manual, step) };
      break;
    case 'acs':
      next = { ...b, acs: without(b.acs, step), manualOff: withStep(b.manualOff, step) };
      break;
    case 'bua':
      next = { ...b, bua: without(b.bua, step), manualOff: withStep(b.manualOff, step) };
      break;
    case null:
      next = { ...b, manual: withStep(b.manual, step), manualOff: without(b.manualOff, step) };
      break;
  }
  const blocks = schedule.blocks.slice();
  blocks[index] = next;
  return { ok: true, schedule: { ...schedule, blocks } };
}

/** The parameters the editor's controls change; the profile reference is kept as it is. */
export interface SolverControls extends SolverChoice {
  /** The schedule method (`bac solve --method`); a re-solve keeps the schedule's unless changed. */
  readonly method: ScheduleMethod;
  /**
   * Solve for this expected speedup instead of `budget`: the method's best schedule that meets it
   * (`bac solve --target-speedup`). The budget it picks is what the file records.
   */
  readonly target?: CostTarget;
}

/**
 * Re-solves `schedule` from `profile` with new controls — the method at a budget, or the method's
 * best schedule for a cost target — keeping every hand edit (manual updates and removals) and the
 * schedule's model and profile references. The caller has checked that the profile is the one the
 * schedule links (sha256). Refuses parameters out of range and unreachable targets with a sentence.
 * O(B · M · K² + B² · M) per budget tried (a target tries O(log K) budgets).
 */
export function resolveWithControls(schedule: Schedule, profile: Profile, controls: SolverControls): EditResult {
  const K = profile.sampler.steps;
  if (K !== schedule.sampler.steps) {
    return {
      ok: false,
      reason: `The profile has K = ${K} steps but the schedule has ${schedule.sampler.steps}; re-profile the model.`,
    };
  }
  const { budget, topN, forceLast, method, target } = controls;
  const refused = checkSolverParams(target ? { ...controls, budget: K } : controls, {
    K,
    blocks: profile.blocks.length,
  });
  if (refused) return { ok: false, reason: refused };
  const edits = manualEditsOf(schedule);
  const profileRef = schedule.solver.profile;
  const options = { topN, forceLast, model: schedule.model, profileRef, edits };
  try {
    if (target) return { ok: true, schedule: solveForTarget(method, profile, target, options).schedule };
    if (method !== 'bac') return { ok: true, schedule: solveAtBudget(method, profile, budget, options) };
    const params: SolverParams = { budget, topN, forceLast, profile: profileRef };
    return { ok: true, schedule: solveSchedule(profile, params, schedule.model, edits) };
  } catch (e) {
    if (e instanceof BacError) return { ok: false, reason: sentence(e.message) };
    throw e;
  }
}

/** A solver message as one sentence for the status line. */
function sentence(message: string): string {
  const s = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}
