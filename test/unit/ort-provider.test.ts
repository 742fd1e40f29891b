/**
 * The execution-provider choice is one line for the user (issue #12): `bac profile` says which
 * provider runs and why, once, and under `auto` does not probe WebGPU where no adapter can exist
 * (the probe prints Dawn's native Vulkan warning and a stack line). `--verbose` shows every decision.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openSession, webgpuUnlikelyReason } from '../../src/engine/ort';
import { bac, repo } from './helpers/cli-run';

const SMALL_DPT = join(repo, 'test', 'fixtures', 'engine', 'small-dpt.onnx');
const EPISODES = join(repo, 'fixtures', 'demo', 'episodes', 'heldout.hdf5');
/** Dawn's native warning, its source location, ORT's WebGPU stack message. */
const GPU_NOISE = /Couldn't load Vulkan|dawn|BackendVk|webgpu_context|WebGPU session failed/i;

describe('execution provider message', () => {
  it('openSession reports one line, "execution provider: X (why)"', async () => {
    for (const choice of ['auto', 'cpu'] as const) {
      const opened = await openSession(SMALL_DPT, choice);
      await opened.session.release();
      assert.equal(opened.notes.length, 1, opened.notes.join('\n'));
      assert.match(opened.notes[0]!, /^execution provider: (cpu|cuda|webgpu) \(.+\)$/);
    }
    const cpu = await openSession(SMALL_DPT, 'cpu');
    await cpu.session.release();
    assert.equal(cpu.notes[0], 'execution provider: cpu (requested)');
  });

  it(
    'auto tries WebGPU on Linux only with a Vulkan loader and a driver',
    { skip: process.platform !== 'linux' && 'Linux rule' },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'bac-vulkan-'));
      try {
        writeFileSync(join(dir, 'libvulkan.so.1'), '');
        writeFileSync(join(dir, 'icd.json'), '{}');
        assert.equal(webgpuUnlikelyReason({ LD_LIBRARY_PATH: dir, VK_DRIVER_FILES: join(dir, 'icd.json') }), null);
        const noDriver = webgpuUnlikelyReason({ LD_LIBRARY_PATH: dir, VK_DRIVER_FILES: join(dir, 'none.json') });
        // a system-wide driver manifest would make WebGPU worth a try even here
        if (noDriver !== null) assert.match(noDriver, /no Vulkan driver/);
        const noLoader = webgpuUnlikelyReason({});
        if (noLoader !== null) assert.match(noLoader, /no Vulkan (loader|driver)/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('bac profile prints exactly one provider line and no GPU noise; --verbose prints every decision', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bac-ep-'));
    try {
      const args = ['profile', '--model', SMALL_DPT, '--episodes', EPISODES, '--samples', '1', '--out', 'p.bacprofile'];
      const r = bac(dir, ...args);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => /execution provider|CUDA|WebGPU|Running on/i.test(l));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^execution provider: (cpu|cuda|webgpu) \(/);
      // where no adapter can exist, nothing GPU-related reaches the user at all
      if (webgpuUnlikelyReason() !== null) assert.doesNotMatch(r.stderr, GPU_NOISE);
      const v = bac(dir, ...args, '--verbose');
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stderr, /CUDA skipped: |Running on cuda/);
      assert.match(v.stderr, /^execution provider: /m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
