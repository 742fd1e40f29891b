/**
 * Hostile-input suite (issue #12): with a fixed seed, ≥ 1000 malformed `.bacschedule` and ≥ 300
 * malformed `.bacprofile` files go through the real CLI entry (`runCli`, in this process; a sample
 * also through the spawned `bin/bac.js`). For every one: exit code 0 or 1 (never an internal
 * error), stderr ≤ 4 KB (and `--json` bounded), no file changed unless the command succeeded, an
 * invalid schedule named as `--out` is never rewritten, and no temp file is left.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serializeProfile } from '../../src/core/profile-format';
import { bacInDir, compileFixture, repo, type Run } from './helpers/cli-run';
import { mutateJson, mutateProfile, type Mutant } from './helpers/hostile-inputs';
import { syntheticProfile } from './helpers/synthetic-profile';

const SEED = 1212;
const MAX_STDERR = 4096;
const MAX_JSON = 8192;

/** name → sha256 of every file in `dir`. */
function snapshot(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir).map((f) => [
      f,
      createHash('sha256')
        .update(readFileSync(join(dir, f)))
        .digest('hex'),
    ]),
  );
}

/** One hostile case: a command run on a directory after writing the mutant into it. */
interface Case {
  readonly mutant: Mutant;
  readonly dir: string;
  /** Where the mutant goes (relative to dir). */
  readonly file: string;
  readonly argv: string[];
  /** Files the command may write when it succeeds (removed after the case). */
  readonly outputs: string[];
}

/** Checks one finished run; returns a problem description or null. */
function problem(c: Case, r: Run, before: Map<string, string>, after: Map<string, string>): string | null {
  if (r.code !== 0 && r.code !== 1) return `exit ${r.code}: ${r.stderr.slice(0, 300)}`;
  if (Buffer.byteLength(r.stderr) > MAX_STDERR) return `${Buffer.byteLength(r.stderr)} bytes of stderr`;
  if (r.code === 1 && Buffer.byteLength(r.stdout) > MAX_JSON) return `${Buffer.byteLength(r.stdout)} bytes of stdout`;
  if (r.code === 1 && !r.stderr.startsWith('bac: ')) return `no "bac: " message: ${r.stderr.slice(0, 200)}`;
  const temps = [...after.keys()].filter((f) => f.startsWith('.'));
  if (temps.length > 0) return `temp files left: ${temps.join(', ')}`;
  for (const [f, sha] of after) {
    const changed = before.get(f) !== sha;
    if (changed && (r.code !== 0 || !c.outputs.includes(f))) return `${f} changed (exit ${r.code})`;
  }
  return null;
}

