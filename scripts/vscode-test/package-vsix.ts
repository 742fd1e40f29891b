/**
 * `npm run package`: the linux-x64 VSIX.
 *
 * 1. a production build into a clean dist/ (scripts/build.mjs --production: minified, no maps);
 * 2. `vsce ls` checked: the bundle keeps onnxruntime-node external, so the VSIX must carry its JS,
 *    onnxruntime-common's CommonJS build and exactly one native folder,
 *    node_modules/onnxruntime-node/bin/napi-v6/linux/x64 (.vscodeignore is the allowlist);
 * 3. `vsce package --target linux-x64` (@vscode/vsce 3.x runs on Node ≥ 20; 4.x would need 22);
 * 4. prints the size against the 70 MB target.
 *
 * Output: bac-studio-linux-x64-<version>.vsix in the repository root (or the path in argv[2]).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './workspace';

export const TARGET = 'linux-x64';
const SIZE_TARGET_MB = 70;
const ORT_BINARIES = 'node_modules/onnxruntime-node/bin/napi-v6/';
const REQUIRED = [
  'package.json',
  'dist/extension.js',
  'node_modules/onnxruntime-node/package.json',
  'node_modules/onnxruntime-node/dist/index.js',
  'node_modules/onnxruntime-common/package.json',
  'node_modules/onnxruntime-common/dist/cjs/index.js',
  `${ORT_BINARIES}linux/x64/onnxruntime_binding.node`,
  `${ORT_BINARIES}linux/x64/libonnxruntime.so.1`,
];

function log(message: string): void {
  console.log(`[package] ${message}`);
}

function vsce(args: string[]): string {
  const cli = join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`vsce ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

export function defaultVsixPath(): string {
  const { name, version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  return join(REPO_ROOT, `${name}-${TARGET}-${version}.vsix`);
}

/** Builds and packages; returns the VSIX path. Throws when the file list is not what it must be. */
export function packageVsix(out = defaultVsixPath()): string {
  const t0 = Date.now();
  log('production build into a clean dist/ (node scripts/build.mjs --production)');
  rmSync(join(REPO_ROOT, 'dist'), { recursive: true, force: true });
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--production'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  if (build.status !== 0) throw new Error(`node scripts/build.mjs --production failed (exit ${build.status})`);

  log('checking the file list (vsce ls, .vscodeignore allowlist)');
  const files = vsce(['ls']).split('\n').filter(Boolean);
  const missing = REQUIRED.filter((f) => !files.includes(f));
  const foreign = files.filter((f) => f.startsWith(ORT_BINARIES) && !f.startsWith(`${ORT_BINARIES}linux/x64/`));
  const sources = files.filter((f) => /^(src|test|webview|python|fixtures|scripts)\//.test(f) || f.endsWith('.map'));
  const problems = [
    ...missing.map((f) => `missing ${f} (add a !${f} line to .vscodeignore)`),
    ...foreign.map((f) => `carries ${f}: only the ${TARGET} ORT binaries belong in this VSIX`),
    ...sources.map((f) => `carries ${f}: sources, tests and source maps stay out`),
  ];
  if (problems.length > 0) throw new Error(`the VSIX file list is wrong:\n  ${problems.join('\n  ')}`);
  log(`${files.length} files, ORT binaries for ${TARGET} only`);

  log(`vsce package --target ${TARGET}`);
  rmSync(out, { force: true });
  // No repository URL yet: keep README links relative (as in the repository) and do not prompt.
  const said = vsce([
    'package',
    '--target',
    TARGET,
    '--out',
    out,
    '--no-rewrite-relative-links',
    '--allow-missing-repository',
  ]);
  // vsce prints a file tree; keep its verdict and any warning.
  for (const line of said.split('\n').filter((l) => /DONE|WARN|ERROR/i.test(l))) log(`  vsce: ${line.trim()}`);
  const mb = statSync(out).size / 1e6;
  log(
    `${out}: ${mb.toFixed(1)} MB (target ≤ ${SIZE_TARGET_MB} MB${mb > SIZE_TARGET_MB ? ': OVER THE TARGET' : ''}), ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  return out;
}

if (require.main === module) {
  try {
    packageVsix(process.argv[2] ? resolve(process.argv[2]) : undefined);
  } catch (e) {
    console.error(`[package] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
