/**
 * Browser end-to-end: what a person does in VS Code (code-server + headless Chromium, the packaged
 * linux-x64 VSIX installed). The steps share one workbench and run in order. Screenshots:
 * .test-artifacts/e2e/ (see README.md here).
 */
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { parseSchedule } from '../../src/core/schedule-format';
import {
  BROKEN_SCHEDULE_TEXT,
  pickModel,
  WS,
  WS_BUDGET,
  WS_LAYERS,
  WS_STEPS,
  WS_TOP_N,
} from '../../scripts/vscode-test/workspace-layout';
import { e2e } from './context';
import {
  closeAllEditors,
  fillQuickInput,
  quickOpen,
  quickPickRow,
  runCommand,
  tab,
  waitForWorkbench,
  webview,
} from './workbench';

const TIMELINE = (blocks: number, steps: number): string =>
  `canvas[aria-label^="Update timeline: ${blocks} blocks by ${steps} steps"]`;
const NEW_BUDGET = WS_BUDGET + 4;

function shot(name: string): Promise<Buffer> {
  const { page, artifacts } = e2e();
  return page.screenshot({ path: join(artifacts, `${name}.png`) });
}

/**
 * Drives code-server's open dialog (the quick-input "simple file dialog", `okLabel` on its button):
 * waits until it has listed its start folder (it resets the input when that listing lands), types
 * the absolute path, waits until the list offers the file, and accepts with Enter; tries again
 * when the dialog is still open (it reset the input, or the first Enter only completed the name).
 */
async function typeIntoFileDialog(page: Page, okLabel: string, path: string): Promise<void> {
  const ok = page.locator('.quick-input-widget .monaco-button').filter({ hasText: okLabel });
  await ok.waitFor();
  const input = page.locator('.quick-input-widget input[type="text"]');
  await quickPickRow(page, '..').first().waitFor(); // the start folder is listed
  for (let attempt = 1; ; attempt++) {
    if ((await input.inputValue()) !== path) await input.fill(path);
    await quickPickRow(page, path.split('/').pop()!).first().waitFor();
    await page.waitForTimeout(300);
    if ((await input.inputValue()) !== path) continue; // reset under us: type again
    await page.keyboard.press('Enter');
    try {
      await ok.waitFor({ state: 'hidden', timeout: 3000 });
      return;
    } catch (e) {
      if (attempt >= 3)
        throw new Error(
          `the open dialog did not accept ${path} (input shows "${await input.inputValue()}"): ${String(e)}`,
        );
    }
  }
}

/**
 * Switches between the preferred light and dark themes (Default Light/Dark Modern) with the
 * palette's "Preferences: Toggle between Light/Dark Themes", as a person would.
 */
async function toggleLightDark(page: Page): Promise<void> {
  await runCommand(page, 'Toggle between Light/Dark Themes');
}

function note(message: string): void {
  console.log(`      ${message}`);
}

