/**
 * Driving the VS Code workbench (code-server 4.139 = VS Code 1.139) with playwright-core. The
 * selectors are the ones ../shared/notes/vscode-offline-testing.md found to work.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { FrameLocator, Locator, Page } from 'playwright-core';

const QUICK_INPUT = '.quick-input-widget input[type="text"]';
const QUICK_ROW = '.quick-input-list .monaco-list-row';

export async function waitForWorkbench(page: Page): Promise<void> {
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 60_000 });
}

/** The quick input's rows whose text contains `text`. */
export function quickPickRow(page: Page, text: string): Locator {
  return page.locator(QUICK_ROW).filter({ hasText: text });
}

/** Types into the open quick input (replacing its content). */
export async function fillQuickInput(page: Page, text: string): Promise<void> {
  const input = page.locator(QUICK_INPUT);
  await input.waitFor({ state: 'visible' });
  await input.fill(text);
}

/**
 * Opens the quick input with F1. When keyboard focus sits where F1 does not reach the workbench
 * (inside a webview, say), focus first goes to the side bar's title, then F1 again.
 */
export async function openQuickInput(page: Page): Promise<void> {
  const input = page.locator(QUICK_INPUT);
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 2000 });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      await page.locator('.part.sidebar .composite.title').first().click();
    }
  }
}

/**
 * Runs a command from the palette by its label. Until the extension host has registered the
 * command the palette says "No matching commands" and does not refresh, so this retries.
 */
export async function runCommand(page: Page, label: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await openQuickInput(page);
      await fillQuickInput(page, `>${label}`);
      await quickPickRow(page, label).first().waitFor({ timeout: 3000 });
      await page.keyboard.press('Enter');
      return;
    } catch (e) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw new Error(`the command palette never offered "${label}": ${String(e)}`);
      await page.waitForTimeout(500);
    }
  }
}

/**
 * Opens a workspace file through quick open. `relativePath` is the workspace-relative path: quick
 * open matches folders too, so `models/policy.bacschedule` does not also offer
 * `demo/demo-policy.bacschedule`. Resolves once the list offers it; `submit` false leaves the
 * Enter to the caller (to time what follows).
 */
export async function quickOpen(page: Page, relativePath: string, submit = true): Promise<void> {
  const rows = quickPickRow(page, relativePath.split('/').pop()!);
  // In a fresh window quick open lists files only once VS Code's file search has indexed the
  // workspace, and it does not refresh an open query: on a busy machine the first query comes back
  // empty. Ask again once, with a longer wait.
  for (const timeout of [15_000, 30_000]) {
    await openQuickInput(page);
    await fillQuickInput(page, relativePath);
    try {
      await rows.first().waitFor({ timeout });
      break;
    } catch (e) {
      await page.keyboard.press('Escape');
      if (timeout === 30_000) throw e;
    }
  }
  if (submit) await page.keyboard.press('Enter');
}

/** The editor tab of a file (`.dirty` while it has unsaved changes). */
export function tab(page: Page, fileName: string): Locator {
  return page.locator(`.tabs-container .tab[aria-label*="${fileName}"]`);
}

/** The content of the visible webview (the custom editor's page). */
export function webview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').first().frameLocator('iframe#active-frame');
}

/** Merges `patch` into the user settings.json; the workbench applies it live. */
export function updateSettings(settingsPath: string, patch: Record<string, unknown>): void {
  const current = JSON.parse(readFileSync(settingsPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(settingsPath, JSON.stringify({ ...current, ...patch }, null, 2));
}

/** Closes every editor (and with them their webviews); focus first goes back to the workbench. */
export async function closeAllEditors(page: Page): Promise<void> {
  const tabs = page.locator('.tabs-container .tab');
  if ((await tabs.count()) === 0) return;
  await runCommand(page, 'View: Close All Editors');
  await tabs.first().waitFor({ state: 'detached', timeout: 10_000 });
}
