import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { writeFileAtomic } from '../../src/cli/fsutil';
import { runCli, type Command } from '../../src/cli/main';
import { FileIssuesError } from '../../src/core/json-validate';
import { serializeProfile } from '../../src/core/profile-format';
import { syntheticProfile } from './helpers/synthetic-profile';

// Parsed JSON documents are mutated freely in these tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const repo = join(__dirname, '..', '..');
const mainTs = join(repo, 'src', 'cli', 'main.ts');
// An absolute loader URL, so the CLI can run with a temporary directory as its cwd.
const tsxLoader = pathToFileURL(require.resolve('tsx')).href;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns `node --import tsx src/cli/main.ts ...args` in `cwd`. */
function bac(cwd: string, ...args: string[]): Run {
  const r = spawnSync(process.execPath, ['--import', tsxLoader, mainTs, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI in this process (fast; for paths a spawn cannot reach, such as internal errors). */
async function bacInProcess(argv: string[], commands?: Record<string, Command>): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (t) => (stdout += t), err: (t) => (stderr += t) }, commands);
  return { code, stdout, stderr };
}

/** Leftover temporary files of atomic writes (they are dot-files next to the target). */
const tmpFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.startsWith('.'));

describe('bac CLI', () => {
  let dir: string;
  let profileSha: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bac-cli-'));
    mkdirSync(join(dir, 'schedules'));
    const bytes = serializeProfile(syntheticProfile({ layers: 2, steps: 20, seed: 4 }));
    writeFileSync(join(dir, 'p.bacprofile'), bytes);
    writeFileSync(join(dir, 'model.onnx'), 'not really a model');
    profileSha = createHash('sha256').update(bytes).digest('hex');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('solve writes a valid schedule with paths relative to it, atomically (exit 0)', () => {
    const r = bac(dir, 'solve', 'p.bacprofile', '--budget', '5', '--top-n', '2', '--out', 'schedules/s.bacschedule');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^wrote schedules\/s\.bacschedule: 6 blocks, \d+ of 120 block updates, expected speedup [\d.]+× by FLOPs/,
    );
    const doc = JSON.parse(readFileSync(join(dir, 'schedules', 's.bacschedule'), 'utf8'));
    assert.deepEqual(doc.model, { path: '../model.onnx', sha256: 'a'.repeat(64) });
    assert.deepEqual(doc.solver, {
      budget: 5,
      topN: 2,
      forceLast: true,
      profile: { path: '../p.bacprofile', sha256: profileSha },
    });
    assert.deepEqual(tmpFiles(join(dir, 'schedules')), []);
  });

  it('solve --json prints a machine-readable result', () => {
    const r = bac(dir, 'solve', 'p.bacprofile', '--budget', '4', '--no-force-last', '--out', 'j.bacschedule', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.ok, true);
    assert.equal(out.command, 'solve');
    assert.equal(out.out, 'j.bacschedule');
    assert.deepEqual(out.solver, {
      budget: 4,
      topN: 3,
      forceLast: false,
      profile: { path: 'p.bacprofile', sha256: profileSha },
    });
    assert.deepEqual(Object.keys(out.summary), ['updates', 'fullUpdates', 'speedupFlops', 'speedupTime']);
    assert.equal(out.summary.fullUpdates, 120);
  });

  it('info summarises a schedule and a profile, as text and as JSON', () => {
    const text = bac(dir, 'info', 'schedules/s.bacschedule');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /solver {4}budget M = 5, top-n = 2, forceLast on/);
    assert.match(text.stdout, /^block +updates +acs +bua +manual +off$/m);
    assert.match(text.stdout, /^1\.ffn +5 +5 +0 +0 +0$/m);
    const j = JSON.parse(bac(dir, 'info', 'schedules/s.bacschedule', '--json').stdout);
    assert.equal(j.kind, 'schedule');
    assert.equal(j.blocks.length, 6);
    assert.deepEqual(Object.keys(j.blocks[0]), ['id', 'updates', 'acs', 'bua', 'manual', 'manualOff']);
    const p = JSON.parse(bac(dir, 'info', 'p.bacprofile', '--json').stdout);
    assert.equal(p.kind, 'profile');
    assert.equal(p.sampler.steps, 20);
    assert.equal(p.blocks.length, 6);
    assert.ok(p.blocks[0].adjacentSimilarity > 0 && p.blocks[0].adjacentSimilarity <= 1);
  });

  it('re-solving keeps manual edits of the existing schedule', () => {
    const file = join(dir, 'schedules', 's.bacschedule');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const b = doc.blocks[5];
    const free = [...Array(20).keys()].find((s) => ![...b.acs, ...b.bua].includes(s))!;
    b.manual = [free];
    b.manualOff = [b.acs[1]];
    b.acs = b.acs.filter((s: number) => s !== b.acs[1]);
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const r = bac(dir, 'solve', 'p.bacprofile', '--budget', '5', '--top-n', '2', '--out', 'schedules/s.bacschedule');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /kept the manual edits of 1 block/);
    const again = JSON.parse(readFileSync(file, 'utf8')).blocks[5];
    assert.deepEqual([again.manual, again.manualOff], [b.manual, b.manualOff]);
  });

  /** A copy of the solved schedules/s.bacschedule, edited, written to `name`; returns its text. */
  const editedCopy = (name: string, edit: (doc: Json) => void): string => {
    const doc = JSON.parse(readFileSync(join(dir, 'schedules', 's.bacschedule'), 'utf8'));
    edit(doc);
    const text = JSON.stringify(doc, null, 2);
    writeFileSync(join(dir, name), text);
    return text;
  };

  it('refuses to drop manual edits of blocks the profile does not have, naming them (#12 defect 4)', () => {
    // A 3-layer schedule with hand edits on layer 2; the profile's model has layers 0 and 1.
    const text = editedCopy('layers3.bacschedule', (d) => {
      for (const kind of ['sa', 'ca', 'ffn']) {
        d.blocks.push({ id: `2.${kind}`, acs: [0], bua: [], manual: [7], manualOff: [], flops: 1, timeUs: 0 });
      }
    });
    const r = bac(dir, 'solve', 'p.bacprofile', '--budget', '5', '--out', 'layers3.bacschedule');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /kept the manual edits/);
    assert.match(r.stderr, /layers3\.bacschedule/);
    assert.match(r.stderr, /2\.sa, 2\.ca, 2\.ffn/);
    assert.match(r.stderr, /not in the profiled model/);
    assert.equal(readFileSync(join(dir, 'layers3.bacschedule'), 'utf8'), text, 'the schedule is untouched');
    assert.deepEqual(tmpFiles(dir), []);
  });

  it('an existing --out schedule of another K: the message names the file and both K (#12 defect 7)', () => {
    const text = editedCopy('k30.bacschedule', (d) => {
      d.sampler.steps = 30;
      d.blocks[0].manual = [25];
    });
    const r = bac(dir, 'solve', 'p.bacprofile', '--budget', '5', '--out', 'k30.bacschedule');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /k30\.bacschedule/);
    assert.match(r.stderr, /K = 30/);
    assert.match(r.stderr, /K = 20/);
    assert.doesNotMatch(r.stderr, /cannot write an invalid schedule/);
    assert.equal(readFileSync(join(dir, 'k30.bacschedule'), 'utf8'), text, 'the schedule is untouched');
  });

  it('an invalid schedule gives exit 1 and the precise message on stderr', () => {
    const doc = JSON.parse(readFileSync(join(dir, 'schedules', 's.bacschedule'), 'utf8'));
    doc.blocks[3].acs.push(104);
    writeFileSync(join(dir, 'bad.bacschedule'), JSON.stringify(doc, null, 2));
    const r = bac(dir, 'info', 'bad.bacschedule');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^bac: bad\.bacschedule: blocks\[3\]\.acs\[\d+\]: step 104 is out of range, expected an integer in 0…19$/m,
    );
    const j = JSON.parse(bac(dir, 'info', 'bad.bacschedule', '--json').stdout);
    assert.equal(j.ok, false);
    assert.equal(j.error.kind, 'user');
    assert.equal(j.error.issues[0].file, 'bad.bacschedule');
    assert.match(j.error.issues[0].path, /^blocks\[3\]\.acs\[\d+\]$/);
    assert.equal(typeof j.error.issues[0].line, 'number');
  });

  it('user errors exit 1 and name the fix', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['solve', 'p.bacprofile', '--budget', '50', '--out', 'x.bacschedule'],
        /--budget 50 is larger than K = 20 steps of p\.bacprofile, expected 1…20/,
      ],
      [
        ['solve', 'p.bacprofile', '--budget', 'ten', '--out', 'x.bacschedule'],
        /--budget "ten" is invalid, expected an integer ≥ 1/,
      ],
      [['solve', 'p.bacprofile', '--out', 'x.bacschedule'], /--budget is missing/],
      [['solve', 'p.bacprofile', '--budget', '3', '--out', 'x.json'], /does not end in \.bacschedule/],
      [
        ['solve', 'missing.bacprofile', '--budget', '3', '--out', 'x.bacschedule'],
        /missing\.bacprofile: cannot read it: no such file or directory \(ENOENT\)/,
      ],
      [
        ['solve', 'model.onnx', '--budget', '3', '--out', 'x.bacschedule'],
        /model\.onnx: magic: the file does not start with "BACPROF\\0"/,
      ],
      [
        ['solve', 'p.bacprofile', '--budget', '3', '--out', 'x.bacschedule', '--model', 'model.onnx'],
        /model\.onnx: sha256 [0-9a-f]{12}… differs from the profiled model's/,
      ],
      [
        ['solve', 'p.bacprofile', '--budget', '3', '--out', 'nodir/x.bacschedule'],
        /nodir\/x\.bacschedule: cannot write it: no such file or directory/,
      ],
      [['solve', 'p.bacprofile', '--budget', '3', '--bogus'], /Unknown option '--bogus'[\s\S]*Run `bac solve --help`/],
      [
        ['profile', '--model', 'model.onnx', '--episodes', 'e.hdf5', '--sampler', 'euler', '--out', 'x.bacprofile'],
        /--sampler euler is not one of ddpm, ddim, dpmsolver\+\+/,
      ],
      [
        ['compile', 'x.bacschedule', '--out', 'c.onnx', '--batch', '0'],
        /--batch "0" is invalid, expected an integer ≥ 1/,
      ],
      [['frobnicate'], /unknown command "frobnicate", expected one of: profile, solve, eval, compile, info/],
      [['info'], /missing file/],
    ];
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      for (const [args, re] of cases) {
        const r = await bacInProcess(args);
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re, args.join(' '));
      }
    } finally {
      process.chdir(cwd);
    }
    const spawned = bac(dir, 'solve', 'p.bacprofile', '--budget', '0', '--out', 'x.bacschedule');
    assert.equal(spawned.code, 1);
    assert.match(spawned.stderr, /--budget "0" is invalid/);
    assert.deepEqual(tmpFiles(dir), []);
  });

  it('an unexpected exception exits 2 with a report hint', async () => {
    const crash: Command = {
      summary: 'crashes',
      help: 'crashes',
      run: async () => {
        throw new TypeError('boom');
      },
    };
    const r = await bacInProcess(['crash', '--json'], { crash });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^bac: internal error: boom\nThis is a bug in BAC Studio[^\n]*please report it/);
    assert.deepEqual(JSON.parse(r.stdout), { ok: false, error: { kind: 'internal', message: 'boom' } });
    const user = await bacInProcess(['bad'], {
      bad: { ...crash, run: async () => Promise.reject(new FileIssuesError('f', [{ path: 'a', message: 'b' }])) },
    });
    assert.equal(user.code, 1);
  });

  it('--help works for the CLI and every command (exit 0)', async () => {
    for (const args of [['--help'], [], ['help', 'solve'], ['solve', '--help'], ['info', '-h']]) {
      const r = await bacInProcess(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /^Usage: bac /);
    }
    assert.match((await bacInProcess(['solve', '--help'])).stdout, /--top-n n/);
  });

  it('bin/bac.js runs the CLI (bundle or tsx fallback)', () => {
    const r = spawnSync(process.execPath, [join(repo, 'bin', 'bac.js'), 'info', 'p.bacprofile', '--json'], {
      cwd: dir,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).kind, 'profile');
  });

  it('an atomic write that fails leaves no temporary file behind', async () => {
    const target = join(dir, 'occupied.bacschedule');
    mkdirSync(join(target, 'child'), { recursive: true }); // rename over a non-empty directory fails
    await assert.rejects(writeFileAtomic(target, 'x'));
    assert.deepEqual(tmpFiles(dir), []);
    await writeFileAtomic(join(dir, 'ok.txt'), 'first');
    await writeFileAtomic(join(dir, 'ok.txt'), 'second');
    assert.equal(readFileSync(join(dir, 'ok.txt'), 'utf8'), 'second');
    assert.deepEqual(tmpFiles(dir), []);
  });
});