describe('e2e: BAC Studio in the VS Code workbench', function () {
  this.timeout(120_000);

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      const slug = this.currentTest.title.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
      await shot(`failure-${slug}`).catch(() => undefined);
    }
  });

  it('the workbench opens the test workspace', async () => {
    await waitForWorkbench(e2e().page);
  });

  it('"BAC: Profile Model" from the palette profiles the demo fixture and opens the schedule', async function () {
    this.timeout(300_000);
    const { page, workspace, repoRoot } = e2e();
    const model = pickModel((p) => existsSync(join(repoRoot, p)));
    if (!model.fitsDemoEpisodes) {
      this.test!.title += ` (SKIPPED: neither fixtures/demo/policy.onnx nor test/fixtures/engine/small-dpt.onnx exists)`;
      this.skip();
    }
    this.test!.title += ` [model: ${model.what}]`;
    await runCommand(page, 'BAC: Profile Model');
    // 1/2 model: the workspace's ONNX files are offered by name.
    const modelName = WS.profileTarget.split('/').pop()!;
    await fillQuickInput(page, modelName.replace(/\.onnx$/, ''));
    await quickPickRow(page, modelName).first().waitFor();
    await page.keyboard.press('Enter');
    // 2/2 episodes: "Episode file…" opens the open dialog; code-server's is the quick-input
    // "simple file dialog": type the absolute path, Enter.
    await fillQuickInput(page, 'Episode file');
    await quickPickRow(page, 'Episode file').first().waitFor();
    await page.keyboard.press('Enter');
    await typeIntoFileDialog(page, 'Use these episodes', join(workspace, WS.episodesFile));
    // Profiling (2 samples, CPU: the settings the runner wrote), solving, then the schedule opens.
    const stem = modelName.replace(/\.onnx$/, '');
    const opened = tab(page, `${stem}.bacschedule`);
    const failed = page
      .locator('.notifications-toasts .notification-toast')
      .filter({ has: page.locator('.codicon-error') });
    await Promise.race([opened.waitFor({ timeout: 240_000 }), failed.first().waitFor({ timeout: 240_000 })]);
    if (await failed.count())
      assert.fail(`profiling failed: ${(await failed.first().innerText()).replace(/\s+/g, ' ')}`);
    await webview(page).locator('canvas[aria-label^="Update timeline:"]').waitFor({ timeout: 30_000 });
    for (const ext of ['.bacprofile', '.bacschedule']) {
      assert.ok(existsSync(join(workspace, 'demo', stem + ext)), `${stem}${ext} was written beside the model`);
    }
    await shot('profiled-schedule');
  });

  it(`opens the ${WS_LAYERS * 3} × ${WS_STEPS} schedule and shows its timeline (times printed, not asserted)`, async () => {
    const { page } = e2e();
    const name = WS.schedule.split('/').pop()!;
    const open = async (label: string): Promise<number> => {
      await closeAllEditors(page);
      await quickOpen(page, WS.schedule, false);
      const t0 = Date.now();
      await page.keyboard.press('Enter');
      await tab(page, name).waitFor();
      const tabMs = Date.now() - t0;
      await page.locator('iframe.webview.ready').first().waitFor({ state: 'attached', timeout: 30_000 });
      const frameMs = Date.now() - t0;
      await webview(page)
        .locator(TIMELINE(WS_LAYERS * 3, WS_STEPS))
        .waitFor({ state: 'visible', timeout: 30_000 });
      const ms = Date.now() - t0;
      note(
        `${label}: timeline visible ${ms} ms after opening (tab ${tabMs} ms, webview frame ${frameMs} ms; target ≤ 1500 ms)`,
      );
      return ms;
    };
    // The first open also starts the editor's webview machinery (and activates the extension when
    // the profiling step was skipped); the reopen is what a user sees every later time.
    const cold = await open('first open');
    const warm = await open('reopen');
    console.log(`e2e-benchmark: open-24x100-timeline-ms cold=${cold} warm=${warm} (target 1500, not asserted)`);
    await page.waitForTimeout(500); // let the charts finish drawing for the screenshot
    await shot('editor-dark');
  });

  it(`changes the budget to ${NEW_BUDGET} in the editor: the tab turns dirty; Control+S writes the new schedule`, async () => {
    const { page, workspace } = e2e();
    const name = WS.schedule.split('/').pop()!;
    const file = join(workspace, WS.schedule);
    const before = readFileSync(file, 'utf8');
    const budget = webview(page).locator('#budget input');
    await budget.fill(String(NEW_BUDGET));
    await budget.press('Enter');
    await tab(page, name).and(page.locator('.tab.dirty')).waitFor({ timeout: 15_000 });
    assert.equal(readFileSync(file, 'utf8'), before, 'nothing is written before saving');
    await page.keyboard.press('Control+S');
    await page.locator('.tabs-container .tab.dirty').first().waitFor({ state: 'detached', timeout: 15_000 });
    const saved = parseSchedule(readFileSync(file, 'utf8'));
    assert.ok(saved.ok, 'the saved file is a valid schedule');
    assert.equal(saved.schedule.solver.budget, NEW_BUDGET);
    assert.equal(saved.schedule.solver.topN, WS_TOP_N);
  });

  it('renders in a light theme too', async () => {
    const { page } = e2e();
    await toggleLightDark(page);
    await page.locator('.monaco-workbench.vs').waitFor({ timeout: 15_000 });
    await webview(page).locator('body.vscode-light').waitFor({ timeout: 15_000 });
    await page.waitForTimeout(500);
    await shot('editor-light');
    await toggleLightDark(page);
    await page.locator('.monaco-workbench.vs-dark').waitFor({ timeout: 15_000 });
  });

  it('shows the speedup CodeLens above the schedule name in a Python file', async () => {
    const { page } = e2e();
    await quickOpen(page, WS.python);
    const lens = page.locator('.monaco-editor .codelens-decoration').filter({ hasText: 'BAC:' });
    await lens.first().waitFor({ timeout: 30_000 });
    const text = (await lens.first().innerText()).trim();
    note(`CodeLens: ${text}`);
    assert.match(
      text,
      /^BAC: \d+\.\d\d× faster \(time\) · \d+\.\d\d× by FLOPs · runs [A-Z+-]+-\d+ · budget \d+ · top-n \d+/,
    );
    assert.ok(text.includes(`budget ${NEW_BUDGET} · top-n ${WS_TOP_N}`), 'the lens shows the saved budget');
    await shot('codelens-python');
  });

  it('shows an invalid schedule as an error view and leaves the file untouched', async () => {
    const { page, workspace } = e2e();
    const file = join(workspace, WS.broken);
    const before = statSync(file);
    await closeAllEditors(page);
    await quickOpen(page, WS.broken);
    const view = webview(page).locator('.error-view');
    await view.waitFor({ timeout: 30_000 });
    assert.match(await view.locator('h1').innerText(), /broken\.bacschedule is not a valid BAC schedule/);
    await page.waitForTimeout(1000);
    assert.equal(await page.locator('.tabs-container .tab.dirty').count(), 0, 'the editor is not dirty');
    assert.equal(readFileSync(file, 'utf8'), BROKEN_SCHEDULE_TEXT, 'bytes unchanged');
    assert.equal(statSync(file).mtimeMs, before.mtimeMs, 'mtime unchanged');
    await shot('invalid-schedule');
  });
});
