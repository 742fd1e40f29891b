import * as vscode from 'vscode';
import { minimalLineEdits, withEol } from '../core/edits';
import { analyse, validState } from '../core/editor-view';
import { withMeasuredSpeed } from '../core/measured-speed';
import { measuredSpeedCaveat } from '../core/speed-caveat';
import { BacError } from '../core/errors';
import type { EditIntent, EditorState, IssueView } from '../core/protocol';
import { resolveWithControls, toggleStep, type EditResult } from '../core/schedule-edit';
import { parseSchedule, serializeSchedule } from '../core/schedule-format';
import { tradeoffCurves, type TradeoffCurves } from '../core/tradeoff';
import type { MeasuredSpeed, Profile, Schedule } from '../core/types';
import type { LinkResolver } from './links';

/**
 * The `.bacschedule` TextDocument as the editor's model: deriving the view state from its text,
 * and turning intents into minimal WorkspaceEdits of it. Independent of any webview, so tests
 * (and several editors on one document) share one code path.
 */

/** Outcome of {@link ScheduleDocuments.applyIntent}. */
export interface IntentOutcome {
  /** True when the document was edited (false for a refusal or a no-op). */
  readonly applied: boolean;
  /** Why nothing was applied, one sentence for the UI; absent when applied. */
  readonly message?: string;
}

/** Path of a document on disk, or null (untitled or a virtual file system). */
export function documentPath(document: vscode.TextDocument): string | null {
  return document.uri.scheme === 'file' ? document.uri.fsPath : null;
}

/** Last path segment of a URI, for headings. */
function fileName(uri: vscode.Uri): string {
  return uri.path.split('/').pop() ?? uri.path;
}

/**
 * The parser can report one missing key twice (once for the parent object, once for the field
 * with a more specific expectation); the error view keeps the later, more specific one.
 */
function withoutRepeatedMissing<T extends { path: string; message: string }>(issues: readonly T[]): T[] {
  const lastMissing = new Map<string, number>();
  issues.forEach((e, i) => {
    if (e.message.startsWith('is missing')) lastMissing.set(e.path, i);
  });
  return issues.filter((e, i) => !e.message.startsWith('is missing') || lastMissing.get(e.path) === i);
}

/** Cache key of trade-off curves: they depend on the profile, top-n and forceLast only. */
function curvesKey(profileSha: string, s: Schedule): string {
  return `${profileSha}:${s.solver.topN}:${s.solver.forceLast}`;
}

/** Derives state from schedule documents and applies intents to them. */
export class ScheduleDocuments {
  /** Trade-off curves per (profile sha256, top-n, forceLast): the sweep is the costly part of a render. */
  private readonly curves = new Map<string, TradeoffCurves | null>();
  /** Per document, the tail of its intent queue: intents apply one after another on fresh text. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly links: LinkResolver,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /**
   * The state to render for `document`'s current text. The trade-off sweep is the one costly part
   * (every budget of every block, O(blocks · K³)): with `curves: 'ifCached'` the state comes at once, marked
   * `tradeoffPending` when they are not cached yet, so the timeline paints first.
   */
  async stateOf(document: vscode.TextDocument, curves: 'compute' | 'ifCached' = 'compute'): Promise<EditorState> {
    const name = fileName(document.uri);
    const parsed = parseSchedule(document.getText());
    if (!parsed.ok) {
      const issues: IssueView[] = withoutRepeatedMissing(parsed.errors).map((e) => ({
        path: e.path,
        message: e.message,
        line: e.line,
        column: e.column,
      }));
      return { kind: 'invalid', fileName: name, issues };
    }
    const schedule = parsed.schedule;
    const path = documentPath(document);
    const [link, model] = await Promise.all([this.links.profile(path, schedule), this.links.model(path, schedule)]);
    let analysis = null;
    if (link.profile) {
      try {
        const key = curvesKey(link.sha256!, schedule);
        analysis =
          curves === 'ifCached' && !this.curves.has(key)
            ? analyse(schedule, link.profile, null, true)
            : analyse(schedule, link.profile, this.curvesFor(key, link.profile, schedule));
      } catch (e) {
        this.log.error(`schedule editor: could not analyse ${document.uri.toString()}: ${String(e)}`);
      }
    }
    const readonly = vscode.workspace.fs.isWritableFileSystem(document.uri.scheme) === false;
    const host = { platform: process.platform, arch: process.arch };
    const caveat = measuredSpeedCaveat(host, link.profile?.executionProvider);
    return validState(name, schedule, link.status, model, analysis, readonly, caveat);
  }

