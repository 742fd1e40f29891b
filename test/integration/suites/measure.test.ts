/**
 * "BAC: Measure Speed" in a real VS Code: the workspace schedule's chunk graph is measured in the
 * child process (dist/measure-worker.js) and the result lands in the document as `measured`, an
 * unsaved edit that undo removes byte for byte; an invalid schedule is refused and left as it is.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { updateTableHash } from '../../../src/core/measured-speed';
import { parseSchedule } from '../../../src/core/schedule-format';
import { DEMO_EPISODES, pickModel, WS } from '../../../scripts/vscode-test/workspace-layout';
import { api, closeAllEditors, openInCustomEditor, repoRoot, skipBecause, waitFor, wsUri } from '../helpers';

/** The demo episodes, or the test is skipped saying what is missing. */
function episodesOrSkip(ctx: Mocha.Context): string {
  const root = repoRoot().fsPath;
  const worker = join(root, 'dist', 'measure-worker.js');
  if (!existsSync(worker))
    skipBecause(ctx, `${worker} is missing (src/engine/measure-worker.ts, built by scripts/build.mjs)`);
  if (!pickModel((p) => existsSync(join(root, p))).fitsDemoEpisodes) {
    skipBecause(ctx, 'the workspace model does not fit the demo episodes');
  }
  const episodes = join(root, DEMO_EPISODES);
  if (!existsSync(episodes)) skipBecause(ctx, `the demo episodes ${DEMO_EPISODES} are missing`);
  return episodes;
}

describe('BAC: Measure Speed', () => {
  afterEach(closeAllEditors);

  it('records the measured speed as an undoable edit of the schedule document', async function () {
    this.timeout(300_000);
    const episodes = episodesOrSkip(this);
    const uri = wsUri(WS.schedule);
    const onDisk = readFileSync(uri.fsPath);
    const doc = await vscode.workspace.openTextDocument(uri);
    const result = await (await api()).measureSpeed({ schedule: uri, episodes, samples: 2, executionProvider: 'cpu' });
    assert.ok(result, 'the command returned its result (undefined: it failed; see the BAC log)');
    assert.deepEqual(result.outcome, { applied: true });
    assert.ok(result.measured.speedup > 0 && result.measured.chunkMs > 0 && result.measured.fullChunkMs > 0);
    assert.equal(result.measured.provider, 'cpu');
    assert.equal(result.measured.batch, 1);
    assert.equal(doc.isDirty, true, 'the edit leaves the document dirty');
    const edited = parseSchedule(doc.getText());
    assert.ok(edited.ok, 'the edited text is a valid schedule');
    assert.deepEqual(edited.schedule.measured, result.measured);
    assert.equal(edited.schedule.measured?.tableHash, updateTableHash(edited.schedule));
    assert.deepEqual(readFileSync(uri.fsPath), onDisk, 'nothing is written before a save');

    await openInCustomEditor(uri, (await api()).scheduleEditor.viewType);
    await vscode.commands.executeCommand('undo');
    await waitFor(
      'undo to remove the record',
      () => (doc.getText() === onDisk.toString('utf8') ? true : undefined),
      5000,
    );
    assert.equal(doc.isDirty, false, 'back at the saved version, the document is clean');
  });

  it('refuses an invalid schedule and leaves it as it is', async function () {
    this.timeout(60_000);
    const episodes = episodesOrSkip(this);
    const uri = wsUri(WS.broken);
    const before = readFileSync(uri.fsPath);
    const result = await (await api()).measureSpeed({ schedule: uri, episodes, samples: 1 });
    assert.equal(result, undefined);
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.equal(doc.isDirty, false);
    assert.deepEqual(readFileSync(uri.fsPath), before);
  });
});
