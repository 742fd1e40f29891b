import * as vscode from 'vscode';

/**
 * Extension entry point. Activation comes from contributions (`activationEvents: []`): the
 * `.bacschedule` editor, the commands and the CodeLens provider are registered here as they land.
 */
export function activate(context: vscode.ExtensionContext): void {
  // One Output channel "BAC" carries the details behind every notification.
  const log = vscode.window.createOutputChannel('BAC', { log: true });
  context.subscriptions.push(log, vscode.commands.registerCommand('bac.showLog', () => log.show()));
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions.
}
