/**
 * Acceptance: "BAC: Profile Model" on the demo fixture (a few samples) writes the `.bacprofile`
 * and the `.bacschedule`, linked to each other and to the model. Runs the real engine: ONNX
 * Runtime in the profiling child process (dist/profile-worker.js).
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { parseProfile } from '../../../src/core/profile-format';
import { parseSchedule } from '../../../src/core/schedule-format';
import { DEMO_EPISODES, pickModel, WS } from '../../../scripts/vscode-test/workspace-layout';
import { api, repoRoot, skipBecause, wsUri } from '../helpers';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The demo episodes and a model that fits them, or the test is skipped saying which is missing
 * (the profiling child too: it is built by scripts/build.mjs).
 */
function demoInputsOrSkip(ctx: Mocha.Context): { episodes: string; model: ReturnType<typeof pickModel> } {
  const root = repoRoot().fsPath;
  const worker = join(root, 'dist', 'profile-worker.js');
  const episodes = join(root, DEMO_EPISODES);
  if (!existsSync(worker)) {
    skipBecause(ctx, `${worker} is missing (src/engine/profile-worker.ts, built by scripts/build.mjs)`);
  }
  const model = pickModel((p) => existsSync(join(root, p)));
  if (!model.fitsDemoEpisodes) {
    skipBecause(
      ctx,
      `neither fixtures/demo/policy.onnx nor test/fixtures/engine/small-dpt.onnx is in the repository (${model.path} does not fit the demo episodes)`,
    );
  }
  if (!existsSync(episodes)) {
    skipBecause(ctx, `the demo episodes ${DEMO_EPISODES} are missing`);
  }
  return { episodes, model };
}

/** A new, empty folder `name` in the test workspace. */
function emptyWorkspaceDir(name: string): string {
  const dir = join(vscode.workspace.workspaceFolders![0]!.uri.fsPath, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  return dir;
}

describe('BAC: Profile Model', () => {
  it('profiles the demo fixture (2 samples) and writes both files', async function () {
    this.timeout(300_000);
    const { episodes, model } = demoInputsOrSkip(this);
    if (this.test) this.test.title += ` [model: ${model.what}]`;
    const { profileModel } = await api();
    const modelFile = wsUri(WS.model).fsPath;
    const outDir = emptyWorkspaceDir('profiled');

    const result = await profileModel({
      model: modelFile,
      episodes,
      samples: 2,
      executionProvider: 'cpu',
      outDir,
      overwrite: true,
      open: false,
    });
    assert.ok(
      result,
      'the command returned its result (undefined: it failed or was cancelled; see the BAC log under .test-artifacts/integration/vscode-logs)',
    );
    assert.equal(result.profilePath, join(outDir, 'policy.bacprofile'));
    assert.equal(result.schedulePath, join(outDir, 'policy.bacschedule'));

    const profileBytes = readFileSync(result.profilePath);
    const profile = parseProfile(profileBytes);
    assert.ok(profile.ok, `the .bacprofile parses${profile.ok ? '' : `: ${JSON.stringify(profile)}`}`);
    assert.equal(profile.profile.samples, 2);
    assert.equal(profile.profile.model.sha256, sha256(readFileSync(modelFile)));

    const schedule = parseSchedule(readFileSync(result.schedulePath, 'utf8'));
    assert.ok(schedule.ok, 'the .bacschedule parses');
    assert.equal(schedule.schedule.blocks.length, profile.profile.blocks.length);
    assert.deepEqual(schedule.schedule.solver.profile, { path: 'policy.bacprofile', sha256: sha256(profileBytes) });
    assert.equal(schedule.schedule.model.sha256, profile.profile.model.sha256);
  });

  it('profiles with the sampler and K of the bac.profile.sampler / bac.profile.steps settings', async function () {
    this.timeout(300_000);
    const { episodes } = demoInputsOrSkip(this);
    const config = vscode.workspace.getConfiguration('bac');
    await config.update('profile.sampler', 'dpmsolver++', vscode.ConfigurationTarget.Workspace);
    await config.update('profile.steps', 10, vscode.ConfigurationTarget.Workspace);
    try {
      const outDir = emptyWorkspaceDir('profiled-dpm');
      const result = await (
        await api()
      ).profileModel({
        model: wsUri(WS.model).fsPath,
        episodes,
        samples: 2,
        executionProvider: 'cpu',
        outDir,
        overwrite: true,
        open: false,
      });
      assert.ok(result, 'the command returned its result');
      const profile = parseProfile(readFileSync(result.profilePath));
      assert.ok(profile.ok, 'the .bacprofile parses');
      assert.deepEqual(profile.profile.sampler, { type: 'dpmsolver++', steps: 10 });
      const schedule = parseSchedule(readFileSync(result.schedulePath, 'utf8'));
      assert.ok(schedule.ok, 'the .bacschedule parses');
      assert.deepEqual(schedule.schedule.sampler, { type: 'dpmsolver++', steps: 10 });
    } finally {
      await config.update('profile.sampler', undefined, vscode.ConfigurationTarget.Workspace);
      await config.update('profile.steps', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });
});
