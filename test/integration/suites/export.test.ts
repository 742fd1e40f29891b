/**
 * Acceptance: "BAC: Export Policy from Checkpoint…" exports a diffusion_policy workspace checkpoint
 * from the test workspace (test/fixtures/checkpoints/tiny-dp-lowdim.ckpt, made by
 * test/fixtures-gen/make_dp_checkpoint.py in diffusion_policy's exact layout) with the detected
 * Python, and the result profiles on the demo episodes. Runs the real exporter (torch) and the
 * real profiler (ONNX Runtime).
 */
import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { parseProfile } from '../../../src/core/profile-format';
import { findTorchPython } from '../../../src/engine/checkpoint-export';
import { DEMO_EPISODES } from '../../../scripts/vscode-test/workspace-layout';
import { api, extension, repoRoot, skipBecause } from '../helpers';

const FIXTURE = 'test/fixtures/checkpoints/tiny-dp-lowdim.ckpt';

describe('BAC: Export Policy from Checkpoint…', () => {
  it('is contributed in category BAC with the explorer entry on .ckpt files', () => {
    const pkg = extension().packageJSON as {
      contributes: {
        commands: { command: string; category?: string }[];
        menus: { 'explorer/context': { command: string; when?: string }[] };
      };
    };
    const cmd = pkg.contributes.commands.find((c) => c.command === 'bac.exportCheckpoint');
    assert.equal(cmd?.category, 'BAC');
    const menu = pkg.contributes.menus['explorer/context'].find((m) => m.command === 'bac.exportCheckpoint');
    assert.equal(menu?.when, 'resourceExtname == .ckpt');
  });

  it('exports the test checkpoint (EMA weights) and the result profiles', async function () {
    this.timeout(300_000);
    const root = repoRoot().fsPath;
    const python = await findTorchPython(undefined);
    if ('error' in python) skipBecause(this, python.error);
    if (!existsSync(join(root, 'dist', 'python', 'bac_export.py'))) {
      skipBecause(this, 'dist/python/bac_export.py is missing (copied there by scripts/build.mjs)');
    }
    const episodes = join(root, DEMO_EPISODES);
    if (!existsSync(episodes)) skipBecause(this, `the demo episodes ${DEMO_EPISODES} are missing`);

    const dir = join(vscode.workspace.workspaceFolders![0]!.uri.fsPath, 'checkpoints');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const ckpt = join(dir, 'epoch=0300-test_mean_score=0.912.ckpt');
    copyFileSync(join(root, FIXTURE), ckpt);
    const out = join(dir, 'policy.onnx');

    const { exportCheckpoint, profileModel } = await api();
    const exported = await exportCheckpoint({ checkpoint: ckpt, weights: 'ema_model', out, offerProfile: false });
    assert.ok(exported, 'the command returned its result (see the BAC log under .test-artifacts/integration)');
    assert.equal(exported.out, out);
    assert.match(exported.summary, /6 block outputs/);
    assert.deepEqual(
      readdirSync(dir).sort(),
      ['epoch=0300-test_mean_score=0.912.ckpt', 'policy.onnx'],
      'no temp files beside the output',
    );

    const profiled = await profileModel({
      model: out,
      episodes,
      samples: 2,
      executionProvider: 'cpu',
      outDir: dir,
      overwrite: true,
      open: false,
    });
    assert.ok(profiled, 'the exported model profiles');
    const profile = parseProfile(readFileSync(profiled.profilePath));
    assert.ok(profile.ok, 'the .bacprofile parses');
    assert.equal(profile.profile.blocks.length, 6);
    assert.deepEqual(profile.profile.sampler, { type: 'ddpm', steps: 20 });
  });

  it('refuses a file that is not a checkpoint and writes nothing', async function () {
    this.timeout(120_000);
    const python = await findTorchPython(undefined);
    if ('error' in python) skipBecause(this, python.error);
    const dir = join(vscode.workspace.workspaceFolders![0]!.uri.fsPath, 'checkpoints-bad');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const notCkpt = join(dir, 'notes.ckpt');
    writeFileSync(notCkpt, 'not a checkpoint');
    const result = await (
      await api()
    ).exportCheckpoint({ checkpoint: notCkpt, weights: 'model', out: join(dir, 'x.onnx'), offerProfile: false });
    assert.equal(result, undefined);
    assert.deepEqual(readdirSync(dir), ['notes.ckpt']);
  });
  it('with bac.pythonPath pointing nowhere, refuses before exporting and writes nothing', async function () {
    this.timeout(60_000);
    const config = vscode.workspace.getConfiguration('bac');
    await config.update('pythonPath', '/nonexistent/python3', vscode.ConfigurationTarget.Workspace);
    try {
      const dir = join(vscode.workspace.workspaceFolders![0]!.uri.fsPath, 'checkpoints-nopython');
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      const ckpt = join(dir, 'run.ckpt');
      copyFileSync(join(repoRoot().fsPath, FIXTURE), ckpt);
      const result = await (
        await api()
      ).exportCheckpoint({ checkpoint: ckpt, weights: 'ema_model', out: join(dir, 'x.onnx'), offerProfile: false });
      assert.equal(result, undefined);
      assert.deepEqual(readdirSync(dir), ['run.ckpt']);
    } finally {
      await config.update('pythonPath', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });
});
