import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bubblingUnion, selectHighErrorBlocks, type BuaBlock } from '../../src/core/bua';
import { BacError } from '../../src/core/errors';

/** A 2-layer decoder with hand-picked ℓ and ACS sets (K = 10). */
const twoLayers: BuaBlock[] = [
  { id: '0.sa', layer: 0, kind: 'sa', l1: 0.9, acs: [0, 5] },
  { id: '0.ca', layer: 0, kind: 'ca', l1: 0.2, acs: [0, 3] },
  { id: '0.ffn', layer: 0, kind: 'ffn', l1: 0.5, acs: [0, 2, 7] },
  { id: '1.sa', layer: 1, kind: 'sa', l1: 0.1, acs: [0, 4] },
  { id: '1.ca', layer: 1, kind: 'ca', l1: 0.8, acs: [0, 6] },
  { id: '1.ffn', layer: 1, kind: 'ffn', l1: 0.3, acs: [0, 8, 9] },
];

const byId = (rs: ReturnType<typeof bubblingUnion>) => Object.fromEntries(rs.map((r) => [r.id, r.bua]));

describe('Bubbling Union Algorithm', () => {
  it('ranks every block by ℓ and selects the top n', () => {
    assert.deepEqual(selectHighErrorBlocks(twoLayers, 3), ['0.sa', '1.ca', '0.ffn']);
  });

  it('lets an attention block absorb its own layer FFN and every downstream FFN', () => {
    const r = byId(bubblingUnion(twoLayers, 1));
    // 0.sa (ℓ 0.9) gets 0.ffn {0,2,7} ∪ 1.ffn {0,8,9} minus its own {0,5}.
    assert.deepEqual(r['0.sa'], [2, 7, 8, 9]);
    for (const id of ['0.ca', '0.ffn', '1.sa', '1.ca', '1.ffn']) assert.deepEqual(r[id], []);
  });

  it('gives a downstream attention block only the FFNs at or below its layer', () => {
    const r = byId(bubblingUnion(twoLayers, 2));
    // 1.ca (layer 1) absorbs only 1.ffn {0,8,9}, minus its own {0,6}.
    assert.deepEqual(r['1.ca'], [8, 9]);
  });

  it('gives a selected FFN block only the other, downstream FFNs', () => {
    const r = byId(bubblingUnion(twoLayers, 3));
    // 0.ffn excludes itself, keeps 1.ffn {0,8,9}; it already has 0.
    assert.deepEqual(r['0.ffn'], [8, 9]);
    // The FFN at the last layer has no downstream FFN: nothing added.
    const last = byId(bubblingUnion(twoLayers, 6));
    assert.deepEqual(last['1.ffn'], []);
  });

  it('does nothing with n = 0 and selects all blocks when n exceeds the block count', () => {
    for (const r of bubblingUnion(twoLayers, 0)) assert.deepEqual(r.bua, []);
    const all = byId(bubblingUnion(twoLayers, 100));
    assert.deepEqual(all, {
      '0.sa': [2, 7, 8, 9],
      '0.ca': [2, 7, 8, 9],
      '0.ffn': [8, 9],
      '1.sa': [8, 9],
      '1.ca': [8, 9],
      '1.ffn': [],
    });
  });

  it('does not depend on the order blocks are given in (uses the FFN ACS sets before any union)', () => {
    const reference = byId(bubblingUnion(twoLayers, 4));
    const reversed = byId(bubblingUnion([...twoLayers].reverse(), 4));
    const shuffled = byId(
      bubblingUnion([twoLayers[4]!, twoLayers[2]!, twoLayers[0]!, twoLayers[5]!, twoLayers[1]!, twoLayers[3]!], 4),
    );
    assert.deepEqual(reversed, reference);
    assert.deepEqual(shuffled, reference);
  });

  it('breaks ℓ ties by model order and rejects invalid n or ℓ', () => {
    const tied = twoLayers.map((b) => ({ ...b, l1: 1 }));
    assert.deepEqual(selectHighErrorBlocks(tied, 2), ['0.sa', '0.ca']);
    assert.throws(() => bubblingUnion(twoLayers, -1), BacError);
    assert.throws(() => bubblingUnion(twoLayers, 1.5), /top-n 1.5 is invalid, expected an integer ≥ 0/);
    assert.throws(
      () => bubblingUnion([{ ...twoLayers[0]!, l1: Number.NaN }], 1),
      /block 0.sa: reuse error ℓ = NaN is invalid/,
    );
  });
});
