import * as vscode from 'vscode';

/**
 * Asking the user for what a command's arguments left out: each helper returns the given value
 * untouched, or asks; `undefined` always means the user dismissed the question (so a value the
 * command accepts is never `undefined`).
 */

/** One answer of {@link askChoiceUnlessGiven}: what the quick pick shows, and its value. */
export interface Choice<T> {
  readonly label: string;
  readonly description: string;
  readonly detail: string;
  readonly value: T;
}

/** `given`, or the value of the choice the user picks in a quick pick; undefined when dismissed. */
export async function askChoiceUnlessGiven<T>(
  given: T | undefined,
  choices: readonly Choice<T>[],
  question: { readonly title: string; readonly placeHolder: string },
): Promise<T | undefined> {
  if (given !== undefined) return given;
  // One step of a command's questions: focus returning to a webview editor must not dismiss it.
  const pick = await vscode.window.showQuickPick(
    choices.map((c) => ({ ...c })),
    { ...question, ignoreFocusOut: true },
  );
  return pick?.value;
}

/** `given`, or the `.onnx` path the user picks in a save dialog; undefined when dismissed. */
export async function askOnnxOutUnlessGiven(
  given: string | undefined,
  dialog: { readonly title: string; readonly defaultPath: string; readonly saveLabel: string },
): Promise<string | undefined> {
  if (given !== undefined) return given;
  const target = await vscode.window.showSaveDialog({
    title: dialog.title,
    defaultUri: vscode.Uri.file(dialog.defaultPath),
    filters: { 'ONNX model': ['onnx'] },
    saveLabel: dialog.saveLabel,
  });
  return target?.fsPath;
}
