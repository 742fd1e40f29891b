/** Acceptance: the speedup CodeLens above a Python string that names a `.bacschedule`. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { PYTHON_SCHEDULE_LINE, WS } from '../../../scripts/vscode-test/workspace-layout';
import { activateExtension, waitFor, wsUri } from '../helpers';

/**
 * The workspace schedule (24 blocks × 100 steps, budget 10, top-n 3, synthetic costs; see
 * scripts/vscode-test/workspace.ts) has expected speedups 7.045 (time) and 6.469 (FLOPs).
 */
const EXPECTED = 'BAC: 7.05× expected (time) · 6.47× by FLOPs · runs DDPM-100 · budget 10 · top-n 3';

describe('CodeLens', () => {
  before(activateExtension);

  it(`shows "${EXPECTED}" above the line of train.py that names the schedule`, async () => {
    const uri = wsUri(WS.python);
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.equal(doc.languageId, 'python');
    const lenses = await waitFor('CodeLenses for train.py', async () => {
      const got = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 10);
      const ours = (got ?? []).filter(
        (l) => l.command?.title.startsWith('BAC') || l.command?.title.includes('BAC schedule'),
      );
      return ours.length > 0 ? ours : undefined;
    });
    assert.deepEqual(
      lenses.map((l) => l.command?.title),
      [EXPECTED],
      'one lens with the expected text (no stale warning: the model is there and unchanged)',
    );
    const [lens] = lenses;
    assert.equal(lens!.range.start.line, PYTHON_SCHEDULE_LINE);
    // The API hands vscode.openWith back under its internal id (_workbench.openWith).
    assert.match(lens!.command?.command ?? '', /^(vscode|_workbench)\.openWith$/);
    assert.equal((lens!.command?.arguments?.[0] as vscode.Uri).fsPath, wsUri(WS.schedule).fsPath);
  });
});
