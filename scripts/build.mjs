// Bundles the extension host and CLI (node/cjs; vscode and onnxruntime-node stay external so the
// native addon loads from node_modules) and the webview (browser/esm). `--watch` rebuilds on change.
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const hostEntries = {
  extension: 'src/extension/extension.ts',
  cli: 'src/cli/main.ts',
  'profile-worker': 'src/engine/profile-worker.ts',
  'measure-worker': 'src/engine/measure-worker.ts',
  'tune-worker': 'src/engine/tune-worker.ts',
};

/** @type {esbuild.BuildOptions[]} */
const builds = [
  {
    entryPoints: Object.fromEntries(Object.entries(hostEntries).filter(([, file]) => existsSync(file))),
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'onnxruntime-node'],
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
  },
];
if (existsSync('webview/main.ts')) {
  builds.push({
    // Two bundles: the page, and its charts (chart.js), which the page imports by URL after it
    // said `ready` (webview/main.ts). Not esbuild's splitting: its shared chunk would add a
    // request in series before the page's script can run.
    entryPoints: { webview: 'webview/main.ts', 'webview-charts': 'webview/charts.ts', sweep: 'webview/sweep.ts' },
    outdir: 'dist',
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
  });
}

for (const options of builds) {
  if (Object.keys(options.entryPoints).length === 0) continue;
  if (watch) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}
// The exporter "BAC: Export Policy from Checkpoint…" runs: its modules and our DP-T replica, as
// Python sources beside the bundle (the VSIX carries dist/ only).
const PYTHON_FILES = ['bac_export.py', 'bac_dp_checkpoint.py'];
mkdirSync('dist/python/bac_models', { recursive: true });
for (const f of PYTHON_FILES) cpSync(`python/${f}`, `dist/python/${f}`);
for (const f of readdirSync('python/bac_models').filter((n) => n.endsWith('.py'))) {
  cpSync(`python/bac_models/${f}`, `dist/python/bac_models/${f}`);
}
if (!watch) console.log(`build: ${builds.map((b) => Object.keys(b.entryPoints).join(', ')).join(' | ')} → dist/`);
