import { cacheSources, updateSteps } from './blocks';
import { BacError } from './errors';
import type { BlockId, Profile, Schedule } from './types';

/**
 * Predicted-error proxy of a schedule, computed from the profile alone (no model run), so the
 * editor can draw a speed/error trade-off curve while the user drags the budget.
 *
 * Definition: for block b with update set C(b), the cache used at step k comes from
 * s(k) = max{c ∈ C(b) : c ≤ k}; its directional mismatch is 1 − Sim_b[s(k)][k] (0 at updates).
 * Blocks are weighted by their reuse-error magnitude ℓ_b relative to the mean ℓ over blocks, since
 * a block whose outputs barely move contributes little error even at low similarity:
 *
 *   proxy = (1 / (B · K)) · Σ_b (ℓ_b / ℓ̄) · Σ_k (1 − Sim_b[s(k)][k])
 *
 * It is 0 for the Full schedule, grows as reuse spans longer or less similar stretches, and is
 * comparable between schedules of the same profile. It is NOT an action error: measured action
 * error comes from `bac eval`. It ignores error propagation between blocks (what BUA targets), so
 * it can rank ACS-without-BUA too favourably; the editor says so.
 */

/**
 * Σ_k (1 − Sim[s(k)][k]) of one block with update steps `updates`: the unweighted mismatch the proxy
 * sums (0 when every step updates). O(K).
 */
export function reuseMismatch(simMean: Float32Array, K: number, updates: readonly number[]): number {
  const src = cacheSources(updates, K);
  let mismatch = 0;
  for (let k = 0; k < K; k++) mismatch += 1 - simMean[src[k]! * K + k]!;
  return mismatch;
}

/** Per-block breakdown and total of the proxy. */
export interface ErrorProxy {
  /** The proxy defined above. */
  readonly total: number;
  /** Each block's weighted share, Σ over blocks = `total`. */
  readonly perBlock: ReadonlyMap<BlockId, number>;
}

/**
 * Computes the proxy of `schedule` against `profile`. O(B · K).
 * @throws BacError when the schedule names a block the profile lacks or K differs.
 */
export function predictedError(schedule: Schedule, profile: Profile): ErrorProxy {
  const K = profile.sampler.steps;
  if (schedule.sampler.steps !== K) {
    throw new BacError(
      `schedule has K = ${schedule.sampler.steps} steps but the profile has K = ${K}; re-profile or re-solve`,
    );
  }
  const byId = new Map(profile.blocks.map((b) => [b.id, b]));
  const meanL1 = profile.blocks.reduce((s, b) => s + b.l1Mean, 0) / Math.max(1, profile.blocks.length);
  const perBlock = new Map<BlockId, number>();
  let total = 0;
  const norm = schedule.blocks.length * K;
  for (const sb of schedule.blocks) {
    const pb = byId.get(sb.id);
    if (!pb) throw new BacError(`schedule block ${sb.id} is not in the profile; the schedule belongs to another model`);
    const weight = meanL1 > 0 ? pb.l1Mean / meanL1 : 1;
    const share = (weight * reuseMismatch(pb.simMean, K, updateSteps(sb))) / norm;
    perBlock.set(sb.id, share);
    total += share;
  }
  return { total, perBlock };
}
