import * as vscode from 'vscode';

/** What a task reports to its notification: a message and how far the bar moves (percent). */
export type ProgressReport = vscode.Progress<{ message?: string; increment?: number }>;

/**
 * Runs a long engine task under a cancellable progress notification: the notification's Cancel
 * aborts the signal the task gets (which kills its child process), and the first message shows
 * until the task reports. The subscription to the cancel button ends with the task.
 */
export function withCancellableProgress<T>(
  title: string,
  firstMessage: string,
  task: (signal: AbortSignal, progress: ProgressReport) => Promise<T>,
): Thenable<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      progress.report({ message: firstMessage });
      try {
        return await task(abort.signal, progress);
      } finally {
        sub.dispose();
      }
    },
  );
}
