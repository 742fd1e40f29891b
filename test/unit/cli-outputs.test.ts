/**
 * Issue #12's output and model defects at the CLI level, each in a temporary folder: an output is
 * never one of the command's inputs, an unwritable --out is one clear user error found before any
 * long work, a model ONNX Runtime rejects is a user error naming it, messages quote bounded input,
 * a legal 252-character name works, an over-long profile header is named as such, and `compile`
 * never writes a model ONNX Runtime refuses.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_HEADER_BYTES, PROFILE_MAGIC, PROFILE_VERSION } from '../../src/core/profile-format';
import { decodeModel, encodeModel, type GraphProto } from '../../src/engine/onnx/proto';
import { bac, bacInDir, compileFixture, repo, tmpFiles, TINY_MODEL } from './helpers/cli-run';

const SMALL_DPT = join(repo, 'test', 'fixtures', 'engine', 'small-dpt.onnx');
const EPISODES = join(repo, 'fixtures', 'demo', 'episodes', 'heldout.hdf5');

/** `model` with node `reader`'s first input replaced by node `source`'s first output (or a dangling name). */
function rewired(model: string, pick: (g: GraphProto) => { reader: number; input: string }): Uint8Array {
  const m = decodeModel(readFileSync(model));
  const g = m.graph as GraphProto;
  const { reader, input } = pick(g);
  const node = g.node[reader]!;
  g.node[reader] = { ...node, input: [input, ...node.input.slice(1)] };
  return encodeModel(m);
}

/** The first Add/Mul past node 20 whose inputs are all computed, and the node consuming it. */
function computedAdd(g: GraphProto): { reader: number; consumer: number } {
  const inits = new Set(g.initializer.map((t) => t.name));
  const reader = g.node.findIndex(
    (n, i) => i > 20 && (n.opType === 'Add' || n.opType === 'Mul') && n.input.every((x) => !inits.has(x)),
  );
  const consumer = g.node.findIndex((n, i) => i > reader && n.input.includes(g.node[reader]!.output[0]!));
  return { reader, consumer };
}

/** A graph cycle: an Add reads the output of the node that consumes its own output. */
const cycle = (g: GraphProto) => {
  const { reader, consumer } = computedAdd(g);
  return { reader, input: g.node[consumer]!.output[0]! };
};
/** A node input nobody produces (ONNX Runtime refuses the model at load). */
const dangling = (g: GraphProto) => ({ reader: computedAdd(g).reader, input: 'bac_test_nobody_makes_this' });
/**
 * small-dpt's node 0 (Identity of a [1, 10, 3] constant) reads node 1's [1, 10, 10] constant: the
 * model loads, but an Add fails to broadcast when ONNX Runtime runs it.
 */
const wrongShape = (g: GraphProto) => {
  assert.deepEqual([g.node[0]!.opType, g.node[1]!.opType], ['Identity', 'Identity']);
  return { reader: 0, input: g.node[1]!.input[0]! };
};

/** One line, no stack trace, user-error exit. */
function assertUserError(r: { code: number | null; stderr: string }, re: RegExp, what: string): void {
  assert.equal(r.code, 1, `${what}: ${r.stderr}`);
  assert.match(r.stderr, re, what);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, what);
}

