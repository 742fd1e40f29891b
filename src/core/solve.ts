import { scheduleBaseCost } from './cost';
import { solveAcs } from './acs';
import { parseBlockId } from './blocks';
import { bubblingUnion } from './bua';
import { BacError } from './errors';
import type { SquareMatrix } from './matrix';
import type { BlockId, BlockProfile, Cost, FileRef, Profile, Schedule, ScheduleBlock, SolverParams } from './types';

/** A person's edits of one block, carried across re-solves. */
export interface ManualEdits {
  /** Steps added by hand. */
  readonly manual: readonly number[];
  /** Steps removed by hand (never 0). */
  readonly manualOff: readonly number[];
}

/** The similarity matrix of a profiled block as a {@link SquareMatrix}. */
export function blockSimilarity(block: BlockProfile, K: number): SquareMatrix {
  return { size: K, data: block.simMean };
}

/**
 * Combines solver sets with manual edits into a schedule block. Manual edits win: a step a person
 * added is reported as `manual` even when the solver also picks it (so the pin survives the next
 * re-solve), and a step a person removed is dropped from the solver's sets. O(S log S).
 */
export function composeBlock(
  id: BlockId,
  cost: Cost,
  acs: readonly number[],
  bua: readonly number[],
  edits: ManualEdits = { manual: [], manualOff: [] },
): ScheduleBlock {
  const off = new Set(edits.manualOff);
  const manual = [...new Set(edits.manual)].filter((s) => !off.has(s)).sort((a, b) => a - b);
  const pinned = new Set(manual);
  const acsSet = new Set(acs);
  return {
    id,
    acs: acs.filter((s) => !off.has(s) && !pinned.has(s)),
    bua: bua.filter((s) => !off.has(s) && !pinned.has(s) && !acsSet.has(s)),
    manual,
    manualOff: [...off].filter((s) => s !== 0).sort((a, b) => a - b),
    cost,
  };
}

/**
 * Checks the parts of a profile the solver relies on.
 * @throws BacError naming the block and field.
 */
export function assertSolvableProfile(profile: Profile): void {
  const K = profile.sampler.steps;
  if (!Number.isInteger(K) || K < 1) throw new BacError(`profile: sampler.steps = ${K}, expected an integer ≥ 1`);
  if (profile.blocks.length === 0)
    throw new BacError('profile: has no blocks, expected the decoder blocks of the model');
  for (const b of profile.blocks) {
    if (!parseBlockId(b.id)) throw new BacError(`profile: block id "${b.id}" is invalid, expected <layer>.<sa|ca|ffn>`);
    if (b.simMean.length !== K * K) {
      throw new BacError(`profile: block ${b.id} similarity has ${b.simMean.length} entries, expected ${K}×${K}`);
    }
  }
}

/**
 * BAC: block-wise ACS with budget M for every block, then the Bubbling Union with top-n, then the
 * person's edits from `edits` (by block id). O(B · M · K² + B² · M).
 * @throws BacError for an inconsistent profile or parameters out of range.
 */
export function solveSchedule(
  profile: Profile,
  params: SolverParams,
  model: FileRef,
  edits: ReadonlyMap<BlockId, ManualEdits> = new Map(),
): Schedule {
  assertSolvableProfile(profile);
  const K = profile.sampler.steps;
  const acsSets = profile.blocks.map(
    (b) => solveAcs(blockSimilarity(b, K), params.budget, { forceLast: params.forceLast }, `block ${b.id}`).steps,
  );
  const bua = bubblingUnion(
    profile.blocks.map((b, i) => ({ id: b.id, layer: b.layer, kind: b.kind, l1: b.l1Mean, acs: acsSets[i]! })),
    params.topN,
  );
  return {
    model,
    sampler: profile.sampler,
    solver: params,
    baseCost: scheduleBaseCost(profile),
    blocks: profile.blocks.map((b, i) => composeBlock(b.id, b.cost, bua[i]!.acs, bua[i]!.bua, edits.get(b.id))),
  };
}

/** The manual edits of every block of a schedule, for re-solving with new parameters. */
export function manualEditsOf(schedule: Schedule): Map<BlockId, ManualEdits> {
  return new Map(schedule.blocks.map((b) => [b.id, { manual: b.manual, manualOff: b.manualOff }]));
}
