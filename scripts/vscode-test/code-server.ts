/**
 * Starts code-server (the real VS Code workbench, see prepare.ts) for one test run:
 *   - in its own process group, so stop() (and an exit/signal safety net) kills its extension
 *     host and every other child with it;
 *   - on a free loopback port, without auth, telemetry or update checks;
 *   - with a throwaway user-data, extensions and XDG folder holding the settings that keep the
 *     workbench clean (no welcome page, no AI chat, no secondary side bar, no trust prompt).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envWithoutNpm, type Prepared } from './prepare';

export const CLEAN_WORKBENCH_SETTINGS: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'security.workspace.trust.enabled': false,
  'workbench.tips.enabled': false,
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'telemetry.telemetryLevel': 'off',
  'files.hotExit': 'off',
  'window.restoreWindows': 'none',
};

export interface CodeServerOptions {
  readonly prepared: Prepared;
  /** Receives code-server's own output and, on stop(), a copy of its log folder (extension host logs). */
  readonly logDir: string;
  /** Needed for the integration suites: lets the URL payload load extension tests. */
  readonly smokeTestDriver?: boolean;
  /** Extra user settings, merged over {@link CLEAN_WORKBENCH_SETTINGS}. */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Extra environment for code-server and its extension host. */
  readonly env?: Readonly<Record<string, string>>;
  /** VSIX files installed into the throwaway extensions folder before start. */
  readonly installVsix?: readonly string[];
}

export interface CodeServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The throwaway folder (user-data, extensions, XDG); removed by stop(). */
  readonly dataDir: string;
  /** The user settings.json; the workbench applies changes written to it while it runs. */
  readonly settingsPath: string;
  readonly pid: number;
  /** Opens `folder` in the workbench (with optional extra query parameters). */
  urlFor(folder: string, query?: Readonly<Record<string, string>>): string;
  /** Kills the whole process group (TERM, then KILL after 5 s), keeps its logs, removes dataDir. */
  stop(): Promise<void>;
}

function log(message: string): void {
  console.log(`[vscode-test] ${message}`);
}

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitHealthy(origin: string, exited: () => string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = exited();
    if (why) throw new Error(`code-server exited before it was ready (${why})`);
    try {
      const res = await fetch(`${origin}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`code-server did not answer ${origin}/healthz within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

/** Groups started by this process, killed on exit even if a caller forgets stop(). */
const liveGroups = new Set<number>();
let safetyNetInstalled = false;
function installSafetyNet(): void {
  if (safetyNetInstalled) return;
  safetyNetInstalled = true;
  process.on('exit', () => {
    for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
      process.exit(130);
    });
  }
}

export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const { prepared } = options;
  mkdirSync(options.logDir, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'bac-vscode-test-'));
  const userData = join(dataDir, 'user-data');
  const extensions = join(dataDir, 'extensions');
  mkdirSync(join(userData, 'User'), { recursive: true });
  mkdirSync(extensions, { recursive: true });
  const settingsPath = join(userData, 'User', 'settings.json');
  const settings = JSON.stringify({ ...CLEAN_WORKBENCH_SETTINGS, ...options.settings }, null, 2);
  writeFileSync(settingsPath, settings);
  // Settings with machine scope (bac.executionProvider) are read only from the server's Machine
  // settings in a remote window such as code-server's: write them there too.
  mkdirSync(join(userData, 'Machine'), { recursive: true });
  writeFileSync(join(userData, 'Machine', 'settings.json'), settings);
  const env: NodeJS.ProcessEnv = {
    ...envWithoutNpm(),
    XDG_CONFIG_HOME: join(dataDir, 'xdg-config'),
    XDG_DATA_HOME: join(dataDir, 'xdg-data'),
    XDG_CACHE_HOME: join(dataDir, 'xdg-cache'),
    ...options.env,
  };
  const common = ['--user-data-dir', userData, '--extensions-dir', extensions];

  for (const vsix of options.installVsix ?? []) {
    log(`installing ${vsix} into the throwaway extensions folder`);
    const r = spawnSync(prepared.node, [prepared.codeServerEntry, ...common, '--install-extension', vsix], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    writeFileSync(join(options.logDir, 'install-extension.log'), out);
    if (r.status !== 0) throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status}):\n${out}`);
  }

  const port = await freeLoopbackPort();
  const origin = `http://127.0.0.1:${port}`;
  const args = [
    prepared.codeServerEntry,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--reconnection-grace-time',
    '5',
    ...common,
  ];
  if (options.smokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
  const outPath = join(options.logDir, 'code-server.log');
  const out = openSync(outPath, 'w');
  installSafetyNet();
  const t0 = Date.now();
  const child = spawn(prepared.node, args, { env, detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start code-server');
  liveGroups.add(pid);
  let exitReason: string | undefined;
  child.on('exit', (code, signal) => {
    exitReason = signal ? `signal ${signal}` : `exit code ${code}`;
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + 5000;
    while (groupAlive(pid) && Date.now() < deadline) await sleep(100);
    if (groupAlive(pid)) killGroup(pid, 'SIGKILL');
    while (groupAlive(pid) && Date.now() < deadline + 2000) await sleep(100);
    liveGroups.delete(pid);
    const logs = join(userData, 'logs');
    if (existsSync(logs)) cpSync(logs, join(options.logDir, 'vscode-logs'), { recursive: true });
    if (process.env.BAC_TEST_KEEP_DATA) log(`kept ${dataDir} (BAC_TEST_KEEP_DATA)`);
    else rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    await waitHealthy(origin, () => exitReason, 60_000);
  } catch (e) {
    await stop();
    throw new Error(`${e instanceof Error ? e.message : String(e)}; its output: ${outPath}`);
  }
  log(
    `code-server ${prepared.codeServerVersion} up on ${origin} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid group ${pid}, logs in ${options.logDir})`,
  );
  return {
    port,
    origin,
    dataDir,
    settingsPath,
    pid,
    urlFor: (folder, query = {}) => {
      const params = new URLSearchParams({ folder, ...query });
      return `${origin}/?${params.toString()}`;
    },
    stop,
  };
}
