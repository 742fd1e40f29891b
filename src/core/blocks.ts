import { BacError } from './errors';
import {
  BLOCK_KINDS,
  type BlockId,
  type BlockKind,
  type BlockRef,
  type BlockUpdates,
  type UpdateOrigin,
} from './types';

/** Formats the canonical id `<layer>.<kind>` of a block. */
export function blockId(ref: BlockRef): BlockId {
  return `${ref.layer}.${ref.kind}`;
}

const BLOCK_ID = /^(0|[1-9][0-9]*)\.(sa|ca|ffn)$/;

/** Parses a canonical block id; returns null when `id` is not of the form `<layer>.<sa|ca|ffn>`. */
export function parseBlockId(id: string): BlockRef | null {
  const m = BLOCK_ID.exec(id);
  return m ? { layer: Number(m[1]), kind: m[2] as BlockKind } : null;
}

/** Model order: layer ascending, then sa, ca, ffn (the order the residual stream visits them). */
export function compareBlocks(a: BlockRef, b: BlockRef): number {
  return a.layer - b.layer || BLOCK_KINDS.indexOf(a.kind) - BLOCK_KINDS.indexOf(b.kind);
}

/** The 3·L blocks of an L-layer decoder in model order. */
export function decoderBlocks(layers: number): BlockRef[] {
  if (!Number.isInteger(layers) || layers < 1) {
    throw new BacError(`decoder layer count ${layers} is invalid, expected an integer ≥ 1`);
  }
  const out: BlockRef[] = [];
  for (let layer = 0; layer < layers; layer++) for (const kind of BLOCK_KINDS) out.push({ layer, kind });
  return out;
}

/** All update steps of a block (acs ∪ bua ∪ manual), strictly increasing. O(S log S). */
export function updateSteps(b: BlockUpdates): number[] {
  return [...b.acs, ...b.bua, ...b.manual].sort((x, y) => x - y);
}

/** The origin of an update step of a block, or null when the block reuses its cache at `step`. */
export function originOf(b: BlockUpdates, step: number): UpdateOrigin | null {
  if (b.manual.includes(step)) return 'manual';
  if (b.acs.includes(step)) return 'acs';
  if (b.bua.includes(step)) return 'bua';
  return null;
}

/**
 * For every step k, the step whose cache a block uses at k: k itself at an update, else the most
 * recent earlier update. Step 0 is always an update, so every entry is defined. O(K).
 */
export function cacheSources(updates: readonly number[], K: number): Int32Array {
  const src = new Int32Array(K);
  const isUpdate = new Uint8Array(K);
  for (const s of updates) if (s >= 0 && s < K) isUpdate[s] = 1;
  let last = 0;
  for (let k = 0; k < K; k++) {
    if (isUpdate[k]) last = k;
    src[k] = last;
  }
  return src;
}
