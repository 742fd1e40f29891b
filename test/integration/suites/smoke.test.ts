/** The harness itself works: the extension loads in the real extension host and sees the workspace. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { parseSchedule } from '../../../src/core/schedule-format';
import { WS, WS_LAYERS, WS_STEPS } from '../../../scripts/vscode-test/workspace-layout';
import { activateExtension, closeAllEditors, extension, wsUri } from '../helpers';

describe('smoke: the extension in a real VS Code', () => {
  after(closeAllEditors);

  it('activates', async () => {
    await activateExtension();
    assert.equal(extension().isActive, true);
  });

  it('registers bac.showLog, and it runs', async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('bac.showLog'), 'bac.showLog is registered');
    await vscode.commands.executeCommand('bac.showLog');
  });

  it(`opens the ${WS_LAYERS * 3} × ${WS_STEPS} .bacschedule of the test workspace as a document`, async () => {
    const doc = await vscode.workspace.openTextDocument(wsUri(WS.schedule));
    const parsed = parseSchedule(doc.getText());
    assert.ok(parsed.ok, 'the workspace schedule is valid');
    assert.equal(parsed.schedule.blocks.length, WS_LAYERS * 3);
    assert.equal(parsed.schedule.sampler.steps, WS_STEPS);
  });
});
