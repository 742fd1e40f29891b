import { BacError } from './errors';
import type { BlockId, IdentifiedBlock } from './types';

/**
 * Bubbling Union Algorithm (BUA) of docs/method.md.
 *
 * Stage 1 ranks all blocks by their reuse-error estimate ℓ_b (descending) and keeps the top n as U.
 * Stage 2 gives every u ∈ U at layer L_u the union of the ACS update sets of every `ffn` block v
 * with L_v ≥ L_u and v ≠ u, so a high-error upstream block is fresh whenever a downstream FFN
 * recomputes (the FFN would otherwise absorb the upstream cache error linearly).
 */

/** What BUA needs to know about one block. */
export interface BuaBlock extends IdentifiedBlock {
  /** ℓ_b, the block's mean pairwise L1 reuse-error estimate (finite, ≥ 0). */
  readonly l1: number;
  /** The block's ACS update set: strictly increasing steps. */
  readonly acs: readonly number[];
}

/** BUA's result for one block: the ACS steps and the steps BUA added on top of them. */
export interface BuaBlockResult {
  /** Canonical id, same order as the input. */
  readonly id: BlockId;
  /** The block's ACS steps, unchanged. */
  readonly acs: readonly number[];
  /** Steps added by Stage 2 that ACS did not choose, strictly increasing (empty unless in U). */
  readonly bua: number[];
}

/**
 * Stage 1: the ids of the `topN` blocks with the largest ℓ_b. Ties go to the block that comes first
 * in model order, so the choice is deterministic. `topN` larger than the block count selects all.
 * O(B log B).
 */
export function selectHighErrorBlocks(blocks: readonly BuaBlock[], topN: number): BlockId[] {
  return blocks
    .map((b, index) => ({ b, index }))
    .sort((x, y) => y.b.l1 - x.b.l1 || x.index - y.index)
    .slice(0, Math.max(0, topN))
    .map(({ b }) => b.id);
}

/**
 * Runs both stages. `topN = 0` disables BUA (every `bua` list is empty); any `topN ≥ 1` applies it
 * (docs/method.md "Ours": the official code needs n ≥ 2). Stage 2 reads only the ACS sets of the FFN
 * blocks, never a set it has already enlarged, so the result does not depend on iteration order.
 * O(B² · S) for B blocks with at most S updates each.
 * @throws BacError for a negative or non-integer `topN` or a non-finite ℓ_b.
 */
export function bubblingUnion(blocks: readonly BuaBlock[], topN: number): BuaBlockResult[] {
  if (!Number.isInteger(topN) || topN < 0) {
    throw new BacError(`top-n ${topN} is invalid, expected an integer ≥ 0 (0 disables the Bubbling Union)`);
  }
  for (const b of blocks) {
    if (!Number.isFinite(b.l1) || b.l1 < 0) {
      throw new BacError(`block ${b.id}: reuse error ℓ = ${b.l1} is invalid, expected a finite number ≥ 0`);
    }
  }
  const selected = new Set(selectHighErrorBlocks(blocks, topN));
  const ffns = blocks.filter((b) => b.kind === 'ffn');
  return blocks.map((u) => {
    if (!selected.has(u.id)) return { id: u.id, acs: u.acs, bua: [] };
    const own = new Set(u.acs);
    const added = new Set<number>();
    for (const v of ffns) {
      if (v.layer < u.layer || v.id === u.id) continue;
      for (const step of v.acs) if (!own.has(step)) added.add(step);
    }
    return { id: u.id, acs: u.acs, bua: [...added].sort((a, b) => a - b) };
  });
}
