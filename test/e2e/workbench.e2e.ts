/**
 * Browser end-to-end: what a person does in VS Code (code-server + headless Chromium, the packaged
 * linux-x64 VSIX installed). The steps share one workbench and run in order. Screenshots:
 * .test-artifacts/e2e/ (see README.md here).
 */
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { updateSteps } from '../../src/core/blocks';
import { summarizeSchedule } from '../../src/core/cost';
import { parseSchedule } from '../../src/core/schedule-format';
import { ariaPosition } from '../../src/core/timeline-nav';
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
  `[role="grid"][aria-label^="Update timeline: ${blocks} blocks by ${steps} steps"]`;
/** The timeline's focusable cell (the grid renders only that one). */
const FOCUSED_CELL = '[role="grid"] [role="gridcell"][tabindex="0"]';
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

/** Waits until the timeline's focused cell is (row, step) and holds the keyboard focus. */
async function expectFocusAt(page: Page, row: number, step: number): Promise<void> {
  const { rowIndex, colIndex } = ariaPosition({ row, step });
  await webview(page)
    .locator(`[role="row"][aria-rowindex="${rowIndex}"] [role="gridcell"][aria-colindex="${colIndex}"]:focus`)
    .waitFor({ timeout: 10_000 });
}

/** Indices of the lines that differ (the texts have the same number of lines). */
function changedLines(before: string, after: string): number[] {
  const a = before.split('\n');
  const b = after.split('\n');
  assert.equal(b.length, a.length, 'the edit adds or removes no line');
  return a.flatMap((line, i) => (line === b[i] ? [] : [i]));
}

/** A User Timing mark of a webview frame, at epoch ms. */
interface FrameMark {
  readonly name: string;
  readonly at: number;
}

/**
 * The marks of every frame since `t0` (epoch ms): VS Code's webview host page
 * (`host:…`, from its `webview/index.html/…` marks: its script, the content arriving, the service
 * worker ready, the inner frame loaded and written) and the editor page (webview/main.ts:
 * `bac:…`), plus `bundle-loaded` (the editor's script downloaded). Sorted by time.
 */
async function webviewMarks(page: Page, t0: number): Promise<FrameMark[]> {
  const found: FrameMark[] = [];
  for (const frame of page.frames()) {
    // A string, not a function: tsx would wrap a function's inner arrows in a helper the page lacks.
    const marks = await frame
      .evaluate<FrameMark[]>(
        `(() => {
          const at = (e) => Math.round(performance.timeOrigin + e.startTime);
          const marks = performance.getEntriesByType('mark')
            .filter((e) => e.name.startsWith('bac:') || e.name.startsWith('webview/index.html/'))
            .map((e) => ({ name: e.name.replace('webview/index.html/', 'host:'), at: at(e) }));
          const bundle = performance.getEntriesByType('resource').find((r) => r.name.endsWith('/webview.js'));
          if (bundle) marks.push({ name: 'bundle-loaded', at: Math.round(performance.timeOrigin + bundle.responseEnd) });
          return marks;
        })()`,
      )
      .catch(() => []);
    found.push(...marks.filter((m) => m.at >= t0));
  }
  return found.sort((x, y) => x.at - y.at);
}

/** How an open went, in ms after Enter. */
interface OpenTimes {
  /** Playwright saw the timeline visible (it polls, so this overshoots by up to its interval). */
  readonly observed: number;
  /** The page's own mark after the first frame that showed the timeline; NaN when missing. */
  readonly painted: number;
  /** VS Code's webview host waiting for its service worker (installed on a browser profile's first webview). */
  readonly serviceWorker: number;
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

  it('shows the speedup CodeLens in a fresh window, before any schedule was opened or command run', async () => {
    // Nothing has activated the extension yet: only package.json's activationEvents can.
    const { page } = e2e();
    await quickOpen(page, WS.python);
    const lens = page.locator('.monaco-editor .codelens-decoration').filter({ hasText: 'BAC:' });
    await lens.first().waitFor({ timeout: 30_000 });
    const text = (await lens.first().innerText()).trim();
    note(`CodeLens: ${text}`);
    assert.ok(
      text.includes(`budget ${WS_BUDGET} · top-n ${WS_TOP_N}`),
      `the lens shows the schedule's budget: ${text}`,
    );
    await closeAllEditors(page);
  });

