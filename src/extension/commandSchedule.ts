import { basename } from 'node:path';
import * as vscode from 'vscode';
import { parseSchedule } from '../core/schedule-format';
import type { Schedule } from '../core/types';
import { commandArgs } from './commandArgs';

/** The schedule a command acts on, as the user sees it. */
export interface CommandSchedule {
  readonly uri: vscode.Uri;
  /** File name for messages. */
  readonly name: string;
  readonly document: vscode.TextDocument;
  readonly schedule: Schedule;
}

/** What a schedule command says when it cannot act; each completes a sentence ("compile it", "compile again"). */
export interface ScheduleCommandWords {
  /** After "BAC: ", when no saved schedule is given or active. */
  readonly missing: string;
  /** After "fix it in the schedule editor, then ", when the schedule is invalid. */
  readonly again: string;
}

/** The options every schedule command takes: the schedule to act on (default: the active one). */
export interface ScheduleCommandArgs {
  readonly schedule?: vscode.Uri;
}

/**
 * A command that acts on one `.bacschedule`, as VS Code and the API call it: with nothing (palette),
 * the clicked file's Uri (Explorer) or an options object. Resolves undefined when it was cancelled or
 * a message was shown.
 */
export type ScheduleCommand<A extends ScheduleCommandArgs, R> = (args?: A | vscode.Uri) => Promise<R | undefined>;

/**
 * Makes a schedule command: finds the schedule it acts on (the one given, else the active one), and
 * runs `run` with it and the options. When there is none, it is not a saved file, or it is invalid,
 * one message is shown and the command resolves undefined without running `run`.
 */
export function scheduleCommand<A extends ScheduleCommandArgs, R>(
  words: ScheduleCommandWords,
  run: (target: CommandSchedule, args: A) => Promise<R | undefined>,
): ScheduleCommand<A, R> {
  return async (given) => {
    const args = commandArgs(given, (schedule) => ({ schedule }) as A);
    const target = await scheduleForCommand(args.schedule ?? activeScheduleUri(), words);
    return target ? run(target, args) : undefined;
  };
}

/** The `.bacschedule` open in the active tab, in the schedule editor or as text. */
export function activeScheduleUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText) {
    return input.uri.path.endsWith('.bacschedule') ? input.uri : undefined;
  }
  return undefined;
}

/**
 * The schedule at `uri`, read from its open document (unsaved edits included) and parsed; one
 * message and undefined when there is none, it is not a saved file, or it is invalid.
 */
async function scheduleForCommand(
  uri: vscode.Uri | undefined,
  action: ScheduleCommandWords,
): Promise<CommandSchedule | undefined> {
  if (!uri || uri.scheme !== 'file') {
    void vscode.window.showInformationMessage(`BAC: ${action.missing}`);
    return undefined;
  }
  const name = basename(uri.fsPath);
  const document = await vscode.workspace.openTextDocument(uri);
  const parsed = parseSchedule(document.getText());
  if (!parsed.ok) {
    const first = parsed.errors[0];
    void vscode.window.showErrorMessage(
      `BAC: ${name} is not a valid schedule (${first ? `${first.path}: ${first.message}` : 'unreadable'}); fix it in the schedule editor, then ${action.again}.`,
    );
    return undefined;
  }
  return { uri, name, document, schedule: parsed.schedule };
}
