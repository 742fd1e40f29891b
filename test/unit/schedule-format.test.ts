import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BacError } from '../../src/core/errors';
import {
  formatIssues,
  MAX_ISSUES,
  parseSchedule,
  serializeSchedule,
  type ScheduleIssue,
} from '../../src/core/schedule-format';
import { solveSchedule } from '../../src/core/solve';
import type { Schedule } from '../../src/core/types';
import { randomSchedule } from './helpers/random-schedule';
import { seededRandom, syntheticProfile } from './helpers/synthetic-profile';

// Parsed JSON documents are mutated freely in these tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const SHA = 'c'.repeat(64);

/** A solved schedule for an L-layer model with K steps (K = 100 gives the README's example). */
function solved(layers = 2, steps = 100, seed = 3): Schedule {
  const p = syntheticProfile({ layers, steps, seed });
  return solveSchedule(
    p,
    { budget: 10, topN: 2, forceLast: true, profile: { path: 'p.bacprofile', sha256: SHA } },
    p.model,
  );
}

/** Issues of a text that must not parse. */
function issues(text: string): readonly ScheduleIssue[] {
  const r = parseSchedule(text);
  assert.equal(r.ok, false, 'expected the text to be rejected');
  return r.ok ? [] : r.errors;
}

/** Parses the serialised JSON, lets `edit` mutate it, and re-stringifies (2-space). */
function edited(s: Schedule, edit: (doc: Json) => void): string {
  const doc = JSON.parse(serializeSchedule(s));
  edit(doc);
  return JSON.stringify(doc, null, 2);
}

/** Asserts that exactly one issue has `path` and its message contains every fragment. */
function assertIssue(list: readonly ScheduleIssue[], path: string, ...fragments: string[]): void {
  const hit = list.filter((i) => i.path === path);
  assert.ok(hit.length >= 1, `no issue at ${path}; got:\n${formatIssues('f', list)}`);
  for (const f of fragments) {
    assert.ok(
      hit.some((i) => i.message.includes(f)),
      `issue at ${path} lacks "${f}"; got:\n${formatIssues('f', list)}`,
    );
  }
}

describe('serializeSchedule', () => {
  it('writes the documented layout: fixed keys, one line per block, trailing newline', () => {
    const text = serializeSchedule(solved(2, 20));
    assert.ok(text.endsWith('}\n'));
    const lines = text.split('\n');
    assert.equal(lines[0], '{');
    assert.equal(lines[1], '  "format": "bacschedule",');
    assert.equal(lines[2], '  "version": 1,');
    const blockLines = lines.filter((l) => l.startsWith('    { "id": '));
    assert.equal(blockLines.length, 6);
    assert.match(
      blockLines[0]!,
      /^ {4}\{ "id": "0\.sa", "acs": \[0(, \d+)*\], "bua": \[[\d, ]*\], "manual": \[\], "manualOff": \[\], "flops": \d+, "timeUs": [\d.]+ \},$/,
    );
    assert.ok(blockLines[5]!.endsWith(' }'), 'the last block has no trailing comma');
    const doc = JSON.parse(text);
    assert.deepEqual(Object.keys(doc), ['format', 'version', 'model', 'sampler', 'solver', 'baseCost', 'blocks']);
    assert.doesNotMatch(text, /summary|speedup/, 'nothing derived is written');
  });

  it('round-trips solved schedules byte for byte', () => {
    for (const seed of [1, 2, 3]) {
      const s = solved(3, 100, seed);
      const text = serializeSchedule(s);
      const r = parseSchedule(text);
      assert.ok(r.ok, r.ok ? '' : formatIssues('s', r.errors));
      assert.deepEqual(r.schedule, s);
      assert.equal(serializeSchedule(r.schedule), text);
    }
  });

  it('round-trips 300 fuzzed valid schedules byte for byte (quotes, unicode, K = 1, null profile)', () => {
    for (let seed = 0; seed < 300; seed++) {
      const s = randomSchedule(seed);
      const text = serializeSchedule(s);
      const r = parseSchedule(text);
      assert.ok(r.ok, `seed ${seed}: ${r.ok ? '' : formatIssues('s', r.errors)}`);
      assert.deepEqual(r.schedule, s, `seed ${seed}`);
      assert.equal(serializeSchedule(r.schedule), text, `seed ${seed}`);
    }
  });

  it('refuses to write a schedule that would not parse back', () => {
    const s = solved(1, 10);
    const bad: Schedule = { ...s, blocks: s.blocks.map((b, i) => (i === 0 ? { ...b, acs: [...b.acs, 10] } : b)) };
    assert.throws(
      () => serializeSchedule(bad),
      (e: unknown) => e instanceof BacError && /blocks\[0\]\.acs\[\d+\]: step 10 is out of range/.test(e.message),
    );
  });
});