  it(`opens the ${WS_LAYERS * 3} × ${WS_STEPS} schedule and shows its timeline (times printed, not asserted)`, async () => {
    const { page } = e2e();
    const name = WS.schedule.split('/').pop()!;
    const open = async (label: string): Promise<OpenTimes> => {
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
      const observed = Date.now() - t0;
      let marks = await webviewMarks(page, t0);
      for (let i = 0; i < 20 && !marks.some((m) => m.name === 'bac:charts'); i++) {
        await page.waitForTimeout(100);
        marks = await webviewMarks(page, t0);
      }
      const at = (markName: string): number => (marks.find((m) => m.name === markName)?.at ?? Number.NaN) - t0;
      const times = {
        observed,
        painted: at('bac:painted'),
        serviceWorker: at('host:content/workerReady') - at('host:content/started'),
      };
      note(
        `${label}: timeline painted ${times.painted} ms after Enter (seen visible at ${observed} ms; tab ${tabMs} ms, webview frame ${frameMs} ms; target ≤ 1500 ms)`,
      );
      note(`${label}: ${marks.map((m) => `${m.name} ${m.at - t0}`).join(', ') || 'no webview timing marks found'}`);
      return times;
    };
    // The first open is the window's first webview (nothing before it opened one): it also starts
    // the webview machinery, and in this fresh browser profile VS Code installs its webview service
    // worker. The reopen is what a user sees every later time.
    const cold = await open('first open');
    const warm = await open('reopen');
    console.log(
      `e2e-benchmark: open-24x100-timeline-ms cold=${cold.painted} warm=${warm.painted} ` +
        `(Enter → first frame showing the timeline, from the page's marks; seen visible at ${cold.observed}/${warm.observed}; ` +
        `cold includes ${cold.serviceWorker} ms of VS Code installing its webview service worker; target 1500, not asserted)`,
    );
    await page.waitForTimeout(500); // let the charts finish drawing for the screenshot
    await shot('editor-dark');
  });