describe('bac outputs and models (issue #12)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bac-cli-outputs-'));
    compileFixture(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('1: compile refuses an --out that is its own model or schedule, by file identity, and changes neither', async () => {
    const model = readFileSync(join(dir, 'tiny.onnx'));
    linkSync(join(dir, 'tiny.onnx'), join(dir, 'hardlink.onnx'));
    symlinkSync(join(dir, 'tiny.onnx'), join(dir, 'symlink.onnx'));
    for (const out of ['tiny.onnx', './tiny.onnx', join(dir, 'tiny.onnx'), 'hardlink.onnx', 'symlink.onnx']) {
      const r = await bacInDir(dir, ['compile', 'schedule.bacschedule', '--out', out]);
      assertUserError(r, /is the model this command reads/, out);
      assert.deepEqual(readFileSync(join(dir, 'tiny.onnx')), model, out);
    }
    writeFileSync(join(dir, 's.onnx'), readFileSync(join(dir, 'schedule.bacschedule')));
    const r = await bacInDir(dir, ['compile', 's.onnx', '--out', 's.onnx']);
    assertUserError(r, /is the schedule this command reads/, 's.onnx');
    assert.deepEqual(tmpFiles(dir), []);
  });

  it('1: profile refuses an --out that is its --model or --episodes, before profiling', async () => {
    const sub = mkdtempSync(join(dir, 'p-'));
    writeFileSync(join(sub, 'm.bacprofile'), readFileSync(SMALL_DPT));
    symlinkSync(EPISODES, join(sub, 'e.bacprofile'));
    const cases: [string[], RegExp][] = [
      [['--model', 'm.bacprofile', '--episodes', EPISODES, '--out', './m.bacprofile'], /is the model/],
      [['--model', SMALL_DPT, '--episodes', 'e.bacprofile', '--out', EPISODES.replace(/hdf5$/, 'x')], /end in/],
      [['--model', SMALL_DPT, '--episodes', 'e.bacprofile', '--out', 'e.bacprofile'], /is the episodes/],
    ];
    for (const [args, re] of cases) {
      const r = await bacInDir(sub, ['profile', '--samples', '1', ...args]);
      assertUserError(r, re, args.join(' '));
      assert.doesNotMatch(r.stderr, /observation windows/, 'refused before profiling');
    }
    assert.deepEqual(readFileSync(join(sub, 'm.bacprofile')), readFileSync(SMALL_DPT));
  });

  /** Unwritable outputs: [what, path relative to dir, expected message]. */
  const unwritable = (ext: string): [string, string, RegExp][] => {
    const cases: [string, string, RegExp][] = [
      ['a missing directory', `nodir/x${ext}`, /cannot write it: no such file or directory/],
      ['a directory', `adir${ext}`, /cannot write it: is a directory/],
      ['a path under a file', `tiny.onnx/x${ext}`, /cannot write it: a parent is not a directory/],
      ['an over-long name', `${'n'.repeat(300)}${ext}`, /cannot write it: the name is too long/],
    ];
    // root writes into any directory; sysfs refuses new files even to root
    if (process.getuid?.() === 0) {
      if (existsSync('/sys/kernel')) cases.push(['a read-only directory', `/sys/kernel/x${ext}`, /permission denied/]);
    } else cases.push(['a read-only directory', `ro/x${ext}`, /permission denied/]);
    return cases;
  };

  it('2: compile reports an unwritable --out as one user error and leaves nothing', async () => {
    mkdirSync(join(dir, 'adir.onnx'), { recursive: true });
    mkdirSync(join(dir, 'ro'), { recursive: true, mode: 0o500 });
    for (const [what, out, re] of unwritable('.onnx')) {
      const r = await bacInDir(dir, ['compile', 'schedule.bacschedule', '--out', out]);
      assertUserError(r, re, what);
      assert.ok(r.stderr.length < 1000, what);
    }
    assert.deepEqual(tmpFiles(dir), []);
  });

  it('2: profile reports an unwritable --out before profiling', async () => {
    mkdirSync(join(dir, 'adir.bacprofile'), { recursive: true });
    mkdirSync(join(dir, 'ro'), { recursive: true, mode: 0o500 });
    for (const [what, out, re] of unwritable('.bacprofile')) {
      const r = await bacInDir(dir, ['profile', '--model', SMALL_DPT, '--episodes', EPISODES, '--out', out]);
      assertUserError(r, re, what);
      assert.doesNotMatch(r.stderr, /observation windows/, `${what}: refused before profiling`);
    }
    assert.deepEqual(tmpFiles(dir), []);
  });

  it('3: a model ONNX Runtime fails to run is a user error naming the model (profile spawned, eval)', async () => {
    const sub = mkdtempSync(join(dir, 'rt-'));
    writeFileSync(join(sub, 'broken.onnx'), rewired(SMALL_DPT, wrongShape));
    const oneSampleOnCpu = ['--episodes', EPISODES, '--samples', '1', '--ep', 'cpu'];
    const r = bac(sub, 'profile', '--model', 'broken.onnx', ...oneSampleOnCpu, '--out', 'b.bacprofile');
    assertUserError(r, /broken\.onnx: ONNX Runtime failed running the model/, 'runtime failure');
    compileFixture(sub, join(sub, 'broken.onnx'), 'broken.onnx');
    const e = await bacInDir(sub, ['eval', 'schedule.bacschedule', ...oneSampleOnCpu]);
    // eval fixes the batch axis to 1 first, so ORT's shape inference already refuses it at load
    assertUserError(e, /broken\.onnx: ONNX Runtime (failed running|cannot load) the model/, 'eval');
    assert.deepEqual(tmpFiles(sub), []);
    assert.equal(existsSync(join(sub, 'b.bacprofile')), false);
  });

  it('3: a model with a graph cycle is a user error naming the model (compile and profile)', async () => {
    const sub = mkdtempSync(join(dir, 'cyc-'));
    writeFileSync(join(sub, 'cycle.onnx'), rewired(TINY_MODEL, cycle));
    compileFixture(sub, join(sub, 'cycle.onnx'), 'cycle.onnx');
    const c = await bacInDir(sub, ['compile', 'schedule.bacschedule', '--out', 'c.onnx']);
    assertUserError(c, /cycle\.onnx: .*cycle/, 'compile');
    writeFileSync(join(sub, 'cycle-dpt.onnx'), rewired(SMALL_DPT, cycle));
    const p = await bacInDir(sub, [
      'profile',
      '--model',
      'cycle-dpt.onnx',
      '--episodes',
      EPISODES,
      '--samples',
      '1',
      '--out',
      'c.bacprofile',
    ]);
    assertUserError(p, /cycle-dpt\.onnx: ONNX Runtime cannot load the model/, 'profile');
    assert.deepEqual(tmpFiles(sub), []);
  });

  it('5: messages quote at most a bounded part of the input, on stderr and under --json', async () => {
    const doc = JSON.parse(readFileSync(join(dir, 'schedule.bacschedule'), 'utf8'));
    const huge = 'x'.repeat(10_000_000);
    const cases = {
      'format.bacschedule': { ...doc, format: huge },
      'key.bacschedule': { ...doc, [huge]: 1 },
      'many.bacschedule': {
        ...doc,
        blocks: doc.blocks.map((b: object) => ({ ...b, [huge.slice(0, 5000)]: 1, acs: [huge.slice(0, 300)] })),
      },
    };
    for (const [file, content] of Object.entries(cases)) {
      writeFileSync(join(dir, file), JSON.stringify(content));
      const r = await bacInDir(dir, ['info', file]);
      assert.equal(r.code, 1, file);
      assert.ok(r.stderr.length <= 4096, `${file}: ${r.stderr.length} bytes of stderr`);
      assert.match(r.stderr, new RegExp(`^bac: ${file.replace('.', '\\.')}: `));
      assert.match(r.stderr, /x{20}…/, `${file}: the quote is shortened visibly`);
      const j = await bacInDir(dir, ['info', file, '--json']);
      assert.equal(j.code, 1);
      assert.ok(j.stdout.length <= 8192, `${file}: ${j.stdout.length} bytes of --json`);
      assert.ok(j.stderr.length <= 4096);
      const parsed = JSON.parse(j.stdout);
      assert.equal(parsed.ok, false);
      assert.ok(parsed.error.message.length <= 4096);
    }
  });

  it('8: a legal 252-character output name works (compile)', async () => {
    const out = `${'a'.repeat(247)}.onnx`;
    assert.equal(out.length, 252);
    const r = await bacInDir(dir, ['compile', 'schedule.bacschedule', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(dir, out)));
    assert.deepEqual(tmpFiles(dir), []);
    const multibyte = `${'é'.repeat(120)}.onnx`; // 245 bytes in UTF-8: the temp name must count bytes
    const m = await bacInDir(dir, ['compile', 'schedule.bacschedule', '--out', multibyte]);
    assert.equal(m.code, 0, m.stderr);
    assert.deepEqual(tmpFiles(dir), []);
  });

  it('10: a complete profile whose header is over the limit is named as such, not as truncated', async () => {
    const length = MAX_HEADER_BYTES + 1;
    const bytes = new Uint8Array(16 + length + 3);
    bytes.set(PROFILE_MAGIC, 0);
    const view = new DataView(bytes.buffer);
    view.setUint32(8, PROFILE_VERSION, true);
    view.setUint32(12, length, true);
    bytes.fill(0x20, 16, 16 + length);
    writeFileSync(join(dir, 'big.bacprofile'), bytes);
    const r = await bacInDir(dir, ['info', 'big.bacprofile']);
    assertUserError(r, /header length 16777217 is over the limit of 16777216 bytes \(16 MiB\)/, 'big header');
    assert.doesNotMatch(r.stderr, /truncated/);
  });

  it('11: compile refuses a model ONNX Runtime cannot load and writes nothing', async () => {
    const sub = mkdtempSync(join(dir, 'dangling-'));
    writeFileSync(join(sub, 'd.onnx'), rewired(TINY_MODEL, dangling));
    compileFixture(sub, join(sub, 'd.onnx'), 'd.onnx');
    const r = await bacInDir(sub, ['compile', 'schedule.bacschedule', '--out', 'out.onnx']);
    assertUserError(r, /ONNX Runtime cannot load/, 'dangling input');
    assert.equal(existsSync(join(sub, 'out.onnx')), false);
    assert.deepEqual(tmpFiles(sub), []);
  });
});
