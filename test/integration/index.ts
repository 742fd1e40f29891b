/**
 * Mocha 10 runner for the integration suites, loaded by VS Code's extension host as
 * `extensionTestsPath` (code-server: scripts/vscode-test/run-integration.ts; desktop VS Code:
 * scripts/vscode-test/run-electron.ts). Bundled by esbuild to out/test/integration/index.js with
 * each suite next to it as suites/*.test.js; `vscode` and `mocha` stay external.
 *
 * Output goes through console.log (the smoke-test driver forwards it to the launcher); the last
 * line is always `integration: N passed, M failed, K skipped`. `BAC_TEST_GREP` filters tests.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import Mocha from 'mocha';

/**
 * Set by the code-server launcher, whose console channel also carries the workbench's own logs:
 * mocha's lines get this prefix so the launcher can show them alone (and keep the rest in a file).
 */
const TAG = process.env.BAC_TEST_OUTPUT_TAG ?? '';
const say = (...args: unknown[]): void =>
  console.log(
    format(...args)
      .split('\n')
      .map((line) => TAG + line)
      .join('\n'),
  );

export function run(): Promise<void> {
  if (TAG) Mocha.reporters.Base.consoleLog = say;
  const mocha = new Mocha({
    ui: 'bdd',
    reporter: 'spec',
    color: false,
    timeout: 60_000,
    slow: 5_000,
    grep: process.env.BAC_TEST_GREP,
  });
  const suitesDir = join(__dirname, 'suites');
  const files = readdirSync(suitesDir)
    .filter((f) => f.endsWith('.test.js'))
    .sort();
  for (const f of files) mocha.addFile(join(suitesDir, f));
  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const { passes = 0, pending = 0 } = runner.stats ?? {};
        say(`integration: ${passes} passed, ${failures} failed, ${pending} skipped`);
        if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
        else resolve();
      });
    } catch (e) {
      say(e);
      say('integration: 0 passed, 1 failed, 0 skipped (the suites could not be loaded)');
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
}
