/**
 * Running the `bac` CLI from tests: spawned (the real process, its signals and exit code) or in
 * this process through `runCli` (fast, for many runs), plus the small fixtures CLI tests share.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli, type Command } from '../../../src/cli/main';
import { serializeSchedule } from '../../../src/core/schedule-format';
import { inspectModel } from '../../../src/engine/onnx/inspect';

export const repo = join(__dirname, '..', '..', '..');
const mainTs = join(repo, 'src', 'cli', 'main.ts');
// An absolute loader URL, so the CLI can run with a temporary directory as its cwd.
const tsxLoader = pathToFileURL(require.resolve('tsx')).href;

/** One finished CLI run. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The node arguments that start the CLI from its TypeScript source. */
export const bacArgv = (...args: string[]): string[] => ['--import', tsxLoader, mainTs, ...args];

/** Spawns `node --import tsx src/cli/main.ts ...args` in `cwd` and waits for it. */
export function bac(cwd: string, ...args: string[]): Run {
  const r = spawnSync(process.execPath, bacArgv(...args), { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the CLI without waiting (for signal tests); stdout and stderr are piped. */
export function bacSpawn(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, bacArgv(...args), { cwd, env: { ...process.env, ...env }, stdio: 'pipe' });
}

/** Runs the CLI in this process (fast; for paths a spawn cannot reach, such as internal errors). */
export async function bacInProcess(argv: string[], commands?: Record<string, Command>): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (t) => (stdout += t), err: (t) => (stderr += t) }, commands);
  return { code, stdout, stderr };
}

/** Runs the CLI in this process with `cwd` as the working directory. */
export async function bacInDir(cwd: string, argv: string[]): Promise<Run> {
  const before = process.cwd();
  process.chdir(cwd);
  try {
    return await bacInProcess(argv);
  } finally {
    process.chdir(before);
  }
}

/** Leftover temporary files of atomic writes (they are dot-files next to the target). */
export const tmpFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith('.'));

/** The small BAC-ready model of the compile tests (6 blocks). */
export const TINY_MODEL = join(repo, 'test', 'fixtures', 'onnx', 'tiny.onnx');

/**
 * Copies `model` into `dir` as `modelName` and writes `schedule.bacschedule` for it (K = 10, every
 * block updating at steps 0 and 5), so `bac compile schedule.bacschedule` works there.
 */
export function compileFixture(dir: string, model = TINY_MODEL, modelName = 'tiny.onnx'): void {
  if (resolve(model) !== resolve(dir, modelName)) copyFileSync(model, join(dir, modelName));
  const info = inspectModel(join(dir, modelName));
  const schedule = serializeSchedule({
    model: { path: modelName, sha256: info.sha256 },
    sampler: { type: 'ddim', steps: 10 },
    solver: { budget: 2, topN: 0, forceLast: false, profile: null },
    baseCost: info.baseCost,
    blocks: info.blocks.map((b) => ({ id: b.id, acs: [0, 5], bua: [], manual: [], manualOff: [], cost: b.cost })),
  });
  writeFileSync(join(dir, 'schedule.bacschedule'), schedule);
}
