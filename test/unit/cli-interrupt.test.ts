/**
 * SIGINT, SIGTERM and SIGKILL at several moments of a spawned `bac compile` and `bac profile`
 * (issue #12): afterwards there is no partial output and no temp file (for SIGKILL, after the next
 * run's clean-up), and no profiling child process outlives its parent. The moment "during the
 * write" is made reliable by a preloaded hook (helpers/slow-rename.cjs) that holds the final rename
 * for a few seconds after the temp file was written.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseProfile } from '../../src/core/profile-format';
import { bac, bacArgv, compileFixture, repo, tmpFiles } from './helpers/cli-run';

const SLOW_RENAME = join(__dirname, 'helpers', 'slow-rename.cjs');
const SMALL_DPT = join(repo, 'test', 'fixtures', 'engine', 'small-dpt.onnx');
const EPISODES = join(repo, 'fixtures', 'demo', 'episodes', 'heldout.hdf5');
const onLinux = process.platform === 'linux';

/** A spawned `bac` with the slow-rename hook, in its own process group (so a test can signal the group). */
interface Running {
  readonly proc: ChildProcess;
  /** stderr so far. */
  stderr: () => string;
  /** Resolves when stderr matches `re`; rejects when the process ends first. */
  until: (re: RegExp) => Promise<void>;
  /** Resolves with the exit code and signal once the process ended. */
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(cwd: string, args: string[]): Running {
  const proc = spawn(process.execPath, ['--require', SLOW_RENAME, ...bacArgv(...args)], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let err = '';
  const waiters: { re: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (w.re.test(err)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  proc.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
    check();
  });
  proc.stdout!.resume();
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`bac ended before ${w.re}: ${err}`));
      resolve({ code, signal });
    }),
  );
  return {
    proc,
    stderr: () => err,
    until: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve, reject });
        check();
      }),
    ended,
  };
}

/** Pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) kids.push(Number(name));
    } catch {
      // ended meanwhile
    }
  }
  return kids;
}

/** Whether `pid` still runs (a zombie waiting for a reaper counts as ended). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits up to `ms` for every pid to end; returns those still running. */
async function survivors(pids: number[], ms = 15_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && pids.some(running)) await new Promise((r) => setTimeout(r, 100));
  return pids.filter(running);
}

type Signal = 'SIGINT' | 'SIGTERM' | 'SIGKILL';

/** Waits until `run` holds its temp file in `dir` (the hook's marker), then sends `signal`. */
async function signalWhileWriting(
  run: Running,
  dir: string,
  signal: Signal,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  await run.until(/rename pending/);
  assert.equal(tmpFiles(dir).length, 1, 'the temp file exists at this moment');
  run.proc.kill(signal);
  return run.ended;
}
const SIGNALS: Signal[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];

/** Files in `dir` apart from `keep` (inputs). */
const produced = (dir: string, keep: string[]): string[] => readdirSync(dir).filter((f) => !keep.includes(f));

describe('bac under signals (issue #12)', { skip: onLinux ? false : 'reads /proc to find child processes' }, () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'bac-interrupt-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const signal of SIGNALS) {
    it(`compile: ${signal} while starting and while writing leaves no output and no temp file`, async () => {
      const dir = mkdtempSync(join(root, `compile-${signal}-`));
      compileFixture(dir);
      const inputs = ['tiny.onnx', 'schedule.bacschedule'];
      const args = ['compile', 'schedule.bacschedule', '--out', 'c.onnx'];

      const early = start(dir, args);
      await new Promise((r) => setTimeout(r, 300));
      early.proc.kill(signal);
      await early.ended;
      assert.deepEqual(produced(dir, inputs), [], 'nothing after a signal while starting');

      const writing = start(dir, args);
      const end = await signalWhileWriting(writing, dir, signal);
      if (signal === 'SIGKILL') {
        assert.equal(end.signal, 'SIGKILL');
        assert.equal(tmpFiles(dir).length, 1, 'SIGKILL cannot clean up');
        const next = bac(dir, ...args);
        assert.equal(next.code, 0, next.stderr);
        assert.deepEqual(produced(dir, inputs), ['c.onnx'], "the next run removed the killed run's temp file");
      } else {
        assert.equal(end.signal, signal, `dies by ${signal}: ${writing.stderr()}`);
        assert.deepEqual(produced(dir, inputs), [], `nothing after ${signal} while writing`);
      }
    });
  }

  const profileArgs = (samples: number) => [
    'profile',
    '--model',
    SMALL_DPT,
    '--episodes',
    EPISODES,
    '--samples',
    String(samples),
    '--batch',
    '1',
    '--ep',
    'cpu',
    '--out',
    'p.bacprofile',
  ];

  for (const signal of SIGNALS) {
    it(`profile: ${signal} while profiling ends the child too and leaves nothing`, async () => {
      const dir = mkdtempSync(join(root, `profile-${signal}-`));
      const run = start(dir, profileArgs(64));
      await run.until(/profiled 1\/64 samples/);
      const kids = childrenOf(run.proc.pid!);
      assert.ok(kids.length >= 1, 'the profiling child runs');
      run.proc.kill(signal);
      const end = await run.ended;
      if (signal === 'SIGKILL') assert.equal(end.signal, 'SIGKILL');
      else {
        assert.equal(end.code, 1, run.stderr());
        assert.match(run.stderr(), /bac: interrupted: profiling was cancelled and no profile was written/);
      }
      assert.deepEqual(await survivors(kids), [], 'no profiling child outlives the parent');
      assert.deepEqual(readdirSync(dir), []);
    });
  }

  it('profile: Ctrl-C (SIGINT to the whole process group) is one "interrupted" message', async () => {
    const dir = mkdtempSync(join(root, 'profile-group-'));
    const run = start(dir, profileArgs(64));
    await run.until(/profiled 1\/64 samples/);
    const kids = childrenOf(run.proc.pid!);
    process.kill(-run.proc.pid!, 'SIGINT');
    const end = await run.ended;
    assert.equal(end.code, 1, run.stderr());
    assert.match(run.stderr(), /bac: interrupted: profiling was cancelled/);
    assert.deepEqual(await survivors(kids), []);
    assert.deepEqual(readdirSync(dir), []);
  });

  for (const signal of SIGNALS) {
    it(`profile: ${signal} while writing the profile leaves no output and no temp file`, async () => {
      const dir = mkdtempSync(join(root, `profile-write-${signal}-`));
      const run = start(dir, profileArgs(2));
      const end = await signalWhileWriting(run, dir, signal);
      if (signal === 'SIGKILL') {
        assert.equal(end.signal, 'SIGKILL');
        assert.equal(tmpFiles(dir).length, 1);
        const next = bac(dir, ...profileArgs(1));
        assert.equal(next.code, 0, next.stderr);
        assert.deepEqual(readdirSync(dir), ['p.bacprofile'], "the next run removed the killed run's temp file");
        assert.ok(parseProfile(readFileSync(join(dir, 'p.bacprofile'))).ok);
      } else {
        assert.equal(end.code, 1, run.stderr());
        assert.match(run.stderr(), /bac: interrupted: .*the write was interrupted by a signal/);
        assert.deepEqual(readdirSync(dir), []);
      }
      assert.equal(existsSync(join(dir, 'p.bacprofile')), signal === 'SIGKILL');
    });
  }
});
