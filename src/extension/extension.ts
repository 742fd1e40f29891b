import * as vscode from 'vscode';
import type { EditIntent, EditorState } from '../core/protocol';
import { CODELENS_LANGUAGES } from '../core/codelens-scan';
import { ScheduleCodeLensProvider } from './codeLens';
import { commandArgs } from './commandArgs';
import { activeScheduleUri } from './commandSchedule';
import { compileScheduleCommand, type CompileScheduleArgs, type CompileScheduleResult } from './compileCommand';
import { exportCheckpointCommand, type ExportCheckpointArgs, type ExportCheckpointResult } from './exportCommand';
import { LinkResolver } from './links';
import { measureSpeedCommand, type MeasureSpeedArgs, type MeasureSpeedResult } from './measureCommand';
import { profileModelCommand, type ProfileModelArgs, type ProfileModelResult } from './profileCommand';
import { ScheduleDocuments, type IntentOutcome } from './scheduleDocument';
import { SCHEDULE_EDITOR_VIEW_TYPE, ScheduleEditorProvider } from './scheduleEditor';
import { SweepViewProvider, SWEEP_VIEW_TYPE, type ApplySweepOutcome } from './sweepView';
import { tuneScheduleCommand, type TuneScheduleArgs, type TuneScheduleResult } from './tuneCommand';

/**
 * What `activate` returns: a small API for the integration tests (and other extensions), so a
 * test drives exactly the code paths the UI drives without clicking into a webview.
 *
 * ```ts
 * const api = vscode.extensions.getExtension<BacStudioApi>('bac-studio.bac-studio')!.exports;
 * await api.scheduleEditor.applyIntent(uri, { type: 'setControls', budget: 8, topN: 3, forceLast: true });
 * await vscode.commands.executeCommand('undo'); // restores the text byte for byte
 * const lenses = await api.codeLens.provideCodeLenses(pythonDocument, token);
 * await api.profileModel({ model, episodes, samples: 4, overwrite: true, open: false });
 * await api.compileSchedule({ schedule: uri, out: '/tmp/policy.cached.onnx', batch: 1 });
 * ```
 */
export interface BacStudioApi {
  readonly scheduleEditor: {
    /** View type of the custom editor (`bac.scheduleEditor`). */
    readonly viewType: string;
    /**
     * Applies an intent to the schedule at `uri` as the editor would: a minimal edit of the
     * TextDocument (left dirty, not saved); refused, with a message, for an invalid file, step 0,
     * or a re-solve without a usable profile.
     */
    applyIntent(uri: vscode.Uri, intent: EditIntent): Promise<IntentOutcome>;
    /** The state the editor would render for the schedule at `uri`. */
    stateOf(uri: vscode.Uri): Promise<EditorState>;
    /** Number of open schedule editors. */
    readonly openEditors: number;
  };
  /** The CodeLens provider registered for Python, TS/JS, C/C++, YAML, JSON, TOML and shell files. */
  readonly codeLens: vscode.CodeLensProvider;
  /** Runs "BAC: Profile Model" (dialogs skipped for every argument given). */
  profileModel(args?: ProfileModelArgs | vscode.Uri): Promise<ProfileModelResult | undefined>;
  /**
   * Runs "BAC: Tune Schedule…" (dialogs skipped for every argument given): tunes in a child process
   * and writes the schedule atomically only when the search finished.
   */
  tuneSchedule(args?: TuneScheduleArgs | vscode.Uri): Promise<TuneScheduleResult | undefined>;
  /** Runs "BAC: Compile Schedule to ONNX" (dialogs skipped for every argument given). */
  compileSchedule(args?: CompileScheduleArgs | vscode.Uri): Promise<CompileScheduleResult | undefined>;
  /** The Sweep panel (`.bacsweep` viewer): apply a configuration as its "Apply" button does. */
  readonly sweep: {
    readonly viewType: string;
    apply(sweep: vscode.Uri, id: string, target?: vscode.Uri): Promise<ApplySweepOutcome>;
  };
  /**
   * Runs "BAC: Measure Speed" (dialogs skipped for every argument given): the measured speed is
   * recorded in the schedule's document as an undoable edit, left unsaved.
   */
  measureSpeed(args?: MeasureSpeedArgs | vscode.Uri): Promise<MeasureSpeedResult | undefined>;
  /** Runs "BAC: Export Policy from Checkpoint…" (dialogs skipped for every argument given). */
  exportCheckpoint(args?: ExportCheckpointArgs | vscode.Uri): Promise<ExportCheckpointResult | undefined>;
}

/**
 * Extension entry point. Activation: the `.bacschedule` editor and the commands (implicit from
 * their contributions), a workspace that contains a schedule, and a document in one of the
 * CodeLens languages (package.json `activationEvents`), so the lens needs nothing opened first.
 */
