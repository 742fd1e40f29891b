/**
 * Bundles the integration suites for the extension host with esbuild (from node_modules):
 * test/integration/index.ts → out/test/integration/index.js and test/integration/suites/*.test.ts →
 * out/test/integration/suites/*.test.js, CommonJS, with `vscode` (given by the host) and `mocha`
 * (loaded from node_modules) external. Also (re)builds the extension itself with scripts/build.mjs.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { REPO_ROOT } from './workspace';

export const INTEGRATION_OUT = join(REPO_ROOT, 'out', 'test', 'integration');
export const INTEGRATION_INDEX = join(INTEGRATION_OUT, 'index.js');

export function buildExtension(): void {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error(`node scripts/build.mjs failed (exit ${r.status})`);
}

export async function buildIntegrationTests(): Promise<void> {
  const src = join(REPO_ROOT, 'test', 'integration');
  const suites = readdirSync(join(src, 'suites')).filter((f) => f.endsWith('.test.ts'));
  const entryPoints: Record<string, string> = { index: join(src, 'index.ts') };
  for (const f of suites) entryPoints[`suites/${f.replace(/\.ts$/, '')}`] = join(src, 'suites', f);
  rmSync(INTEGRATION_OUT, { recursive: true, force: true });
  await esbuild.build({
    entryPoints,
    outdir: INTEGRATION_OUT,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'mocha'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}

if (require.main === module) {
  buildExtension();
  buildIntegrationTests().then(
    () => console.log(`built ${INTEGRATION_INDEX}`),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
