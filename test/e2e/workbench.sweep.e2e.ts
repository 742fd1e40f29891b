/**
 * Browser end-to-end: the Sweep panel on the demo's `bac sweep` report (fixtures/demo/sweep, copied
 * into the workspace's sweep/ folder). Opening the report shows the measured Pareto front with every
 * point labelled and the recommendation marked; "Apply recommendation" writes the recommended
 * configuration (sampler type and K included) into the schedule beside it as one edit; one undo
 * restores the file byte for byte.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSchedule } from '../../src/core/schedule-format';
import { configId, configLabel, parseSweepReport } from '../../src/core/sweep-format';
import { WS } from '../../scripts/vscode-test/workspace-layout';
import { e2e } from './context';
import { closeAllEditors, quickOpen, tab, waitForWorkbench, webview } from './workbench';

describe('e2e: the Sweep panel', function () {
  this.timeout(120_000);

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      const { page, artifacts } = e2e();
      await page.screenshot({ path: join(artifacts, 'failure-sweep-panel.png') }).catch(() => undefined);
    }
  });

  it('renders the demo report; Apply writes the recommendation into the schedule; one undo restores it', async function () {
    const { page, workspace, artifacts } = e2e();
    const reportFile = join(workspace, WS.sweep);
    if (!existsSync(reportFile)) {
      this.test!.title += ' (SKIPPED: fixtures/demo/sweep/demo.bacsweep is missing or measured another model)';
      this.skip();
    }
    await waitForWorkbench(page);
    const report = parseSweepReport(readFileSync(reportFile, 'utf8'));
    const rec = report.results.find((r) => configId(r.config) === report.recommendation)!;
    const target = join(workspace, WS.sweepTarget);
    const before = readFileSync(target, 'utf8');

    await closeAllEditors(page);
    await quickOpen(page, WS.sweep);
    const view = webview(page);
    await view.locator('svg[aria-label^="Pareto front"]').waitFor({ timeout: 30_000 });
    assert.equal(await view.locator('svg .point').count(), report.results.length, 'one point per configuration');
    assert.equal(await view.locator('svg .point.recommended').count(), 1, 'the recommendation is marked');
    assert.match(
      (await view.locator('svg .point.recommended .point-label').textContent()) ?? '',
      new RegExp(configLabel(rec.config).replace(/[+]/g, '\\+')),
    );
    await page.screenshot({ path: join(artifacts, 'sweep-panel.png') });

    await view.locator(`button[data-apply="${report.recommendation}"]`).click();
    const name = WS.sweepTarget.split('/').pop()!;
    await tab(page, name).and(page.locator('.tab.dirty')).waitFor({ timeout: 15_000 });
    assert.equal(readFileSync(target, 'utf8'), before, 'nothing is written before saving');
    await page.keyboard.press('Control+S');
    await page.locator('.tabs-container .tab.dirty').first().waitFor({ state: 'detached', timeout: 15_000 });
    const applied = parseSchedule(readFileSync(target, 'utf8'));
    assert.ok(applied.ok, 'the applied schedule is valid');
    assert.deepEqual(applied.schedule.sampler, { type: rec.config.sampler, steps: rec.config.steps });

    await tab(page, name).click();
    await page.keyboard.press('Control+Z');
    await tab(page, name).and(page.locator('.tab.dirty')).waitFor({ timeout: 15_000 });
    await page.keyboard.press('Control+S');
    await page.locator('.tabs-container .tab.dirty').first().waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal(readFileSync(target, 'utf8'), before, 'one undo restores the schedule byte for byte');
    await closeAllEditors(page);
  });
});