export function activate(context: vscode.ExtensionContext): BacStudioApi {
  // One Output channel "BAC" carries the details behind every notification.
  const log = vscode.window.createOutputChannel('BAC', { log: true });
  const links = new LinkResolver();
  const documents = new ScheduleDocuments(links, log);
  const editor = new ScheduleEditorProvider(context.extensionUri, documents, log);
  const codeLens = new ScheduleCodeLensProvider(links);
  const sweep = new SweepViewProvider(context.extensionUri, log);
  const profileModel = (args?: ProfileModelArgs | vscode.Uri): Promise<ProfileModelResult | undefined> =>
    profileModelCommand(context, log, profileArgs(args));
  const compileSchedule = compileScheduleCommand(log);
  const tuneSchedule = (args?: TuneScheduleArgs | vscode.Uri): Promise<TuneScheduleResult | undefined> =>
    tuneScheduleCommand(
      log,
      commandArgs(args, (uri) => ({ profile: uri.fsPath })),
    );
  const measureSpeed = measureSpeedCommand(context, log, documents, links);
  const exportCheckpoint = (args?: ExportCheckpointArgs | vscode.Uri): Promise<ExportCheckpointResult | undefined> =>
    exportCheckpointCommand(
      context,
      log,
      commandArgs(args, (uri) => ({ checkpoint: uri.fsPath })),
    );

  // A re-profiled `.bacprofile` or a replaced model changes banners and charts of open editors.
  const linked = vscode.workspace.createFileSystemWatcher('**/*.{bacprofile,onnx}');
  const onLinked = (uri: vscode.Uri): void => {
    links.invalidate(uri.fsPath);
    editor.refreshAll();
  };

  context.subscriptions.push(
    log,
    editor,
    editor.register(),
    sweep,
    sweep.register(),
    codeLens,
    vscode.languages.registerCodeLensProvider(
      CODELENS_LANGUAGES.map((language) => ({ language })),
      codeLens,
    ),
    linked,
    linked.onDidChange(onLinked),
    linked.onDidCreate(onLinked),
    linked.onDidDelete(onLinked),
    vscode.commands.registerCommand('bac.showLog', () => log.show()),
    vscode.commands.registerCommand('bac.profileModel', profileModel),
    vscode.commands.registerCommand('bac.compileSchedule', compileSchedule),
    vscode.commands.registerCommand('bac.measureSpeed', measureSpeed),
    vscode.commands.registerCommand('bac.tuneSchedule', tuneSchedule),
    vscode.commands.registerCommand('bac.exportCheckpoint', exportCheckpoint),
    vscode.commands.registerCommand('bac.openScheduleAsText', (uri?: vscode.Uri) => reopen(uri, 'default')),
    vscode.commands.registerCommand('bac.openScheduleInEditor', (uri?: vscode.Uri) =>
      reopen(uri, SCHEDULE_EDITOR_VIEW_TYPE),
    ),
  );

  return {
    scheduleEditor: {
      viewType: SCHEDULE_EDITOR_VIEW_TYPE,
      applyIntent: (uri, intent) => editor.applyIntent(uri, intent),
      stateOf: async (uri) => documents.stateOf(await vscode.workspace.openTextDocument(uri)),
      get openEditors() {
        return editor.openEditors;
      },
    },
    codeLens,
    profileModel,
    compileSchedule,
    measureSpeed,
    tuneSchedule,
    sweep: { viewType: SWEEP_VIEW_TYPE, apply: (uri, id, target) => sweep.apply(uri, id, target) },
    exportCheckpoint,
  };
}

/** Command arguments arrive untyped: none (palette), a Uri (explorer menu on a `.onnx`), an object (CodeLens, tests). */
function profileArgs(v: unknown): ProfileModelArgs {
  if (v instanceof vscode.Uri) return v.scheme === 'file' ? { model: v.fsPath } : {};
  return typeof v === 'object' && v !== null ? (v as ProfileModelArgs) : {};
}

/**
 * Reopens a schedule with another editor: the given URI (explorer context menu), else the active
 * custom editor's or text editor's document.
 */
async function reopen(uri: vscode.Uri | undefined, viewType: string): Promise<void> {
  const target = uri ?? activeScheduleUri();
  if (!target) {
    void vscode.window.showInformationMessage('BAC: open a .bacschedule first.');
    return;
  }
  await vscode.commands.executeCommand('vscode.openWith', target, viewType);
}

/** Nothing to do: every resource is owned by `context.subscriptions`. */
export function deactivate(): void {
  // Everything is owned by context.subscriptions.
}
