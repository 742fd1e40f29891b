/**
 * `npm run test:integration`: runs the mocha suites of test/integration inside the real VS Code
 * extension host of code-server (see prepare.ts for why code-server), with the repository loaded
 * as the development extension and a throwaway workspace (workspace.ts) open.
 *
 * How: code-server starts with the smoke-test driver enabled; headless Chromium opens the workbench
 * with a URL payload naming extensionDevelopmentPath and extensionTestsPath; the workbench runs the
 * suites and reports mocha's output (codeAutomationLog) and its exit code (codeAutomationExit).
 *
 * Exit code: 0 when every test passed, 1 otherwise (also on timeout or harness failure). Logs and a
 * screenshot on failure go to .test-artifacts/integration/. Env: BAC_TEST_GREP filters tests,
 * BAC_TEST_TIMEOUT_S bounds the whole suite (default 600), BAC_TEST_KEEP_DATA keeps the temp folders.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format } from 'node:util';
import { buildExtension, buildIntegrationTests, INTEGRATION_INDEX } from './build-tests';
import { launchChromium } from './browser';
import { startCodeServer, type CodeServer } from './code-server';
import { prepare } from './prepare';
import { makeWorkspace, REPO_ROOT } from './workspace';

const ARTIFACTS = join(REPO_ROOT, '.test-artifacts', 'integration');
/** Prefix of mocha's lines in the console channel (read by test/integration/index.ts). */
const OUTPUT_TAG = 'mocha| ';

function log(message: string): void {
  console.log(`[integration] ${message}`);
}

let summaryPrinted = false;

async function main(): Promise<number> {
  const t0 = Date.now();
  const prepared = await prepare();
  log('building the extension (scripts/build.mjs) and bundling the suites → out/test/integration/');
  buildExtension();
  await buildIntegrationTests();

  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const workspace = mkdtempSync(join(tmpdir(), 'bac-integration-ws-'));
  makeWorkspace(workspace);
  log(`test workspace: ${workspace}`);

  const timeoutS = Number(process.env.BAC_TEST_TIMEOUT_S ?? 600);
  /** mocha's lines (tagged by test/integration/index.ts) and everything the workbench logged. */
  const output: string[] = [];
  const workbench: string[] = [];
  let server: CodeServer | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  try {
    server = await startCodeServer({
      prepared,
      logDir: ARTIFACTS,
      smokeTestDriver: true,
      env: { BAC_TEST_OUTPUT_TAG: OUTPUT_TAG },
    });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let resolveExit: (code: number) => void = () => undefined;
    const exited = new Promise<number>((r) => (resolveExit = r));
    await page.exposeFunction('codeAutomationLog', (_type: string, args: unknown[]) => {
      const text = format(...(Array.isArray(args) ? args : [args]));
      workbench.push(text);
      for (const line of text.split('\n')) {
        if (!line.startsWith(OUTPUT_TAG)) continue;
        output.push(line.slice(OUTPUT_TAG.length));
        console.log(line.slice(OUTPUT_TAG.length));
      }
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => resolveExit(code));
    const remote = (p: string): string => `vscode-remote://127.0.0.1:${server!.port}${p}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(REPO_ROOT)],
      ['extensionTestsPath', remote(INTEGRATION_INDEX)],
    ]);
    log(`running the suites in the extension host (timeout ${timeoutS} s)`);
    await page.goto(server.urlFor(workspace, { payload }));
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise<number>((r) => (timer = setTimeout(() => r(-1), timeoutS * 1000))),
    ]);
    clearTimeout(timer);
    if (code !== 0) {
      await page.screenshot({ path: join(ARTIFACTS, 'failure.png') }).catch(() => undefined);
      if (code === -1) output.push(`integration: timed out after ${timeoutS} s`);
    }
    log(
      `extension host exit code ${code === -1 ? '(timeout)' : code} after ${((Date.now() - t0) / 1000).toFixed(1)} s in all`,
    );
    return code === 0 ? 0 : 1;
  } finally {
    writeFileSync(join(ARTIFACTS, 'mocha.log'), output.join('\n') + '\n');
    writeFileSync(join(ARTIFACTS, 'workbench-console.log'), workbench.join('\n') + '\n');
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (!process.env.BAC_TEST_KEEP_DATA) rmSync(workspace, { recursive: true, force: true });
    // The last line CI reads: mocha's own summary line, or why there is none.
    const summary = output.filter((l) => /^integration: \d+ passed/.test(l)).pop();
    if (summary) console.log(summary);
    else
      console.log(
        'integration: 0 passed, 1 failed, 0 skipped (no result from the extension host; see .test-artifacts/integration/)',
      );
    summaryPrinted = true;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`[integration] harness failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    if (!summaryPrinted) console.log('integration: 0 passed, 1 failed, 0 skipped (harness failure)');
    process.exit(1);
  },
);
