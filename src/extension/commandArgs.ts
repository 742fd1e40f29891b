import * as vscode from 'vscode';

/**
 * A command's arguments: from the Explorer's context menu VS Code passes the clicked file's Uri,
 * from the palette nothing, from tests and other extensions an options object.
 */
export function commandArgs<T extends object>(args: T | vscode.Uri | undefined, fromUri: (uri: vscode.Uri) => T): T {
  if (args instanceof vscode.Uri) return fromUri(args);
  return typeof args === 'object' && args !== null ? args : ({} as T);
}
