/**
 * `npm run test:e2e`: the browser end-to-end suites of test/e2e (mocha, in this Node process),
 * against code-server with the packaged linux-x64 VSIX installed, in headless Chromium.
 *
 * Steps: prepare code-server (prepare.ts, cached) → find Chromium (browser.ts) → `npm run package`
 * (scripts/package/package-vsix.ts; `--packaged` installs the linux-x64 VSIX `npm run package:all`
 * left in out/vsix/, as `npm test` does; BAC_E2E_VSIX=<file> installs that file) → throwaway workspace
 * (workspace.ts) → code-server with the VSIX installed into a throwaway profile → the suites.
 *
 * Artifacts: .test-artifacts/e2e/ — screenshots editor-dark.png, editor-light.png,
 * codelens-python.png, profiled-schedule.png, failure-*.png; code-server and VS Code logs.
 * Exit code 0 when all tests passed, 1 otherwise. The last line reads `e2e: N passed, M failed, K skipped`.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Mocha from 'mocha';
import { setE2EContext } from '../../test/e2e/context';
import { findChromium, launchChromium } from './browser';
import { startCodeServer, type CodeServer } from './code-server';
import { DEFAULT_TARGET, packagedVsix, packageVsix } from '../package/package-vsix';
import { prepare } from './prepare';
import { makeWorkspace, REPO_ROOT } from './workspace';

const ARTIFACTS = join(REPO_ROOT, '.test-artifacts', 'e2e');

function log(message: string): void {
  console.log(`[e2e] ${message}`);
}

let summaryPrinted = false;

async function main(): Promise<number> {
  const t0 = Date.now();
  const prepared = await prepare();
  log(`browser: ${findChromium()}`);
  const vsix = process.env.BAC_E2E_VSIX
    ? resolve(process.env.BAC_E2E_VSIX)
    : process.argv.includes('--packaged')
      ? packagedVsix(DEFAULT_TARGET)
      : packageVsix(DEFAULT_TARGET);

  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const workspace = mkdtempSync(join(tmpdir(), 'bac-e2e-ws-'));
  makeWorkspace(workspace);
  log(`test workspace: ${workspace}`);

  let server: CodeServer | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    server = await startCodeServer({
      prepared,
      logDir: ARTIFACTS,
      installVsix: [vsix],
      settings: {
        'workbench.colorTheme': 'Default Dark Modern',
        'bac.profile.samples': 2,
        'bac.executionProvider': 'cpu',
        'editor.codeLens': true,
      },
    });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(server.urlFor(workspace));
    setE2EContext({ page, server, workspace, artifacts: ARTIFACTS, repoRoot: REPO_ROOT });

    const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', color: false, timeout: 120_000, slow: 10_000 });
    const dir = join(REPO_ROOT, 'test', 'e2e');
    for (const f of readdirSync(dir)
      .filter((f) => f.endsWith('.e2e.ts'))
      .sort())
      mocha.addFile(join(dir, f));
    const failures = await new Promise<number>((done) => {
      const runner = mocha.run((n) => {
        const { passes = 0, pending = 0 } = runner.stats ?? {};
        log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s in all; screenshots and logs in ${ARTIFACTS}`);
        console.log(`e2e: ${passes} passed, ${n} failed, ${pending} skipped`);
        summaryPrinted = true;
        done(n);
      });
    });
    return failures === 0 ? 0 : 1;
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (!process.env.BAC_TEST_KEEP_DATA) rmSync(workspace, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`[e2e] harness failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    if (!summaryPrinted) console.log('e2e: 0 passed, 1 failed, 0 skipped (harness failure)');
    process.exit(1);
  },
);