describe('parseSchedule: precise errors', () => {
  const base = solved(2, 100);

  it('names file, path, problem and expectation, e.g. a step out of range', () => {
    const text = edited(base, (d) => {
      d.blocks[3].acs[2] = 104;
    });
    const list = issues(text);
    assert.equal(list.length, 1, formatIssues('demo.bacschedule', list));
    assert.equal(
      formatIssues('demo.bacschedule', list),
      'demo.bacschedule: blocks[3].acs[2]: step 104 is out of range, expected an integer in 0…99',
    );
    // and locates it: line of block 3 is the 4th block line of the pretty-printed JSON
    const at = list[0]!;
    assert.ok(at.line !== undefined && at.column !== undefined);
    const lines = text.split('\n');
    assert.equal(lines[at.line - 1]!.slice(at.column - 1).startsWith('104'), true);
  });

  const cases: [string, (d: Json) => void, string, ...string[]][] = [
    ['unknown version', (d) => (d.version = 2), 'version', 'version 2 is not supported', 'expected 1'],
    ['version as a string', (d) => (d.version = '1'), 'version', '"1" is a string', 'expected 1'],
    [
      'other format',
      (d) => (d.format = 'bacprofile'),
      'format',
      '"bacprofile" is not a BAC schedule',
      'expected "bacschedule"',
    ],
    [
      'steps as a string',
      (d) => (d.sampler.steps = '100'),
      'sampler.steps',
      '"100" is a string',
      'expected an integer in 1…',
    ],
    ['K = 0', (d) => (d.sampler.steps = 0), 'sampler.steps', '0 is out of range'],
    [
      'budget above K',
      (d) => (d.solver.budget = 101),
      'solver.budget',
      '101 is out of range',
      'expected an integer in 1…100',
    ],
    ['negative top-n', (d) => (d.solver.topN = -1), 'solver.topN', 'expected an integer ≥ 0'],
    ['forceLast not boolean', (d) => (d.solver.forceLast = 'yes'), 'solver.forceLast', 'expected true or false'],
    ['bad sha256', (d) => (d.model.sha256 = 'ABC'), 'model.sha256', 'expected a lower-case hex sha256'],
    ['empty model path', (d) => (d.model.path = ''), 'model.path', 'expected a non-empty path'],
    ['profile of wrong type', (d) => (d.solver.profile = 'p.bacprofile'), 'solver.profile', 'is a string', 'or null'],
    ['missing key', (d) => delete d.sampler.type, 'sampler.type', 'is missing'],
    [
      'legacy summary of wrong type',
      (d) => (d.summary = { updates: 1, fullUpdates: 1, speedupFlops: 'fast', speedupTime: null }),
      'summary.speedupFlops',
      'expected a finite number ≥ 0 or null',
    ],
    [
      'legacy summary with a missing key',
      (d) => (d.summary = { updates: 1, fullUpdates: 1, speedupFlops: 1 }),
      'summary.speedupTime',
      'is missing',
    ],
    [
      'unknown root key',
      (d) => (d.comment = 'hi'),
      'comment',
      'unknown key "comment"',
      'expected only format, version',
    ],
    ['unknown block key', (d) => (d.blocks[1].steps = []), 'blocks[1].steps', 'unknown key "steps"'],
    [
      'negative flops',
      (d) => (d.blocks[0].flops = -5),
      'blocks[0].flops',
      '-5 is out of range',
      'expected an integer ≥ 0',
    ],
    ['fractional flops', (d) => (d.baseCost.flops = 1.5), 'baseCost.flops', '1.5 is not an integer'],
    ['negative time', (d) => (d.blocks[0].timeUs = -1), 'blocks[0].timeUs', 'expected a finite number ≥ 0'],
    ['steps not an array', (d) => (d.blocks[2].acs = 0), 'blocks[2].acs', 'expected an array of steps'],
    [
      'non-integer step',
      (d) => (d.blocks[2].acs[1] = 1.5),
      'blocks[2].acs[1]',
      '1.5 is not an integer',
      'expected a step',
    ],
    ['string step', (d) => (d.blocks[2].acs[1] = '3'), 'blocks[2].acs[1]', '"3" is a string'],
    ['negative step', (d) => (d.blocks[2].bua = [-1]), 'blocks[2].bua[0]', 'step -1 is out of range'],
    [
      'unsorted steps',
      (d) => (d.blocks[4].acs = [0, 30, 20, 99]),
      'blocks[4].acs[2]',
      'step 20 comes after 30',
      'expected steps in increasing order',
    ],
    ['duplicate steps', (d) => (d.blocks[4].acs = [0, 20, 20, 99]), 'blocks[4].acs[2]', 'step 20 is repeated'],
    [
      'step under two origins',
      (d) => ((d.blocks[5].acs = [0, 50]), (d.blocks[5].bua = []), (d.blocks[5].manual = [50])),
      'blocks[5].manual[0]',
      'step 50 is also in acs',
      'expected each update under one origin',
    ],
    [
      'step 0 missing',
      (d) => ((d.blocks[0].acs = [5, 99]), (d.blocks[0].bua = []), (d.blocks[0].manual = [])),
      'blocks[0]',
      'step 0 is not an update',
    ],
    [
      'step 0 switched off',
      (d) => (d.blocks[0].manualOff = [0]),
      'blocks[0].manualOff[0]',
      'step 0 cannot be switched off',
    ],
    [
      'manualOff overlapping an update',
      (d) => (d.blocks[1].manualOff = [99]),
      'blocks[1].manualOff[0]',
      'step 99 is also an update (in acs)',
      'expected manualOff disjoint',
    ],
    [
      'malformed block id',
      (d) => (d.blocks[1].id = 'layer0.ca'),
      'blocks[1].id',
      '"layer0.ca" is a string',
      'expected a block id',
    ],
    ['unknown block kind', (d) => (d.blocks[1].id = '0.mlp'), 'blocks[1].id', 'expected a block id'],
    [
      'missing block',
      (d) => d.blocks.splice(4, 1),
      'blocks',
      'block "1.ca" is missing',
      'expected sa, ca and ffn for every layer 0…1',
    ],
    ['missing layer', (d) => d.blocks.splice(0, 3), 'blocks', 'block "0.sa" is missing'],
    ['duplicate block', (d) => (d.blocks[4].id = '1.sa'), 'blocks[4].id', 'duplicate block "1.sa" (also blocks[3])'],
    [
      'blocks out of model order',
      (d) => ([d.blocks[0], d.blocks[1]] = [d.blocks[1], d.blocks[0]]),
      'blocks[1].id',
      '"0.sa" comes after "0.ca"',
      'expected model order',
    ],
    ['no blocks', (d) => (d.blocks = []), 'blocks', 'is empty'],
    ['blocks not an array', (d) => (d.blocks = {}), 'blocks', 'is an object', 'expected an array of blocks'],
    ['block not an object', (d) => (d.blocks[0] = [0]), 'blocks[0]', 'is an array', 'expected a block'],
  ];
  for (const [name, edit, path, ...fragments] of cases) {
    it(`rejects ${name} at ${path || '(root)'}`, () => assertIssue(issues(edited(base, edit)), path, ...fragments));
  }

  it('reads a legacy summary without trusting it, and the next save drops it', () => {
    const text = edited(base, (d) => {
      const { blocks, ...head } = d;
      for (const k of Object.keys(d)) delete d[k];
      Object.assign(
        d,
        head,
        { summary: { updates: 1, fullUpdates: 2, speedupFlops: 9.5, speedupTime: null } },
        { blocks },
      );
    });
    assert.match(text, /"summary"/);
    const r = parseSchedule(text);
    assert.ok(r.ok, r.ok ? '' : formatIssues('s', r.errors));
    assert.equal(serializeSchedule(r.schedule), serializeSchedule(base));
  });

  it('rejects duplicate JSON keys (JSON.parse would silently keep the last)', () => {
    const text = serializeSchedule(base).replace('"version": 1,', '"version": 1,\n  "version": 1,');
    assertIssue(issues(text), 'version', 'duplicate key');
  });

  it('collects every error, not only the first', () => {
    const list = issues(
      edited(base, (d) => {
        d.sampler.type = 7;
        d.blocks[0].acs[1] = 500;
        d.blocks[5].manualOff = [0];
        d.extra = true;
      }),
    );
    for (const p of ['sampler.type', 'blocks[0].acs[1]', 'blocks[5].manualOff[0]', 'extra']) assertIssue(list, p);
  });

  it(`caps the report at ${MAX_ISSUES} issues plus a note`, () => {
    const list = issues(
      edited(base, (d) => d.blocks.forEach((b: Json) => (b.acs = b.acs.map((s: number) => s + 1000)))),
    );
    assert.equal(list.length, MAX_ISSUES + 1);
    assert.match(list[MAX_ISSUES]!.message, /more issue\(s\) not shown/);
  });

  it('reports invalid JSON with line:column', () => {
    const list = issues('{\n  "format": "bacschedule",\n  "version": 1,,\n}');
    assert.equal(list.length, 1);
    assert.equal(list[0]!.line, 3);
    assert.equal(list[0]!.column, 16);
    assert.equal(
      formatIssues('x.bacschedule', list),
      `x.bacschedule: invalid JSON at line 3, column 16: unexpected character ",", expected a key in double quotes`,
    );
  });

  it('never throws on odd whole-document inputs', () => {
    const deep = '['.repeat(100_000);
    for (const text of [
      '',
      ' ',
      'null',
      '[]',
      '"bacschedule"',
      '{}',
      '{"__proto__": {}}',
      deep,
      '1e999',
      '\uFEFF{}',
      '{"format":"bacschedule","version":1e400}',
    ]) {
      const list = issues(text);
      assert.ok(
        list.length > 0 && list.every((i) => typeof i.message === 'string' && i.message.length > 0),
        text.slice(0, 20),
      );
    }
  });
});

