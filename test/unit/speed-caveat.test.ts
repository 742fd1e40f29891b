import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measuredSpeedCaveat } from '../../src/core/speed-caveat';

describe('measuredSpeedCaveat', () => {
  it("says that a speed timed on linux-arm64 is the ARM CPU's, and where the GPU path is", () => {
    const note = measuredSpeedCaveat({ platform: 'linux', arch: 'arm64' }, 'cpu');
    assert.match(note ?? '', /ARM CPU's speed, not the GPU's/);
    assert.match(note ?? '', /bac_runtime \(PyTorch with CUDA\)/);
    assert.equal(measuredSpeedCaveat({ platform: 'linux', arch: 'arm64' }), note, 'unknown provider: the host decides');
  });

  it('adds nothing elsewhere, or for times that came from a GPU provider', () => {
    assert.equal(measuredSpeedCaveat({ platform: 'linux', arch: 'x64' }, 'cpu'), null);
    assert.equal(measuredSpeedCaveat({ platform: 'darwin', arch: 'arm64' }, 'cpu'), null);
    assert.equal(measuredSpeedCaveat({ platform: 'win32', arch: 'x64' }, 'cpu'), null);
    assert.equal(measuredSpeedCaveat({ platform: 'linux', arch: 'arm64' }, 'cuda'), null);
  });
});
