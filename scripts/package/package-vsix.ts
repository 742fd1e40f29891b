/**
 * `npm run package [-- --target <t>]` (default linux-x64) and `npm run package:all`: platform
 * VSIXs in out/vsix/, one per target of vsix-targets.ts.
 *
 * 1. one production build into a clean dist/ (scripts/build.mjs --production: minified, no maps);
 * 2. per target, `vsce package --target <t>` with an ignore file made of .vscodeignore (the
 *    allowlist, which names no native binary) plus that target's onnxruntime-node binaries
 *    (@vscode/vsce 3.x runs on Node ≥ 20; 4.x would need 22);
 * 3. each archive is read back and checked (vsixProblems: the right binaries and nothing of other
 *    platforms, the manifest's target, extensionKind, ≤ 70 MB); a wrong one is deleted, the
 *    command fails;
 * 4. the log lists each VSIX with its size and its platform binaries.
 *
 * Output: out/vsix/bac-studio-<target>-<version>.vsix.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import {
  binaryPaths,
  findTarget,
  ORT_BIN,
  readVsix,
  TARGETS,
  vsixPath,
  vsixProblems,
  type VsixTarget,
} from './vsix-targets';

export const REPO_ROOT = resolve(__dirname, '..', '..');

/** The target `npm run package` builds without `--target`, and the one the e2e suite installs. */
export const DEFAULT_TARGET = 'linux-x64';

function log(message: string): void {
  console.log(`[package] ${message}`);
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

function vsce(args: string[]): string {
  const cli = join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`vsce ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function productionBuild(): void {
  log('production build into a clean dist/ (node scripts/build.mjs --production)');
  rmSync(join(REPO_ROOT, 'dist'), { recursive: true, force: true });
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs'), '--production'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  if (build.status !== 0) throw new Error(`node scripts/build.mjs --production failed (exit ${build.status})`);
}

/** What one packaged VSIX holds, for the build log. */
export interface PackagedVsix {
  readonly target: string;
  readonly file: string;
  readonly bytes: number;
  /** The platform binaries it carries, with their unpacked sizes. */
  readonly binaries: readonly { readonly name: string; readonly bytes: number }[];
}

/** Packages `t` from the current dist/ and checks the archive; deletes it and throws when it is wrong. */
function packageTarget(t: VsixTarget): PackagedVsix {
  const out = vsixPath(REPO_ROOT, t.target);
  mkdirSync(join(out, '..'), { recursive: true });
  const ignoreFile = join(out, '..', `.vscodeignore-${t.target}`);
  const allow = binaryPaths(t).map((p) => `!${p}`);
  writeFileSync(
    ignoreFile,
    `${readFileSync(join(REPO_ROOT, '.vscodeignore'), 'utf8')}\n# ${t.target}\n${allow.join('\n')}\n`,
  );
  rmSync(out, { force: true });
  try {
    // No repository URL yet: keep README links relative (as in the repository) and do not prompt.
    const said = vsce([
      'package',
      '--target',
      t.target,
      '--ignoreFile',
      ignoreFile,
      '--out',
      out,
      '--no-rewrite-relative-links',
      '--allow-missing-repository',
    ]);
    for (const line of said.split('\n').filter((l) => /WARN|ERROR/i.test(l))) log(`  vsce: ${line.trim()}`);
  } finally {
    rmSync(ignoreFile, { force: true });
  }
  const vsix = readVsix(out);
  const problems = vsixProblems(t, vsix);
  if (problems.length > 0) {
    rmSync(out, { force: true });
    throw new Error(`${t.target}: the VSIX is wrong (deleted):\n  ${problems.join('\n  ')}`);
  }
  const binaries = vsix.entries
    .filter((e) => e.name.startsWith(`extension/${ORT_BIN}`))
    .map((e) => ({ name: e.name.slice(`extension/${ORT_BIN}`.length), bytes: e.size }));
  return { target: t.target, file: out, bytes: vsix.bytes, binaries };
}

/** One production build, then a checked VSIX per target; returns them in order. */
export function packageVsixes(targets: readonly VsixTarget[]): PackagedVsix[] {
  const t0 = Date.now();
  productionBuild();
  const done: PackagedVsix[] = [];
  for (const t of targets) {
    const t1 = Date.now();
    log(`vsce package --target ${t.target}`);
    done.push(packageTarget(t));
    log(`  ${t.target} done in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  }
  log(`${done.length} VSIX${done.length === 1 ? '' : 's'} in ${((Date.now() - t0) / 1000).toFixed(1)} s:`);
  for (const v of done) {
    const bins = v.binaries.map((b) => `${b.name} (${mb(b.bytes)})`).join(', ');
    log(`  ${relative(REPO_ROOT, v.file)}  ${mb(v.bytes)}  ${v.target}: ${bins}`);
  }
  return done;
}

/** Builds the one VSIX of `target` (the e2e suite installs the linux-x64 one); returns its path. */
export function packageVsix(target = DEFAULT_TARGET): string {
  return packageVsixes([findTarget(target)])[0]!.file;
}

/** The already packaged VSIX of `target` in out/vsix/; throws when there is none. */
export function packagedVsix(target: string): string {
  const file = vsixPath(REPO_ROOT, findTarget(target).target);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run package:all\` first`);
  return file;
}

/** `--all`, or `--target <t>` (repeatable); none means {@link DEFAULT_TARGET}. */
function targetsFromArgs(argv: readonly string[]): VsixTarget[] {
  if (argv.includes('--all')) return [...TARGETS];
  const named: VsixTarget[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--target') named.push(findTarget(argv[++i] ?? ''));
    else if (a.startsWith('--target=')) named.push(findTarget(a.slice('--target='.length)));
    else
      throw new Error(
        `unknown argument ${JSON.stringify(a)}: use --all or --target <${TARGETS.map((t) => t.target).join('|')}>`,
      );
  }
  return named.length > 0 ? named : [findTarget(DEFAULT_TARGET)];
}

if (require.main === module) {
  try {
    packageVsixes(targetsFromArgs(process.argv.slice(2)));
  } catch (e) {
    console.error(`[package] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
