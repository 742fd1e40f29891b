import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import { exportCheckpoint, findTorchPython } from '../engine/checkpoint-export';
import { askChoiceUnlessGiven, askOnnxOutUnlessGiven } from './ask';

/**
 * "BAC: Export Policy from Checkpoint…": a diffusion_policy workspace checkpoint (`.ckpt`) → a
 * BAC-ready ONNX, by running the Python exporter (shipped in dist/python by scripts/build.mjs) with
 * the configured or detected Python, under a cancellable progress notification. The exporter
 * writes atomically; a cancelled export leaves nothing. Then offers "Profile Model" on the result.
 */

/** Which policy weights of the checkpoint to export. */
export type CheckpointWeights = 'ema_model' | 'model';

/** Arguments for running the command without dialogs (tests); a Uri comes from the explorer menu. */
export interface ExportCheckpointArgs {
  /** The `.ckpt`; asked for when absent. */
  readonly checkpoint?: string;
  /** Asked for (quick pick) when absent. */
  readonly weights?: CheckpointWeights;
  /** Where the `.onnx` goes; asked for when absent. */
  readonly out?: string;
  /** Offer "Profile Model" on the result. Default true. */
  readonly offerProfile?: boolean;
}

/** What the command wrote. */
export interface ExportCheckpointResult {
  readonly out: string;
  readonly python: string;
  /** The exporter's last stdout line (what it wrote). */
  readonly summary: string;
}

/** Runs the command. Resolves undefined when the user cancelled or an error was shown (one message, details in the log). */
export async function exportCheckpointCommand(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  args: ExportCheckpointArgs,
): Promise<ExportCheckpointResult | undefined> {
  let checkpoint = args.checkpoint;
  if (checkpoint === undefined) {
    const picked = await vscode.window.showOpenDialog({
      title: 'BAC: Export Policy from Checkpoint',
      canSelectMany: false,
      filters: { 'diffusion_policy checkpoint': ['ckpt'], 'All files': ['*'] },
      openLabel: 'Export',
    });
    if (!picked?.[0]) return undefined;
    checkpoint = picked[0].fsPath;
  }
  const name = basename(checkpoint);

  const weights = await askChoiceUnlessGiven<CheckpointWeights>(
    args.weights,
    [
      {
        label: 'EMA weights',
        description: 'state_dicts.ema_model',
        detail: 'What diffusion_policy evaluates and deploys when training kept an EMA (the usual choice).',
        value: 'ema_model',
      },
      {
        label: 'Training weights',
        description: 'state_dicts.model',
        detail: 'The optimiser’s current weights (runs trained without EMA have only these).',
        value: 'model',
      },
    ],
    { title: `BAC: Export ${name}`, placeHolder: 'Which policy weights to export' },
  );
  if (weights === undefined) return undefined;

  const out = await askOnnxOutUnlessGiven(args.out, {
    title: `BAC: Export ${name}`,
    defaultPath: join(dirname(checkpoint), `${basename(checkpoint, extname(checkpoint))}.onnx`),
    saveLabel: 'Export',
  });
  if (out === undefined) return undefined;

  const configured = vscode.workspace.getConfiguration('bac').get<string>('pythonPath')?.trim() || undefined;
  const script = vscode.Uri.joinPath(context.extensionUri, 'dist', 'python', 'bac_export.py').fsPath;
  const run = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `BAC: exporting ${name} (${weights})`,
      cancellable: true,
    },
    async (progress, token) => {
      progress.report({ message: 'finding a Python with PyTorch…' });
      const found = await findTorchPython(configured);
      if ('error' in found) return { python: undefined, error: found.error };
      if (token.isCancellationRequested) return { python: found.python, outcome: undefined };
      log.info(`export: ${checkpoint} (${weights}) → ${out} with ${found.python} (torch ${found.torch})`);
      progress.report({ message: `running the exporter (${found.python})…` });
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      try {
        const outcome = await exportCheckpoint({
          python: found.python,
          script,
          checkpoint,
          out,
          weights,
          signal: abort.signal,
        });
        return { python: found.python, outcome };
      } finally {
        sub.dispose();
      }
    },
  );
  if (run.python === undefined) {
    log.error(`export: ${run.error}`);
    void vscode.window.showErrorMessage(`BAC: ${run.error}.`);
    return undefined;
  }
  const outcome = run.outcome ?? { ok: false as const, cancelled: true, message: 'export cancelled', details: '' };
  if (!outcome.ok) {
    log.info(`export: ${outcome.details}`);
    if (outcome.cancelled) {
      vscode.window.setStatusBarMessage('$(circle-slash) BAC: export cancelled, nothing was written', 5000);
      return undefined;
    }
    void vscode.window.showErrorMessage(`BAC: ${outcome.message}`, 'Show Log').then((pick) => {
      if (pick) log.show(true);
    });
    return undefined;
  }
  log.info(`export: ${outcome.summary}`);
  if (args.offerProfile !== false) {
    void vscode.window
      .showInformationMessage(`BAC: wrote ${basename(out)} from ${name}.`, 'Profile Model')
      .then((action) => {
        if (action) void vscode.commands.executeCommand('bac.profileModel', vscode.Uri.file(out));
      });
  }
  return { out, python: run.python, summary: outcome.summary };
}
