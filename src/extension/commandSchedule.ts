import { basename } from 'node:path';
import * as vscode from 'vscode';
import { parseSchedule } from '../core/schedule-format';
import type { Schedule } from '../core/types';

/** The schedule a command acts on, as the user sees it. */
export interface CommandSchedule {
  readonly uri: vscode.Uri;
  /** File name for messages. */
  readonly name: string;
  readonly document: vscode.TextDocument;
  readonly schedule: Schedule;
}

/**
 * The `.bacschedule` a command acts on: the one it was given (Explorer, API) or the active one,
 * read from its open document (unsaved edits included) and parsed. Shows one message and returns
 * undefined when there is none, it is not a saved file, or it is invalid (`action` completes the
 * sentences: "compile it", "compile again").
 */
export async function scheduleForCommand(
  given: vscode.Uri | undefined,
  activeSchedule: () => vscode.Uri | undefined,
  action: { readonly missing: string; readonly again: string },
): Promise<CommandSchedule | undefined> {
  const uri = given ?? activeSchedule();
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
