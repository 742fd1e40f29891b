import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEditIntent, isHostMessage, isWebviewMessage } from '../../src/core/protocol';

describe('protocol guards', () => {
  it('accepts every well-formed webview message', () => {
    for (const m of [
      { type: 'ready' },
      { type: 'openAsText' },
      { type: 'profileModel' },
      { type: 'requestMatrix', blockId: '3.ca' },
      { type: 'toggleStep', blockId: '0.sa', step: 4 },
      { type: 'setControls', method: 'bac', budget: 10, topN: 0, forceLast: false },
      {
        type: 'setControls',
        method: 'grid',
        budget: 10,
        topN: 0,
        forceLast: true,
        target: { speedup: 2.5, by: 'time' },
      },
      { type: 'ready', extra: 1 },
    ]) {
      assert.ok(isWebviewMessage(m), JSON.stringify(m));
    }
  });

  it('rejects malformed webview messages', () => {
    for (const m of [
      null,
      undefined,
      'ready',
      [],
      {},
      { type: 'nope' },
      { type: 'requestMatrix', blockId: '3.xx' },
      { type: 'toggleStep', blockId: '0.sa', step: -1 },
      { type: 'toggleStep', blockId: '0.sa', step: 1.5 },
      { type: 'toggleStep', blockId: '0.sa', step: '4' },
      { type: 'toggleStep', blockId: '00.sa', step: 4 },
      { type: 'setControls', method: 'bac', budget: 0, topN: 0, forceLast: true },
      { type: 'setControls', method: 'bac', budget: 5, topN: -1, forceLast: true },
      { type: 'setControls', method: 'bac', budget: 5, topN: 1, forceLast: 'yes' },
      { type: 'setControls', method: 'bac', budget: Number.NaN, topN: 1, forceLast: true },
      { type: 'setControls', budget: 5, topN: 1, forceLast: true },
      { type: 'setControls', method: 'tuned', budget: 5, topN: 1, forceLast: true },
      {
        type: 'setControls',
        method: 'bac',
        budget: 5,
        topN: 1,
        forceLast: true,
        target: { speedup: 0.5, by: 'flops' },
      },
      { type: 'setControls', method: 'bac', budget: 5, topN: 1, forceLast: true, target: { speedup: 2, by: 'ms' } },
      { type: 'setControls', method: 'bac', budget: 5, topN: 1, forceLast: true, target: 2 },
    ]) {
      assert.ok(!isWebviewMessage(m), JSON.stringify(m));
    }
  });

  it('edit intents are the editing subset', () => {
    assert.ok(isEditIntent({ type: 'toggleStep', blockId: '1.ffn', step: 0 }));
    assert.ok(!isEditIntent({ type: 'ready' }));
    assert.ok(!isEditIntent({ type: 'requestMatrix', blockId: '1.ffn' }));
  });

  it('recognises host messages', () => {
    assert.ok(isHostMessage({ type: 'state', state: { kind: 'invalid', fileName: 'a', issues: [] } }));
    assert.ok(isHostMessage({ type: 'matrix', blockId: '0.sa', steps: 2, data: [1, 0, 0, 1] }));
    assert.ok(isHostMessage({ type: 'notice', level: 'info', message: 'x' }));
    assert.ok(!isHostMessage({ type: 'state', state: { kind: 'other' } }));
    assert.ok(!isHostMessage({ type: 'notice', level: 'debug', message: 'x' }));
  });
});