  it('arrow keys move the focused timeline cell; the selected block follows', async () => {
    const { page } = e2e();
    const cell = webview(page).locator(FOCUSED_CELL);
    await cell.focus();
    await page.keyboard.press('Control+Home');
    await expectFocusAt(page, 0, 0);
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    await expectFocusAt(page, 1, 2);
    await webview(page).locator('#sim-title').filter({ hasText: 'block 0 ca' }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('PageDown');
    await expectFocusAt(page, 4, 2);
    await webview(page).locator('#sim-title').filter({ hasText: 'block 1 ca' }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowUp');
    await expectFocusAt(page, 3, 1);
    await page.keyboard.press('End');
    await expectFocusAt(page, 3, WS_STEPS - 1);
    await page.keyboard.press('Home');
    await expectFocusAt(page, 3, 0);
    assert.match((await cell.getAttribute('aria-label')) ?? '', /^Block 1 sa \(1\.sa\) · step 0 of 99/);
  });

  it('clicking a reuse cell adds a manual update (one block line changes), Control+Z removes it; Space does the same', async () => {
    const { page, workspace } = e2e();
    const name = WS.schedule.split('/').pop()!;
    const file = join(workspace, WS.schedule);
    const original = readFileSync(file, 'utf8');
    const parsed = parseSchedule(original);
    assert.ok(parsed.ok);
    const row = 4; // layer 1 cross-attention
    const block = parsed.schedule.blocks[row]!;
    const updates = new Set(updateSteps(block));
    const step = Array.from({ length: WS_STEPS }, (_, k) => k).find((k) => k >= WS_STEPS / 2 && !updates.has(k))!;
    // Put the focusable cell on (row, step) with the keyboard, then click where it sits: the click
    // lands on the canvas underneath (the cell lets pointer events through).
    const cell = webview(page).locator(FOCUSED_CELL);
    await cell.focus();
    await page.keyboard.press('Control+Home');
    for (let r = 0; r < row; r++) await page.keyboard.press('ArrowDown');
    for (let k = 0; k < step; k++) await page.keyboard.press('ArrowRight');
    await expectFocusAt(page, row, step);

    const saveAndRead = async (): Promise<string> => {
      await tab(page, name).and(page.locator('.tab.dirty')).waitFor({ timeout: 15_000 });
      await page.keyboard.press('Control+S');
      await page.locator('.tabs-container .tab.dirty').first().waitFor({ state: 'detached', timeout: 15_000 });
      return readFileSync(file, 'utf8');
    };
    const expectOneManualUpdate = (text: string, how: string): void => {
      const changed = changedLines(original, text);
      const blockLine = original.split('\n').findIndex((l) => l.includes(`"id": "${block.id}"`));
      assert.ok(blockLine > 0);
      assert.deepEqual(
        changed,
        [blockLine],
        `${how}: the file text changes by one line, the line of block ${block.id}`,
      );
      const after = parseSchedule(text);
      assert.ok(after.ok);
      assert.deepEqual(
        after.schedule.blocks[row]!.manual,
        [...block.manual, step].sort((a, b) => a - b),
      );
      assert.deepEqual(
        after.schedule.blocks.filter((_, i) => i !== row),
        parsed.schedule.blocks.filter((_, i) => i !== row),
        `${how}: no other block changed`,
      );
    };

    await cell.click({ force: true });
    expectOneManualUpdate(await saveAndRead(), 'click');
    await page.keyboard.press('Control+Z');
    assert.equal(await saveAndRead(), original, 'Control+Z restores the text byte for byte');

    await expectFocusAt(page, row, step);
    await page.keyboard.press('Space');
    expectOneManualUpdate(await saveAndRead(), 'Space');
    await page.keyboard.press('Control+Z');
    assert.equal(await saveAndRead(), original, 'Control+Z restores the text byte for byte');
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

  it('re-solves with another method and for a target speedup from the controls; each is one undo step', async () => {
    const { page, workspace } = e2e();
    const name = WS.schedule.split('/').pop()!;
    const file = join(workspace, WS.schedule);
    const before = readFileSync(file, 'utf8');
    const view = webview(page);
    const save = async (): Promise<string> => {
      await tab(page, name).and(page.locator('.tab.dirty')).waitFor({ timeout: 15_000 });
      await page.keyboard.press('Control+S');
      await page.locator('.tabs-container .tab.dirty').first().waitFor({ state: 'detached', timeout: 15_000 });
      return readFileSync(file, 'utf8');
    };
    const undo = async (): Promise<void> => {
      await view.locator(FOCUSED_CELL).focus();
      await page.keyboard.press('Control+Z');
      assert.equal(await save(), before, 'Control+Z restores the text byte for byte');
    };

    await view.locator('#method').selectOption('uniform');
    const uniform = parseSchedule(await save());
    assert.ok(uniform.ok);
    assert.equal(uniform.schedule.solver.method, 'uniform', 'the file records the method');
    assert.equal(uniform.schedule.solver.budget, NEW_BUDGET, 'at the budget shown');
    const spacing = Math.floor(WS_STEPS / NEW_BUDGET);
    for (const b of uniform.schedule.blocks)
      assert.ok(
        b.acs.every((k) => k % spacing === 0),
        `${b.id}: uniform steps`,
      );
    await undo();

    const target = view.locator('#target input');
    await target.fill('6');
    await target.press('Enter');
    const fast = parseSchedule(await save());
    assert.ok(fast.ok);
    assert.ok(summarizeSchedule(fast.schedule).speedupFlops >= 6, 'the schedule meets the target by FLOPs');
    assert.ok(fast.schedule.solver.budget < NEW_BUDGET, 'a faster schedule has a smaller budget');
    await undo();
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
    // VS Code first shows the lenses it cached when train.py was last open (the old budget), then
    // asks the provider again: wait for the saved budget.
    const lens = page
      .locator('.monaco-editor .codelens-decoration')
      .filter({ hasText: `budget ${NEW_BUDGET} · top-n ${WS_TOP_N}` });
    await lens.first().waitFor({ timeout: 30_000 });
    const text = (await lens.first().innerText()).trim();
    note(`CodeLens: ${text}`);
    assert.match(
      text,
      /^BAC: \d+\.\d\d× expected \(time\) · \d+\.\d\d× by FLOPs · runs [A-Z+-]+-\d+ · budget \d+ · top-n \d+/,
    );
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
    await webview(page).locator('[role="grid"][aria-label^="Update timeline:"]').waitFor({ timeout: 30_000 });
    for (const ext of ['.bacprofile', '.bacschedule']) {
      assert.ok(existsSync(join(workspace, 'demo', stem + ext)), `${stem}${ext} was written beside the model`);
    }
    await shot('profiled-schedule');
  });
});
