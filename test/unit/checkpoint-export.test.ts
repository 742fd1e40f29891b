/**
 * src/engine/checkpoint-export.ts: finding a Python with torch, running python/bac_export.py on a
 * diffusion_policy checkpoint (test/fixtures/checkpoints/tiny-dp-lowdim.ckpt), the exporter's one-line
 * error as the message, and cancellation leaving no output and no temp file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { exportCheckpoint, findTorchPython } from '../../src/engine/checkpoint-export';
import { inspectModel } from '../../src/engine/onnx/inspect';

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'python', 'bac_export.py');
const CKPT = path.join(ROOT, 'test', 'fixtures', 'checkpoints', 'tiny-dp-lowdim.ckpt');

/** Looked up once: starting Python and importing torch takes seconds. */
const detected = findTorchPython(undefined);

async function pythonOrSkip(t: { skip: (why: string) => void }): Promise<string | undefined> {
  const found = await detected;
  if ('error' in found) {
    t.skip(found.error);
    return undefined;
  }
  return found.python;
}

function workDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bac-export-'));
  copyFileSync(CKPT, path.join(dir, 'run.ckpt'));
  return dir;
}

test('a configured interpreter that does not exist is named in the message', async () => {
  const r = await findTorchPython('/nonexistent/python3');
  assert.ok('error' in r);
  assert.match(r.error, /bac\.pythonPath is \/nonexistent\/python3, which does not run/);
});

test('exports the diffusion_policy checkpoint to a BAC-ready ONNX', async (t) => {
  const python = await pythonOrSkip(t);
  if (!python) return;
  const dir = workDir();
  const out = path.join(dir, 'policy.onnx');
  const r = await exportCheckpoint({ python, script: SCRIPT, checkpoint: path.join(dir, 'run.ckpt'), out });
  assert.ok(r.ok, r.ok ? '' : r.details);
  const info = inspectModel(out);
  assert.equal(info.blocks.length, 6);
  assert.deepEqual(info.metadata.obsKeys, ['robot_pos', 'waypoint_rel', 'goal_rel', 'obstacle_rel', 'stage']);
  assert.equal(info.metadata.sampler.numInferenceSteps, 20);
  assert.deepEqual(readdirSync(dir).sort(), ['policy.onnx', 'run.ckpt']);
});

test("the exporter's one-line error becomes the message", async (t) => {
  const python = await pythonOrSkip(t);
  if (!python) return;
  const dir = workDir();
  const r = await exportCheckpoint({
    python,
    script: SCRIPT,
    checkpoint: path.join(dir, 'run.ckpt'),
    out: path.join(dir, 'run.ckpt'),
  });
  assert.ok(!r.ok && !r.cancelled);
  assert.match(r.message, /is the checkpoint itself; choose another output path$/);
});

test('a cancelled export leaves neither output nor temp file', async (t) => {
  const python = await pythonOrSkip(t);
  if (!python) return;
  const dir = workDir();
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 1500);
  const r = await exportCheckpoint({
    python,
    script: SCRIPT,
    checkpoint: path.join(dir, 'run.ckpt'),
    out: path.join(dir, 'policy.onnx'),
    signal: abort.signal,
  });
  if (r.ok) {
    t.skip('the export finished before the cancellation arrived (a fast machine); nothing to check');
    return;
  }
  assert.ok(r.cancelled);
  assert.deepEqual(readdirSync(dir), ['run.ckpt']);
});
