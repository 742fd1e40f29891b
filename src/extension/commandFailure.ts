import * as vscode from 'vscode';
import { isBacError } from '../core/errors';

/** How a long-running command names itself when it reports a failure. */
export interface CommandFailureWords {
  /** Log prefix, e.g. `profile`. */
  readonly tag: string;
  /** What was running, for "… failed unexpectedly", e.g. `profiling`. */
  readonly doing: string;
  /** Said in the log and the status bar after a cancel, e.g. `profiling cancelled, nothing was written`. */
  readonly cancelled: string;
  /** Put before a user error's message, e.g. `policy.bacschedule: `. */
  readonly prefix?: string;
}

/**
 * Reports what ended a long-running command (profiling, measuring): a cancel as a short status-bar
 * note, a user error (BacError) as its one message, anything else as "failed unexpectedly"; the
 * details always go to the log, and the error message offers to show it.
 */
export function reportCommandFailure(
  log: vscode.LogOutputChannel,
  e: unknown,
  wasCancel: boolean,
  words: CommandFailureWords,
): void {
  if (wasCancel) {
    log.info(`${words.tag}: ${words.cancelled}`);
    vscode.window.setStatusBarMessage(`$(circle-slash) BAC: ${words.cancelled}`, 5000);
    return;
  }
  const user = isBacError(e);
  log.error(
    `${words.tag}: ${user ? 'failed' : 'internal error'}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
  );
  const text = user
    ? `BAC: ${words.prefix ?? ''}${(e as Error).message}`
    : `BAC: ${words.doing} failed unexpectedly (${e instanceof Error ? e.message : String(e)}).`;
  void vscode.window.showErrorMessage(text, 'Show Log').then((pick) => {
    if (pick) log.show(true);
  });
}