describe('parseSchedule: fuzzing', () => {
  const text = serializeSchedule(solved(2, 30));

  it('rejects the schedule truncated at every position, with a line:column', () => {
    // Cutting only the final newline leaves a complete document.
    for (let n = 0; n < text.length - 1; n++) {
      const r = parseSchedule(text.slice(0, n));
      assert.equal(r.ok, false, `prefix of ${n} chars`);
      if (!r.ok) {
        assert.equal(r.errors.length, 1);
        assert.match(r.errors[0]!.message, /^invalid JSON at line \d+, column \d+: /);
        assert.ok(r.errors[0]!.line! >= 1);
      }
    }
    assert.ok(parseSchedule(text.slice(0, -1)).ok);
  });

  it('reports a wrong type at every field, at that field', () => {
    const doc = JSON.parse(text);
    const nullable = new Set(['solver.profile']);
    const paths: { path: string; get: () => unknown; set: (v: unknown) => void }[] = [];
    const walk = (v: Json, path: string, set: (x: unknown) => void) => {
      paths.push({ path, get: () => v, set });
      if (v && typeof v === 'object') {
        for (const k of Object.keys(v)) {
          walk(v[k], Array.isArray(v) ? `${path}[${k}]` : path ? `${path}.${k}` : k, (x) => (v[k] = x));
        }
      }
    };
    for (const k of Object.keys(doc)) walk(doc[k], k, (x) => (doc[k] = x));
    let checked = 0;
    for (const p of paths) {
      const original = p.get();
      for (const wrong of [null, 'x', true, [], {}, -1.5]) {
        if (typeof wrong === typeof original && Array.isArray(wrong) === Array.isArray(original)) continue;
        if (wrong === null && nullable.has(p.path)) continue;
        p.set(wrong);
        const r = parseSchedule(JSON.stringify(doc, null, 2));
        p.set(original);
        assert.equal(r.ok, false, `${p.path} = ${JSON.stringify(wrong)} accepted`);
        if (!r.ok) {
          assert.ok(
            r.errors.some((i) => i.path === p.path),
            `${p.path} = ${JSON.stringify(wrong)}: ${formatIssues('f', r.errors)}`,
          );
        }
        checked++;
      }
    }
    assert.ok(checked > 500, `${checked} mutations`);
  });

  it('never throws on 3000 random edits of a real schedule', () => {
    const rand = seededRandom(42);
    const alphabet = '{}[],:"0123456789.-eE \n\\uatfnlrs';
    for (let trial = 0; trial < 3000; trial++) {
      const chars = [...text];
      for (let e = 0, n = 1 + Math.floor(rand() * 4); e < n; e++) {
        const at = Math.floor(rand() * chars.length);
        const op = rand();
        const ch = alphabet[Math.floor(rand() * alphabet.length)]!;
        if (op < 0.33) chars.splice(at, 1);
        else if (op < 0.66) chars.splice(at, 0, ch);
        else chars[at] = ch;
      }
      const r = parseSchedule(chars.join(''));
      if (!r.ok) {
        assert.ok(r.errors.length > 0 && r.errors.length <= MAX_ISSUES + 1);
        assert.ok(r.errors.every((i) => i.message.length > 0));
        formatIssues('fuzz.bacschedule', r.errors);
      }
    }
  });
});
