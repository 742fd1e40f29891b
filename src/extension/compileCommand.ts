import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import { isBacError } from '../core/errors';
import { checkCompiledModelLoads, compileScheduleDetailed } from '../engine/compile';
import { sameFile, writeFileAtomic } from '../engine/fsutil';
import { askChoiceUnlessGiven, askOnnxOutUnlessGiven } from './ask';
import { scheduleCommand, type CommandSchedule, type ScheduleCommand } from './commandSchedule';
import { resolveStored } from './files';

/**
 * "BAC: Compile Schedule to ONNX": `bac compile` from the editor. Bakes the schedule into the
 * If-gated model (docs/compiled-model.md) and writes it atomically next to the schedule, or where
 * the user picks. Thin: parsing, checking and compiling are the core's and the engine's.
 */

/** Arguments for running the command without dialogs (tests); a Uri comes from the explorer menu. */
export interface CompileScheduleArgs {
  /** The `.bacschedule`; default: the active schedule editor's or text editor's document. */
  readonly schedule?: vscode.Uri;
  /** Where the `.onnx` goes; asked for when absent. */
  readonly out?: string;
  /** Fixed batch (1 for a robot) or null for the exported free batch; asked for when absent. */
  readonly batch?: number | null;
}

/** What the command wrote. */
export interface CompileScheduleResult {
  readonly out: string;
  readonly bytes: number;
  /** K: rows of the baked table. */
  readonly steps: number;
  readonly batch: number | null;
}

/**
 * The command. It resolves to undefined when the user cancels or an error was shown (one message,
 * details in the log), and never leaves a partial file (atomic write).
 */
export function compileScheduleCommand(
  log: vscode.LogOutputChannel,
): ScheduleCommand<CompileScheduleArgs, CompileScheduleResult> {
  const words = { missing: 'open a .bacschedule (or pick one in the Explorer) to compile it.', again: 'compile again' };
  return scheduleCommand(words, (target, args: CompileScheduleArgs) => compileSchedule(log, target, args));
}

async function compileSchedule(
  log: vscode.LogOutputChannel,
  { uri, name, schedule }: CommandSchedule,
  args: CompileScheduleArgs,
): Promise<CompileScheduleResult | undefined> {
  const modelPath = resolveStored(dirname(uri.fsPath), schedule.model.path);
  let modelBytes: Uint8Array;
  try {
    modelBytes = await readFile(modelPath);
  } catch {
    void vscode.window.showErrorMessage(
      `BAC: ${name} names the model ${schedule.model.path}, which is not at ${modelPath}; move it back or profile and solve again.`,
    );
    return undefined;
  }

  const batch = await askChoiceUnlessGiven<number | null>(
    args.batch,
    [
      {
        label: 'Batch 1',
        description: 'one robot, one action chunk at a time',
        detail: 'Fixes the batch axis, so ONNX Runtime folds the shape arithmetic: every call runs fewer nodes.',
        value: 1,
      },
      {
        label: 'Any batch',
        description: 'as the model was exported',
        detail: 'Keeps the batch axis free, for servers that batch several robots.',
        value: null,
      },
    ],
    { title: `BAC: Compile ${name}`, placeHolder: 'Batch size of the compiled model' },
  );
  if (batch === undefined) return undefined;

  const stem = basename(modelPath, extname(modelPath));
  const out = await askOnnxOutUnlessGiven(args.out, {
    title: `BAC: Compile ${name}`,
    defaultPath: join(dirname(uri.fsPath), `${stem}.cached.onnx`),
    saveLabel: 'Compile',
  });
  if (out === undefined) return undefined;

  // an output must never replace an input (the save dialog's overwrite prompt does not say so)
  const input = (await sameFile(out, modelPath)) ? 'model' : (await sameFile(out, uri.fsPath)) ? 'schedule' : null;
  if (input) {
    void vscode.window.showErrorMessage(
      `BAC: ${basename(out)} is the ${input} being compiled; pick another file to write.`,
    );
    return undefined;
  }
  try {
    const compiled = compileScheduleDetailed(modelBytes, schedule, {
      modelName: basename(modelPath),
      scheduleName: name,
      batch: batch ?? undefined,
    });
    await checkCompiledModelLoads(compiled.bytes, basename(modelPath));
    await writeFileAtomic(out, compiled.bytes);
    const what = `K = ${compiled.steps}, ${batch === null ? 'any batch' : `batch ${batch}`}, ${(compiled.bytes.length / 1e6).toFixed(1)} MB`;
    log.info(`compile: ${uri.fsPath} → ${out} (${what})`);
    void vscode.window.showInformationMessage(`BAC: wrote ${basename(out)} (${what}).`, 'Reveal').then((action) => {
      if (action === 'Reveal') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(out));
    });
    return { out, bytes: compiled.bytes.length, steps: compiled.steps, batch };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const code = (e as NodeJS.ErrnoException).code;
    log.error(`compile: ${uri.fsPath}: ${isBacError(e) || code ? message : ((e as Error).stack ?? message)}`);
    void vscode.window.showErrorMessage(
      isBacError(e)
        ? `BAC: ${message}`
        : code
          ? `BAC: cannot write ${out} (${code}); pick a folder you can write to.`
          : `BAC: compiling ${name} failed unexpectedly; see "BAC: Show Log".`,
    );
    return undefined;
  }
}
