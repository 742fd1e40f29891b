/**
 * `npm run test:electron`: the same integration suites (out/test/integration/index.js) in a
 * desktop VS Code downloaded by @vscode/test-electron, for developers' machines and CI with
 * internet access. It cannot work offline: test-electron downloads VS Code from
 * update.code.visualstudio.com (cached in .vscode-test/). On a Linux machine without a display
 * run it under `xvfb-run -a npm run test:electron`. Offline, use `npm run test:integration`
 * (code-server). Env: BAC_VSCODE_VERSION (default "stable"), BAC_TEST_GREP.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { buildExtension, buildIntegrationTests, INTEGRATION_INDEX } from './build-tests';
import { makeWorkspace, REPO_ROOT } from './workspace';

async function main(): Promise<number> {
  console.log('[electron] building the extension and bundling the suites → out/test/integration/');
  buildExtension();
  await buildIntegrationTests();
  const workspace = mkdtempSync(join(tmpdir(), 'bac-electron-ws-'));
  makeWorkspace(workspace);
  const version = process.env.BAC_VSCODE_VERSION ?? 'stable';
  console.log(
    `[electron] VS Code ${version} via @vscode/test-electron (downloads it once into .vscode-test/; needs internet)`,
  );
  try {
    await runTests({
      version,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: INTEGRATION_INDEX,
      launchArgs: [
        workspace,
        '--disable-extensions',
        '--disable-workspace-trust',
        '--skip-welcome',
        '--skip-release-notes',
      ],
    });
    return 0;
  } catch (e) {
    console.error(`[electron] ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`[electron] harness failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