describe('hostile inputs through the CLI (issue #12)', () => {
  let root: string;
  const cases: Case[] = [];
  const scheduleCount = { n: 0 };
  const profileCount = { n: 0 };

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'bac-hostile-'));
    const dirs = Object.fromEntries(
      ['info', 'solve', 'compile', 'profiles'].map((n) => {
        mkdirSync(join(root, n));
        return [n, join(root, n)];
      }),
    );
    const profileBytes = serializeProfile(syntheticProfile({ layers: 2, steps: 12, seed: 7 }));
    writeFileSync(join(dirs.solve!, 'p.bacprofile'), profileBytes);
    writeFileSync(join(dirs.profiles!, 'p.bacprofile'), profileBytes);
    compileFixture(dirs.compile!);
    const solved = await bacInDir(dirs.solve!, ['solve', 'p.bacprofile', '--budget', '4', '--out', 'base.bacschedule']);
    assert.equal(solved.code, 0, solved.stderr);
    const solvedText = readFileSync(join(dirs.solve!, 'base.bacschedule'), 'utf8');
    rmSync(join(dirs.solve!, 'base.bacschedule'));
    const tinyText = readFileSync(join(dirs.compile!, 'schedule.bacschedule'), 'utf8');
    rmSync(join(dirs.compile!, 'schedule.bacschedule'));
    const demoText = readFileSync(join(repo, 'fixtures', 'demo', 'policy.bacschedule'), 'utf8');

    // schedules: 400 re-solved over (the "never rewrite an invalid schedule" path), 300 compiled,
    // 300 summarised (text and --json)
    for (const m of mutateJson(solvedText, 400, SEED)) {
      cases.push({
        mutant: m,
        dir: dirs.solve!,
        file: 's.bacschedule',
        argv: ['solve', 'p.bacprofile', '--budget', '3', '--out', 's.bacschedule'],
        outputs: ['s.bacschedule'],
      });
    }
    for (const m of mutateJson(tinyText, 300, SEED + 1)) {
      cases.push({
        mutant: m,
        dir: dirs.compile!,
        file: 's.bacschedule',
        argv: ['compile', 's.bacschedule', '--out', 'c.onnx'],
        outputs: ['c.onnx'],
      });
    }
    mutateJson(demoText, 300, SEED + 2).forEach((m, i) =>
      cases.push({
        mutant: m,
        dir: dirs.info!,
        file: 's.bacschedule',
        argv: ['info', 's.bacschedule', ...(i % 2 ? ['--json'] : [])],
        outputs: [],
      }),
    );
    scheduleCount.n = cases.length;
    // profiles: synthetic ones summarised and solved, the demo's summarised
    mutateProfile(profileBytes, 280, SEED + 3).forEach((m, i) =>
      cases.push({
        mutant: m,
        dir: dirs.profiles!,
        file: 'm.bacprofile',
        argv:
          i % 3 === 0
            ? ['solve', 'm.bacprofile', '--budget', '3', '--out', 'o.bacschedule']
            : ['info', 'm.bacprofile', ...(i % 3 === 1 ? ['--json'] : [])],
        outputs: ['o.bacschedule'],
      }),
    );
    const demoProfile = readFileSync(join(repo, 'fixtures', 'demo', 'policy.bacprofile'));
    for (const m of mutateProfile(demoProfile, 40, SEED + 4)) {
      cases.push({ mutant: m, dir: dirs.profiles!, file: 'm.bacprofile', argv: ['info', 'm.bacprofile'], outputs: [] });
    }
    profileCount.n = cases.length - scheduleCount.n;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('generates ≥ 1000 malformed schedules and ≥ 300 malformed profiles', () => {
    assert.ok(scheduleCount.n >= 1000, `${scheduleCount.n} schedules`);
    assert.ok(profileCount.n >= 300, `${profileCount.n} profiles`);
  });

  it('every one: exit 0 or 1, bounded messages, nothing changed on failure, no temp file', async (t) => {
    const problems: string[] = [];
    const exits = new Map<string, number>();
    let rewrittenInvalid = 0;
    for (const c of cases) {
      writeFileSync(join(c.dir, c.file), c.mutant.bytes);
      // whether the mutant is a valid file, judged by the reader itself
      const valid =
        c.argv[0] === 'solve' && c.file === 's.bacschedule' ? await bacInDir(c.dir, ['info', c.file]) : null;
      const before = snapshot(c.dir);
      const r = await bacInDir(c.dir, c.argv);
      const after = snapshot(c.dir);
      const p = problem(c, r, before, after);
      if (p) problems.push(`${c.argv.join(' ')} on [${c.mutant.label}]: ${p}`);
      if (valid?.code === 1 && r.code === 0) rewrittenInvalid++;
      const key = `${c.argv[0]} ${c.file} → exit ${r.code}`;
      exits.set(key, (exits.get(key) ?? 0) + 1);
      for (const f of c.outputs) rmSync(join(c.dir, f), { force: true });
    }
    t.diagnostic([...exits].map(([k, n]) => `${k}: ${n}`).join('; '));
    // the mutants must reach past the first check: some are refused, some still succeed
    for (const command of ['solve', 'compile', 'info']) {
      assert.ok((exits.get(`${command} s.bacschedule → exit 1`) ?? 0) > 0, `${command} refused some`);
    }
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problem(s)`);
    assert.equal(rewrittenInvalid, 0, 'an invalid schedule named as --out was rewritten');
  });

  it('a sample through the spawned bin/bac.js behaves the same', async () => {
    const sample = cases.filter((_, i) => i % 67 === 0).slice(0, 20);
    assert.ok(sample.length >= 19);
    const problems: string[] = [];
    // four at a time, each in its own copy of its directory
    for (let first = 0; first < sample.length; first += 4) {
      await Promise.all(
        sample.slice(first, first + 4).map(async (c, k) => {
          const dir = mkdtempSync(join(root, `spawn-${first + k}-`));
          for (const f of readdirSync(c.dir)) copyFileSync(join(c.dir, f), join(dir, f));
          writeFileSync(join(dir, c.file), c.mutant.bytes);
          const before = snapshot(dir);
          const r = await spawnBac(dir, c.argv);
          const p = problem({ ...c, dir }, r, before, snapshot(dir));
          if (p) problems.push(`${c.argv.join(' ')} on [${c.mutant.label}]: ${p}`);
        }),
      );
    }
    assert.deepEqual(problems, []);
  });
});

/** Runs `node bin/bac.js ...argv` in `cwd` (the installed entry: the bundle when built, else tsx). */
function spawnBac(cwd: string, argv: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(repo, 'bin', 'bac.js'), ...argv], { cwd, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
