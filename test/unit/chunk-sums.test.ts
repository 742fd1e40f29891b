import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeAddChains, shareCarriedSums } from '../../src/engine/onnx/chunk-sums';
import { makeNode, type NodeProto } from '../../src/engine/onnx/proto';

const norm = (k: number, input: string, skip: string): NodeProto => ({
  ...makeNode('SkipLayerNormalization', [input, skip, 'gamma', 'beta'], [`s${k}/h`], `s${k}/norm`),
  domain: 'com.microsoft',
});
/** Step k's tail: embedding e_k, residual Sum of e_k, pos and the block outputs, final norm. */
const tail = (k: number, blocks: string[], skip: string): NodeProto[] => [
  makeNode('Gemm', ['sample', 'w', 'b'], [`s${k}/e`], `s${k}/emb`),
  makeNode('Sum', [`s${k}/e`, 'pos', ...blocks], [`s${k}/sum`], `s${k}/sum`),
  norm(k, `s${k}/sum`, skip),
];

describe('chunk graph residual sums', () => {
  it('a chain of Adds read once becomes one Sum in the same order; a value read twice or output stays', () => {
    const nodes = [
      makeNode('Add', ['a', 'b'], ['ab'], 'n0'),
      makeNode('Add', ['ab', 'c'], ['abc'], 'n1'),
      makeNode('Add', ['abc', 'd'], ['abcd'], 'n2'),
      makeNode('Add', ['abcd', 'e'], ['out'], 'n3'),
    ];
    const merged = mergeAddChains(nodes, new Set(['out']));
    assert.deepEqual(
      merged.map((n) => [n.opType, n.input]),
      [['Sum', ['a', 'b', 'c', 'd', 'e']]],
    );
    const kept = mergeAddChains(nodes, new Set(['out', 'abc']));
    assert.deepEqual(
      kept.map((n) => [n.opType, n.input]),
      [
        ['Sum', ['a', 'b', 'c']],
        ['Sum', ['abc', 'd', 'e']],
      ],
    );
  });

  it("steps carrying the same terms into the final norm share one Sum of them; the norm reads the step's own term", () => {
    const nodes = [
      makeNode('Gemm', ['sample', 'w', 'b'], ['s0/o1'], 's0/block1'),
      makeNode('Gemm', ['sample', 'w', 'b'], ['s0/o2'], 's0/block2'),
      ...tail(0, ['s0/o1'], 's0/o2'), // the skip is computed at step 0: nothing to share
      ...tail(1, ['s0/o1'], 's0/o2'),
      ...tail(2, ['s0/o1'], 's0/o2'),
      makeNode('Gemm', ['sample', 'w', 'b'], ['s3/o1'], 's3/block1'),
      ...tail(3, ['s3/o1'], 's0/o2'), // carries pos and o2 only: no other step does
    ];
    const out = shareCarriedSums(nodes, new Set(['s3/h']));
    const byName = new Map(out.map((n) => [n.name, n]));
    const shared = out.filter((n) => n.name?.includes('carried_sum'));
    assert.equal(shared.length, 1);
    assert.deepEqual(shared[0]!.input, ['pos', 's0/o1', 's0/o2']);
    assert.ok(out.indexOf(shared[0]!) < out.indexOf(byName.get('s1/norm')!), 'emitted before its first reader');
    for (const k of [1, 2]) {
      assert.deepEqual(byName.get(`s${k}/norm`)!.input, [`s${k}/e`, shared[0]!.output[0], 'gamma', 'beta']);
      assert.equal(byName.get(`s${k}/sum`), undefined, `step ${k} has no Sum of its own`);
    }
    for (const k of [0, 3]) assert.deepEqual(byName.get(`s${k}/norm`)!.input, [`s${k}/sum`, 's0/o2', 'gamma', 'beta']);
  });

  it('several step terms stay one Sum that the norm reads; a Sum read elsewhere is left alone', () => {
    const nodes = [
      makeNode('Gemm', ['sample', 'w', 'b'], ['s0/o1'], 's0/block1'),
      ...[1, 2].flatMap((k) => [
        makeNode('Gemm', ['sample', 'w', 'b'], [`s${k}/o2`], `s${k}/block2`),
        ...tail(k, [`s${k}/o2`, 's0/o1'], 's0/o3'),
      ]),
    ];
    const out = shareCarriedSums(nodes, new Set());
    const byName = new Map(out.map((n) => [n.name, n]));
    assert.deepEqual(byName.get('s2/sum')!.input, ['s2/e', 's2/o2']);
    assert.deepEqual(byName.get('s2/norm')!.input.slice(0, 2), ['s2/sum', 's1/carried_sum_0']);
    const read = shareCarriedSums([...nodes, makeNode('Relu', ['s2/sum'], ['r'], 'reader')], new Set());
    assert.deepEqual(read.find((n) => n.name === 's2/norm')!.input.slice(0, 2), ['s2/sum', 's0/o3']);
  });
});