  private curvesFor(key: string, profile: Profile, s: Schedule): TradeoffCurves | null {
    if (!this.curves.has(key)) {
      let value: TradeoffCurves | null = null;
      try {
        value = tradeoffCurves(profile, s.solver.topN, s.solver.forceLast);
      } catch (e) {
        this.log.warn(`schedule editor: trade-off curves failed: ${String(e)}`);
      }
      // A handful of entries covers switching top-n / forceLast back and forth.
      if (this.curves.size >= 16) this.curves.delete(this.curves.keys().next().value!);
      this.curves.set(key, value);
    }
    return this.curves.get(key)!;
  }

  /** The K×K mean similarity matrix of a block of the linked profile, or null when unavailable. */
  async matrixOf(document: vscode.TextDocument, blockId: string): Promise<{ steps: number; data: number[] } | null> {
    const parsed = parseSchedule(document.getText());
    if (!parsed.ok) return null;
    const link = await this.links.profile(documentPath(document), parsed.schedule);
    const block = link.profile?.blocks.find((b) => b.id === blockId);
    if (!link.profile || !block) return null;
    // Four decimals are plenty for a heatmap and halve the message size.
    return { steps: link.profile.sampler.steps, data: Array.from(block.simMean, (x) => Math.round(x * 1e4) / 1e4) };
  }

  /**
   * Applies an intent as a minimal edit of the document (only the changed lines), so undo, redo,
   * dirty state and hot exit behave as for any text edit. Never writes to a document that does
   * not parse. Intents on one document are applied in order, each against the latest text.
   */
  applyIntent(document: vscode.TextDocument, intent: EditIntent): Promise<IntentOutcome> {
    return this.enqueue(document, (schedule) => this.edited(document, schedule, intent));
  }

  /**
   * Records a measured speed in the schedule as the same kind of minimal edit (undoable, left
   * dirty); refused when the document does not parse or its update table is no longer the one
   * measured.
   */
  recordMeasured(document: vscode.TextDocument, measured: MeasuredSpeed): Promise<IntentOutcome> {
    return this.enqueue(document, (schedule) => Promise.resolve(withMeasuredSpeed(schedule, measured)));
  }

  /** Runs `edit` after the document's earlier edits, against its latest text. */
  private enqueue(
    document: vscode.TextDocument,
    edit: (schedule: Schedule) => Promise<EditResult>,
  ): Promise<IntentOutcome> {
    const key = document.uri.toString();
    const run = (this.queues.get(key) ?? Promise.resolve()).then(() => this.applyNow(document, edit));
    const tail = run.catch(() => undefined);
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }

  private async applyNow(
    document: vscode.TextDocument,
    edit: (schedule: Schedule) => Promise<EditResult>,
  ): Promise<IntentOutcome> {
    if (vscode.workspace.fs.isWritableFileSystem(document.uri.scheme) === false) {
      return { applied: false, message: 'This schedule is read-only.' };
    }
    const text = document.getText();
    const parsed = parseSchedule(text);
    if (!parsed.ok) {
      return {
        applied: false,
        message: `The file has ${parsed.errors.length} problem(s); fix them as text first (the editor never rewrites an invalid schedule).`,
      };
    }
    let result: EditResult;
    try {
      result = await edit(parsed.schedule);
    } catch (e) {
      if (!(e instanceof BacError)) throw e;
      result = { ok: false, reason: e.message };
    }
    if (!result.ok) return { applied: false, message: result.reason };
    const next = withEol(serializeSchedule(result.schedule), document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n');
    const edits = minimalLineEdits(text, next);
    if (edits.length === 0) return { applied: false, message: 'Nothing changed.' };
    const we = new vscode.WorkspaceEdit();
    for (const e of edits)
      we.replace(document.uri, new vscode.Range(document.positionAt(e.start), document.positionAt(e.end)), e.text);
    // The document may have changed while a profile was read: applying edits computed against
    // stale text would corrupt it, so re-check (the queue re-runs nothing; the user just retries).
    if (document.getText() !== text)
      return { applied: false, message: 'The file changed while the edit was computed; try again.' };
    const ok = await vscode.workspace.applyEdit(we);
    return ok ? { applied: true } : { applied: false, message: 'VS Code refused the edit (is the file read-only?).' };
  }

  private async edited(document: vscode.TextDocument, schedule: Schedule, intent: EditIntent): Promise<EditResult> {
    switch (intent.type) {
      case 'toggleStep':
        return toggleStep(schedule, intent.blockId, intent.step);
      case 'setControls': {
        const link = await this.links.profile(documentPath(document), schedule);
        if (!link.profile) return { ok: false, reason: `Cannot re-solve: ${link.status.message}` };
        return resolveWithControls(schedule, link.profile, intent);
      }
    }
  }
}
