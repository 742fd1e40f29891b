import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_LANGUAGES, scanScheduleReferences } from '../core/codelens-scan';
import { formatSpeedup, summarizeSchedule } from '../core/cost';
import { samplerLabel } from '../core/editor-view';
import { speedShown } from '../core/measured-speed';
import { parseSchedule } from '../core/schedule-format';
import type { Schedule, ScheduleSummary } from '../core/types';
import { Disposable } from './dispose';
import { dirname, resolveStored, statFile } from './files';
import type { LinkResolver } from './links';
import { SCHEDULE_EDITOR_VIEW_TYPE } from './scheduleEditor';

/**
 * The speedup CodeLens (as vscode-js-profile-visualizer puts profiler numbers above code): above
 * every line whose string literal names a `.bacschedule` that exists, the schedule's expected
 * speedups; a warning lens when it is stale (its model is missing or changed) or invalid.
 */

/** A schedule on disk as the lens needs it, cached by (mtime, size). */
type ScheduleInfo =
  | { readonly ok: true; readonly schedule: Schedule; readonly summary: ScheduleSummary }
  | { readonly ok: false; readonly problems: number };

/** Provides the lenses; refreshes when a schedule or a model changes on disk. */
export class ScheduleCodeLensProvider extends Disposable implements vscode.CodeLensProvider {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  /** Fires when lenses may have changed (a watched file changed). */
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly schedules = new Map<string, { mtimeMs: number; size: number; info: ScheduleInfo }>();

  constructor(private readonly links: LinkResolver) {
    super();
    const watch = (glob: string, onChange: (uri: vscode.Uri) => void): void => {
      const w = this._register(vscode.workspace.createFileSystemWatcher(glob));
      this._register(w.onDidChange(onChange));
      this._register(w.onDidCreate(onChange));
      this._register(w.onDidDelete(onChange));
    };
    watch('**/*.bacschedule', (uri) => {
      this.schedules.delete(uri.fsPath);
      this.changed.fire();
    });
    watch('**/*.onnx', (uri) => {
      this.links.invalidate(uri.fsPath);
      this.changed.fire();
    });
  }

  async provideCodeLenses(document: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    if (document.uri.path.endsWith('.bacschedule')) return [];
    const refs = scanScheduleReferences(document.getText(), { bareValues: CONFIG_LANGUAGES.has(document.languageId) });
    const lenses: vscode.CodeLens[] = [];
    const seenLines = new Set<string>();
    for (const ref of refs) {
      if (token.isCancellationRequested) return [];
      const path = await this.resolve(document, ref.path);
      if (!path || seenLines.has(`${ref.line}:${path}`)) continue;
      seenLines.add(`${ref.line}:${path}`);
      const range = new vscode.Range(ref.line, ref.column, ref.line, ref.column + ref.length);
      lenses.push(...(await this.lensesFor(path, range)));
    }
    return lenses;
  }

  /** The lenses for one schedule file above `range`: speedups, plus a warning when stale or invalid. */
  async lensesFor(schedulePath: string, range: vscode.Range): Promise<vscode.CodeLens[]> {
    const uri = vscode.Uri.file(schedulePath);
    const open: vscode.Command = { title: '', command: 'vscode.openWith', arguments: [uri, SCHEDULE_EDITOR_VIEW_TYPE] };
    const info = await this.info(schedulePath);
    if (!info.ok) {
      return [
        new vscode.CodeLens(range, {
          ...open,
          title: `$(error) BAC schedule is invalid (${info.problems} problem${info.problems === 1 ? '' : 's'}) — open it to see why`,
          command: 'vscode.openWith',
          arguments: [uri, 'default'],
        }),
      ];
    }
    const { schedule, summary } = info;
    // the measured speed when `bac eval` recorded one for this table, else the labelled expectation
    const shown = speedShown(schedule, summary);
    const speed = `BAC: ${shown.label} · ${formatSpeedup(summary.speedupFlops)} by FLOPs`;
    const lenses = [
      new vscode.CodeLens(range, {
        ...open,
        // The sampler and K the schedule runs: a sweep may have chosen fewer steps or another sampler.
        title: `${speed} · runs ${samplerLabel(schedule.sampler.type)}-${schedule.sampler.steps} · budget ${schedule.solver.budget} · top-n ${schedule.solver.topN}`,
        tooltip: `Open ${schedule.model.path}'s schedule in the BAC schedule editor`,
      }),
    ];
    const model = await this.links.model(schedulePath, schedule);
    if (model.state === 'missing' || model.state === 'changed') {
      const why =
        model.state === 'missing' ? `model ${schedule.model.path} not found` : 'model changed since it was solved';
      const modelPath = resolveStored(dirname(schedulePath), schedule.model.path);
      lenses.push(
        new vscode.CodeLens(range, {
          title: `$(warning) BAC schedule is stale: ${why} — re-profile`,
          tooltip: model.message,
          command: 'bac.profileModel',
          arguments: model.state === 'changed' ? [{ model: modelPath }] : [],
        }),
      );
    }
    return lenses;
  }

  /** The absolute path a literal names: relative to the file, then to each workspace folder. */
  private async resolve(document: vscode.TextDocument, literal: string): Promise<string | null> {
    const candidates: string[] = [];
    if (document.uri.scheme === 'file')
      candidates.push(resolveStored(dirname(document.uri.fsPath), literal.replace(/\\/g, '/')));
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme === 'file') candidates.push(join(folder.uri.fsPath, literal.replace(/\\/g, '/')));
    }
    for (const c of candidates) if (await statFile(c)) return c;
    return null;
  }

  private async info(path: string): Promise<ScheduleInfo> {
    const s = await statFile(path);
    if (!s) return { ok: false, problems: 1 };
    const hit = this.schedules.get(path);
    if (hit && hit.mtimeMs === s.mtimeMs && hit.size === s.size) return hit.info;
    let info: ScheduleInfo;
    try {
      const parsed = parseSchedule(await readFile(path, 'utf8'));
      info = parsed.ok
        ? { ok: true, schedule: parsed.schedule, summary: summarizeSchedule(parsed.schedule) }
        : { ok: false, problems: parsed.errors.length };
    } catch {
      info = { ok: false, problems: 1 };
    }
    this.schedules.set(path, { ...s, info });
    return info;
  }
}
