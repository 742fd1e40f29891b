/** Shared helpers of the integration suites (run inside the extension host). */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { BacStudioApi } from '../../src/extension/extension';
import { EXTENSION_ID } from '../../scripts/vscode-test/workspace-layout';

export function workspaceRoot(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the launcher opens the test workspace as the first folder');
  return folder.uri;
}

export function wsUri(relative: string): vscode.Uri {
  return vscode.Uri.joinPath(workspaceRoot(), ...relative.split('/'));
}

export function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is loaded (extensionDevelopmentPath = the repository)`);
  return ext;
}

/** Activates the extension and returns what `activate` returned (U's test API, if any). */
export async function activateExtension(): Promise<unknown> {
  const ext = extension();
  return ext.isActive ? ext.exports : await ext.activate();
}

/** The repository root (the development extension's folder), for fixtures/. */
export function repoRoot(): vscode.Uri {
  return extension().extensionUri;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** The viewType of the `.bacschedule` custom editor as contributed in package.json, if any. */
export function scheduleViewType(): string | undefined {
  const pkg = extension().packageJSON as {
    contributes?: { customEditors?: { viewType: string; selector?: { filenamePattern?: string }[] }[] };
  };
  return pkg.contributes?.customEditors?.find((e) =>
    e.selector?.some((s) => s.filenamePattern?.includes('bacschedule')),
  )?.viewType;
}

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** The extension's test API (what `activate` returns). */
export async function api(): Promise<BacStudioApi> {
  const exported = (await activateExtension()) as BacStudioApi | undefined;
  assert.ok(exported && typeof exported === 'object', 'activate() returns the BacStudioApi');
  return exported;
}

/** Opens `uri` with its default editor and waits until it is the active tab with `viewType`. */
export async function openInCustomEditor(uri: vscode.Uri, viewType: string): Promise<vscode.TabInputCustom> {
  await vscode.commands.executeCommand('vscode.open', uri);
  return waitFor(`${uri.path} to be the active tab in the ${viewType} editor`, () => {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    return input instanceof vscode.TabInputCustom &&
      input.viewType === viewType &&
      input.uri.toString() === uri.toString()
      ? input
      : undefined;
  });
}

/** Prints a line into the suite's output (tagged like mocha's own lines, see ../integration/index.ts). */
export function note(message: string): void {
  console.log((process.env.BAC_TEST_OUTPUT_TAG ?? '') + message);
}

/** Skips the running test, saying why in its title (so the spec reporter shows the reason). */
export function skipBecause(ctx: Mocha.Context, reason: string): never {
  if (ctx.test) ctx.test.title += ` (SKIPPED: ${reason})`;
  ctx.skip();
}
