import { scheduleBaseCost } from './cost';
import { solveAcs } from './acs';
import { BacError } from './errors';
import { assertSolvableProfile, blockSimilarity, composeBlock, solveSchedule } from './solve';
import type { FileRef, Profile, Schedule } from './types';

/**
 * The comparison schedules of docs/method.md "Baselines". Each is a full {@link Schedule} so it can be
 * costed, evaluated, compiled and shown exactly like a BAC schedule.
 */

/** Names of the baselines, in the order tables show them. */
export type BaselineKind = 'full' | 'uniform' | 'unified-acs' | 'acs-no-bua' | 'bac';

/** Human labels of {@link BaselineKind}. */
export const BASELINE_LABELS: Readonly<Record<BaselineKind, string>> = {
  full: 'Full',
  uniform: 'Uniform',
  'unified-acs': 'Unified ACS',
  'acs-no-bua': 'ACS w/o BUA',
  bac: 'BAC',
};

/** Every step 0 … K−1. */
export function fullSteps(K: number): number[] {
  return Array.from({ length: K }, (_, k) => k);
}

/**
 * Uniform(M): steps k with k ≡ 0 (mod N), N = ⌊K / M⌋, as the official code's `step % N == 0`.
 * When M does not divide K this gives ⌈K / N⌉ ≥ M updates. O(K).
 * @throws BacError for M outside 1 … K.
 */
export function uniformSteps(K: number, M: number): number[] {
  if (!Number.isInteger(M) || M < 1 || M > K) {
    throw new BacError(`budget ${M} is out of range, expected an integer in 1…${K} (K = ${K} steps)`);
  }
  const N = Math.floor(K / M);
  return fullSteps(K).filter((k) => k % N === 0);
}

function uniformSchedule(
  profile: Profile,
  model: FileRef,
  steps: number[],
  budget: number,
  forceLast: boolean,
): Schedule {
  return {
    model,
    sampler: profile.sampler,
    solver: { budget, topN: 0, forceLast, profile: null },
    baseCost: scheduleBaseCost(profile),
    blocks: profile.blocks.map((b) => composeBlock(b.id, b.cost, steps, [])),
  };
}

/**
 * Builds one baseline (or BAC itself) at budget M from a profile.
 * `unified-acs` solves ACS on the most upstream self-attention block (layer 0 `sa`, as the paper)
 * and applies its set to every block. O(B · M · K²) at most.
 * @throws BacError for parameters out of range or a profile without a `0.sa` block.
 */
export function buildBaseline(
  kind: BaselineKind,
  profile: Profile,
  model: FileRef,
  budget: number,
  topN: number,
  forceLast: boolean,
  profileRef: FileRef | null = null,
): Schedule {
  assertSolvableProfile(profile);
  const K = profile.sampler.steps;
  switch (kind) {
    case 'full':
      return uniformSchedule(profile, model, fullSteps(K), K, false);
    case 'uniform':
      return uniformSchedule(profile, model, uniformSteps(K, budget), budget, false);
    case 'unified-acs': {
      const first = profile.blocks.find((b) => b.id === '0.sa');
      if (!first) throw new BacError('profile: has no block 0.sa, which Unified ACS solves on');
      const steps = solveAcs(blockSimilarity(first, K), budget, { forceLast }, 'block 0.sa').steps;
      return {
        ...uniformSchedule(profile, model, steps, budget, forceLast),
        solver: { budget, topN: 0, forceLast, profile: profileRef },
      };
    }
    case 'acs-no-bua':
      return solveSchedule(profile, { budget, topN: 0, forceLast, profile: profileRef }, model);
    case 'bac':
      return solveSchedule(profile, { budget, topN, forceLast, profile: profileRef }, model);
  }
}
