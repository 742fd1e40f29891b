/**
 * Acceptance: the `.bacschedule` custom editor opens; a budget change through the provider is an
 * edit of the document that undo restores byte for byte; an invalid file is never rewritten.
 */
import * as assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import * as vscode from 'vscode';
import { parseSchedule } from '../../../src/core/schedule-format';
import { BROKEN_SCHEDULE_TEXT, WS, WS_BUDGET, WS_TOP_N } from '../../../scripts/vscode-test/workspace-layout';
import { api, closeAllEditors, openInCustomEditor, sleep, waitFor, wsUri } from '../helpers';

describe('the .bacschedule editor', () => {
  afterEach(async () => {
    // Leave nothing dirty for the next test: revert, then close.
    for (const doc of vscode.workspace.textDocuments) {
      if (doc.isDirty) {
        await vscode.window.showTextDocument(doc, { preview: false });
        await vscode.commands.executeCommand('workbench.action.files.revert');
      }
    }
    await closeAllEditors();
  });

  it('opens for a .bacschedule (the default editor of the file)', async () => {
    const { scheduleEditor } = await api();
    assert.equal(scheduleEditor.viewType, 'bac.scheduleEditor');
    await openInCustomEditor(wsUri(WS.schedule), scheduleEditor.viewType);
    await waitFor('the provider to resolve the editor', () => (scheduleEditor.openEditors >= 1 ? true : undefined));
    const state = await scheduleEditor.stateOf(wsUri(WS.schedule));
    assert.equal(state.kind, 'valid');
  });

  it('a budget change through the provider edits the document; undo restores it byte for byte', async () => {
    const { scheduleEditor } = await api();
    const uri = wsUri(WS.schedule);
    const onDisk = readFileSync(uri.fsPath);
    await openInCustomEditor(uri, scheduleEditor.viewType);
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.equal(Buffer.from(doc.getText(), 'utf8').equals(onDisk), true, 'the document starts as the file');

    const budget = WS_BUDGET + 4;
    const outcome = await scheduleEditor.applyIntent(uri, {
      type: 'setControls',
      method: 'bac',
      budget,
      topN: WS_TOP_N,
      forceLast: true,
    });
    assert.deepEqual(outcome, { applied: true });
    assert.equal(doc.isDirty, true, 'the edit leaves the document dirty');
    const edited = parseSchedule(doc.getText());
    assert.ok(edited.ok, 'the edited text is a valid schedule');
    assert.equal(edited.schedule.solver.budget, budget);
    assert.notEqual(doc.getText(), onDisk.toString('utf8'));
    assert.deepEqual(readFileSync(uri.fsPath), onDisk, 'nothing is written before a save');

    await vscode.commands.executeCommand('undo');
    await waitFor(
      'undo to restore the text',
      () => (doc.getText() === onDisk.toString('utf8') ? true : undefined),
      5000,
    );
    assert.equal(Buffer.from(doc.getText(), 'utf8').equals(onDisk), true, 'undo restores the bytes');
    assert.equal(doc.isDirty, false, 'back at the saved version, the document is clean');

    await vscode.commands.executeCommand('redo');
    await waitFor('redo to re-apply the budget', () => {
      const p = parseSchedule(doc.getText());
      return p.ok && p.schedule.solver.budget === budget ? true : undefined;
    });
  });

  it('an invalid file opens, refuses edits and is left untouched (bytes and mtime)', async () => {
    const { scheduleEditor } = await api();
    const uri = wsUri(WS.broken);
    const before = statSync(uri.fsPath);
    await openInCustomEditor(uri, scheduleEditor.viewType);
    const state = await scheduleEditor.stateOf(uri);
    assert.equal(state.kind, 'invalid');
    const outcome = await scheduleEditor.applyIntent(uri, {
      type: 'setControls',
      method: 'bac',
      budget: 5,
      topN: 1,
      forceLast: true,
    });
    assert.equal(outcome.applied, false);
    assert.ok(outcome.message, 'a refusal says why');
    await sleep(1500); // give a (wrong) deferred write every chance to happen
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.equal(doc.isDirty, false);
    assert.equal(doc.getText(), BROKEN_SCHEDULE_TEXT);
    assert.equal(readFileSync(uri.fsPath, 'utf8'), BROKEN_SCHEDULE_TEXT, 'bytes unchanged');
    assert.equal(statSync(uri.fsPath).mtimeMs, before.mtimeMs, 'mtime unchanged');
  });
});
