import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { minimalLineEdits } from '../core/edits';
import { isSweepWebviewMessage, type SweepHostMessage } from '../core/protocol';
import { parseSchedule, serializeSchedule } from '../core/schedule-format';
import { parseSweepReport, type SweepReport } from '../core/sweep-format';
import { pointScheduleFile, scheduleForSweepPoint, sweepPanelState } from '../core/sweep-view';
import type { Schedule } from '../core/types';
import { Disposable } from './dispose';
import { dirname, relativePosix, resolveStored } from './files';
import { SCHEDULE_EDITOR_VIEW_TYPE } from './scheduleEditor';
import { scheduleEditorHtml } from './webviewHtml';

/** View type of the `.bacsweep` viewer (package.json `customEditors`). */
export const SWEEP_VIEW_TYPE = 'bac.sweepView';

/** What applying a sweep configuration did. */
export interface ApplySweepOutcome {
  readonly applied: boolean;
  /** The schedule written into (when applied) or why nothing was. */
  readonly target?: vscode.Uri;
  readonly message?: string;
}

async function readReport(uri: vscode.Uri): Promise<SweepReport> {
  return parseSweepReport(await readFile(uri.fsPath, 'utf8'), basename(uri.fsPath));
}

/** A schedule file's parsed content, or null when it does not parse. */
async function readSchedule(path: string): Promise<Schedule | null> {
  try {
    const r = parseSchedule(await readFile(path, 'utf8'));
    return r.ok ? r.schedule : null;
  } catch {
    return null;
  }
}

/**
 * The schedule "apply" writes into: the one `.bacschedule` beside the report, for the same model,
 * that is not the sweep's own recommended schedule; null when there is none or several.
 */
async function defaultTarget(sweepUri: vscode.Uri, report: SweepReport): Promise<vscode.Uri | null> {
  const dir = dirname(sweepUri.fsPath);
  const own = report.recommendedSchedule ? resolveStored(dir, report.recommendedSchedule) : null;
  const names = (await readdir(dir)).filter((n) => n.endsWith('.bacschedule')).sort();
  const fits: string[] = [];
  for (const n of names) {
    const path = join(dir, n);
    if (path === own) continue;
    if ((await readSchedule(path))?.model.sha256 === report.model.sha256) fits.push(path);
  }
  return fits.length === 1 ? vscode.Uri.file(fits[0]!) : null;
}

/**
 * The Sweep panel: a read-only viewer of `.bacsweep` reports (the measured Pareto front, every
 * point labelled, the recommendation marked). "Apply" writes a configuration — sampler type and K
 * included — into a schedule document as one WorkspaceEdit (one undo step), and shows it.
 */
export class SweepViewProvider extends Disposable implements vscode.CustomReadonlyEditorProvider {
  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
  }

  register(): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(SWEEP_VIEW_TYPE, this, {
      webviewOptions: { retainContextWhenHidden: false, enableFindWidget: true },
    });
  }

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    panel.webview.options = {
      enableScripts: true,
      localResourceRoots: [
        vscode.Uri.joinPath(this.extensionUri, 'dist'),
        vscode.Uri.joinPath(this.extensionUri, 'media'),
      ],
    };
    panel.webview.html = scheduleEditorHtml(panel.webview, this.extensionUri, {
      script: 'sweep.js',
      css: 'sweep.css',
      title: 'BAC sweep',
      loading: 'Loading sweep report…',
    });
    const post = (m: SweepHostMessage): void => void panel.webview.postMessage(m);
    const sub = panel.webview.onDidReceiveMessage(async (m: unknown) => {
      if (!isSweepWebviewMessage(m)) {
        this.log.warn(`sweep view: ignored a malformed message: ${JSON.stringify(m)?.slice(0, 200)}`);
        return;
      }
      try {
        if (m.type === 'ready') {
          const report = await readReport(document.uri);
          const target = await defaultTarget(document.uri, report);
          post({
            type: 'sweepState',
            state: sweepPanelState(report, basename(document.uri.fsPath), target && basename(target.fsPath)),
          });
          return;
        }
        const outcome = await this.apply(document.uri, m.id);
        if (!outcome.applied && outcome.message) post({ type: 'notice', level: 'warning', message: outcome.message });
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        this.log.error(`sweep view: ${m.type} failed: ${message}`);
        post({ type: 'notice', level: 'error', message });
      }
    });
    panel.onDidDispose(() => sub.dispose());
  }

  /**
   * Writes configuration `id` of the report at `sweepUri` into `target` (default: the one schedule
   * beside the report for the same model; else the user picks one) as one edit of its document,
   * left unsaved, and shows it. An invalid target is never rewritten.
   */
  async apply(sweepUri: vscode.Uri, id: string, target?: vscode.Uri): Promise<ApplySweepOutcome> {
    const report = await readReport(sweepUri);
    const uri = target ?? (await defaultTarget(sweepUri, report)) ?? (await pickSchedule());
    if (!uri) return { applied: false, message: 'No schedule chosen; nothing was changed.' };
    const document = await vscode.workspace.openTextDocument(uri);
    const parsed = parseSchedule(document.getText());
    if (!parsed.ok)
      return { applied: false, target: uri, message: `${basename(uri.fsPath)} is not a valid schedule; fix it first.` };
    // The recommendation and included schedules run a schedule file beside the report.
    const file = pointScheduleFile(report, id);
    let stored: Schedule | null = null;
    if (file !== null) {
      const path = resolveStored(dirname(sweepUri.fsPath), file);
      stored = await readSchedule(path);
      const profile = stored?.solver.profile;
      if (stored && profile) {
        // The profile path is relative to the stored schedule; the target may live elsewhere.
        const abs = resolveStored(dirname(path), profile.path);
        stored = {
          ...stored,
          solver: { ...stored.solver, profile: { ...profile, path: relativePosix(dirname(uri.fsPath), abs) } },
        };
      }
    }
    const next = scheduleForSweepPoint(report, id, parsed.schedule, stored);
    const edits = minimalLineEdits(document.getText(), serializeSchedule(next));
    if (edits.length === 0)
      return { applied: false, target: uri, message: 'The schedule already runs this configuration.' };
    const edit = new vscode.WorkspaceEdit();
    for (const e of edits) {
      edit.replace(uri, new vscode.Range(document.positionAt(e.start), document.positionAt(e.end)), e.text);
    }
    if (!(await vscode.workspace.applyEdit(edit)))
      return { applied: false, target: uri, message: 'VS Code refused the edit.' };
    await vscode.commands.executeCommand('vscode.openWith', uri, SCHEDULE_EDITOR_VIEW_TYPE);
    return { applied: true, target: uri };
  }
}

async function pickSchedule(): Promise<vscode.Uri | undefined> {
  const files = await vscode.workspace.findFiles('**/*.bacschedule', '**/node_modules/**', 200);
  const pick = await vscode.window.showQuickPick(
    files.map((f) => ({ label: vscode.workspace.asRelativePath(f), uri: f })),
    // Asked from the Sweep panel: the webview keeping focus must not dismiss the question.
    { title: 'BAC: write the sweep configuration into which schedule?', ignoreFocusOut: true },
  );
  return pick?.uri;
}
