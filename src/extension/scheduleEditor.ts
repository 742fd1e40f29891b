import * as vscode from 'vscode';
import {
  isWebviewMessage,
  type EditIntent,
  type EditorState,
  type HostMessage,
  type WebviewMessage,
} from '../core/protocol';
import { Disposable } from './dispose';
import type { IntentOutcome, ScheduleDocuments } from './scheduleDocument';
import { scheduleEditorHtml } from './webviewHtml';

/** View type of the `.bacschedule` custom editor (package.json `customEditors`). */
export const SCHEDULE_EDITOR_VIEW_TYPE = 'bac.scheduleEditor';

/**
 * The `.bacschedule` custom editor (as in vscode-extension-samples' custom-editor-sample): the
 * TextDocument is the model, each webview is a view of it that sends intents. The provider owns
 * the open sessions so that changes of linked files (a re-profiled `.bacprofile`, a replaced
 * model) re-render every editor showing a schedule.
 */
export class ScheduleEditorProvider extends Disposable implements vscode.CustomTextEditorProvider {
  private readonly sessions = new Set<EditorSession>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    readonly documents: ScheduleDocuments,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
  }

  /**
   * Registers the provider. Webview contexts are not retained while hidden (they would hold a
   * whole page per tab): a tab shown again is rebuilt from the document, and its view-local state
   * (selected block, chart mode) comes back through `vscode.setState` (webview/state.ts).
   */
  register(): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(SCHEDULE_EDITOR_VIEW_TYPE, this, {
      webviewOptions: { retainContextWhenHidden: false, enableFindWidget: false },
      supportsMultipleEditorsPerDocument: true,
    });
  }

  resolveCustomTextEditor(document: vscode.TextDocument, panel: vscode.WebviewPanel): void {
    const session = new EditorSession(document, panel, this.extensionUri, this.documents, this.log);
    this.sessions.add(session);
    panel.onDidDispose(() => {
      this.sessions.delete(session);
      session.dispose();
    });
  }

  /** Re-renders every open editor (a linked profile or model changed on disk). */
  refreshAll(): void {
    for (const s of this.sessions) s.render();
  }

  /**
   * Applies an intent to the schedule at `uri` exactly as a click in its editor would (opening
   * the document if needed). For tests and commands; the document is left dirty, not saved.
   */
  async applyIntent(uri: vscode.Uri, intent: EditIntent): Promise<IntentOutcome> {
    const document = await vscode.workspace.openTextDocument(uri);
    return this.documents.applyIntent(document, intent);
  }

  /** Number of open schedule editors (for tests). */
  get openEditors(): number {
    return this.sessions.size;
  }

  override dispose(): void {
    for (const s of this.sessions) s.dispose();
    this.sessions.clear();
    super.dispose();
  }
}

/** One webview showing one schedule document. */
class EditorSession extends Disposable {
  private ready = false;
  /** Renders are async (profile reads); only the newest one may post. */
  private generation = 0;
  private renderQueued = false;
  /**
   * The first state, derived while the webview loads (reading and hashing the linked profile and
   * model included), for the document version it was derived from; taken by the first render.
   */
  private prefetched: { readonly version: number; readonly state: Promise<EditorState> } | null;

  constructor(
    private readonly document: vscode.TextDocument,
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly documents: ScheduleDocuments,
    private readonly log: vscode.LogOutputChannel,
  ) {
    super();
    panel.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
    };
    panel.webview.html = scheduleEditorHtml(panel.webview, extensionUri);
    // Loading the webview takes far longer than deriving its state: start now, so `ready` is
    // answered at once. A failure is reported by the render that takes it.
    const state = documents.stateOf(document, 'ifCached');
    state.catch(() => undefined);
    this.prefetched = { version: document.version, state };
    this._register(panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)));
    this._register(
      vscode.workspace.onDidChangeTextDocument((e) => {
        // Every change re-renders, our own edits included: the webview keeps no optimistic copy
        // of the schedule, so the document change is the one path by which any edit (a click,
        // undo, an edit in a text editor beside it) reaches the view. Bursts coalesce.
        if (e.document === this.document && e.contentChanges.length > 0) this.queueRender();
      }),
    );
  }

  private queueRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    setTimeout(() => {
      this.renderQueued = false;
      this.render();
    }, 0);
  }

  /** Computes and posts the state, once the webview said it is ready. */
  render(): void {
    if (this.isDisposed) return;
    const prefetched = this.prefetched;
    // Before `ready`, a render means the document or a linked file changed: the prefetched state
    // may be stale, so the first render derives it again.
    this.prefetched = null;
    if (!this.ready) return;
    const generation = ++this.generation;
    const failed = (e: unknown): void =>
      this.log.error(`schedule editor: render failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    const first =
      prefetched && prefetched.version === this.document.version
        ? prefetched.state
        : this.documents.stateOf(this.document, 'ifCached');
    first.then((state) => {
      if (generation !== this.generation) return;
      this.post({ type: 'state', state });
      if (state.kind === 'valid' && state.analysis?.tradeoffPending) {
        // Paint first, then sweep the budgets and send the state again with the curves.
        setTimeout(() => {
          if (generation !== this.generation || this.isDisposed) return;
          this.documents.stateOf(this.document, 'compute').then((full) => {
            if (generation === this.generation) this.post({ type: 'state', state: full });
          }, failed);
        }, 30);
      }
    }, failed);
  }

  private post(message: HostMessage): void {
    if (!this.isDisposed) void this.panel.webview.postMessage(message);
  }

  private onMessage(raw: unknown): void {
    if (!isWebviewMessage(raw)) {
      this.log.warn(
        `schedule editor: ignored a malformed message from the webview: ${JSON.stringify(raw)?.slice(0, 200)}`,
      );
      return;
    }
    void this.handle(raw).catch((e: unknown) => {
      this.log.error(`schedule editor: ${raw.type} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      this.post({
        type: 'notice',
        level: 'error',
        message: `Could not apply the change: ${e instanceof Error ? e.message : String(e)}. See the BAC log.`,
      });
    });
  }

  private async handle(m: WebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.render();
        return;
      case 'toggleStep':
      case 'setControls': {
        const outcome = await this.documents.applyIntent(this.document, m);
        if (!outcome.applied && outcome.message)
          this.post({ type: 'notice', level: 'warning', message: outcome.message });
        return;
      }
      case 'requestMatrix': {
        const matrix = await this.documents.matrixOf(this.document, m.blockId);
        if (matrix) this.post({ type: 'matrix', blockId: m.blockId, ...matrix });
        return;
      }
      case 'openAsText':
        await vscode.commands.executeCommand('vscode.openWith', this.document.uri, 'default', this.panel.viewColumn);
        return;
      case 'profileModel':
        await vscode.commands.executeCommand('bac.profileModel');
        return;
    }
  }
}
