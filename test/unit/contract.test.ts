import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LIMITS, validateDocument } from '../../src/core/contract';
import { checkValue } from '../../src/core/json-schema';
import { IssueCollector, isIntegerLiteral, NumberLiterals, parseJson } from '../../src/core/json-validate';
import { formatIssues, parseSchedule, serializeSchedule } from '../../src/core/schedule-format';
import { solveSchedule } from '../../src/core/solve';
import { syntheticProfile } from './helpers/synthetic-profile';

// Parsed JSON documents are mutated freely in these tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const root = join(__dirname, '..', '..');
const rules = JSON.parse(readFileSync(join(root, 'schemas', 'bac-rules.json'), 'utf8'));

const profile = syntheticProfile({ layers: 2, steps: 10, seed: 3 });
const base = serializeSchedule(
  solveSchedule(profile, { budget: 3, topN: 1, forceLast: true, profile: null }, profile.model),
);
const edited = (edit: (d: Json) => void): string => {
  const d = JSON.parse(base);
  edit(d);
  return JSON.stringify(d, null, 2);
};
const issuesOf = (text: string): string => {
  const r = parseSchedule(text);
  assert.equal(r.ok, false, 'expected the text to be rejected');
  return r.ok ? '' : formatIssues('s', r.errors);
};

/**
 * One violating edit per rule of `schemas/bac-rules.json` and the issue it must produce. Adding a
 * rule to the table without a case here fails the coverage test below.
 */
const SCHEDULE_RULE_CASES: Record<string, [(d: Json) => void, RegExp]> = {
  'budget-at-most-K': [
    (d) => (d.solver.budget = 11),
    /solver\.budget: 11 is out of range, expected an integer in 1…10/,
  ],
  'steps-below-K': [(d) => d.blocks[0].acs.push(10), /blocks\[0\]\.acs\[\d+\]: step 10 is out of range.*0…9/],
  'steps-increasing': [(d) => (d.blocks[0].manual = [8, 7]), /blocks\[0\]\.manual\[1\]: step 7 comes after 8/],
  'origins-disjoint': [
    (d) => (d.blocks[1].manual = [d.blocks[1].acs[1]]),
    /blocks\[1\]\.manual\[0\]: step \d+ is also in acs/,
  ],
  'step-0-updates': [
    (d) => ((d.blocks[2].acs = d.blocks[2].acs.slice(1)), (d.blocks[2].bua = []), (d.blocks[2].manual = [])),
    /blocks\[2\]: step 0 is not an update/,
  ],
  'manual-off-never-0': [
    (d) => (d.blocks[0].manualOff = [0]),
    /blocks\[0\]\.manualOff\[0\]: step 0 cannot be switched off/,
  ],
  'manual-off-not-an-update': [
    (d) => (d.blocks[0].manualOff = [d.blocks[0].acs[1]]),
    /blocks\[0\]\.manualOff\[0\]: step \d+ is also an update \(in acs\)/,
  ],
  'blocks-in-model-order': [
    (d) => ([d.blocks[0], d.blocks[1]] = [d.blocks[1], d.blocks[0]]),
    /blocks\[1\]\.id: "0\.sa" comes after "0\.ca"/,
  ],
};

describe('the contract (schemas + bac-rules.json)', () => {
  it('has a test case for every schedule rule, and each case is rejected as the rule says', () => {
    const ids = rules.schedule.rules.map((r: { id: string }) => r.id).sort();
    assert.deepEqual(Object.keys(SCHEDULE_RULE_CASES).sort(), ids);
    for (const [id, [edit, re]] of Object.entries(SCHEDULE_RULE_CASES)) assert.match(issuesOf(edited(edit)), re, id);
  });

  it('the contract files themselves have no duplicate keys (JSON.parse would hide them)', () => {
    for (const f of ['bac-rules.json', 'bacschedule.schema.json', 'bacprofile-header.schema.json']) {
      const r = parseJson(readFileSync(join(root, 'schemas', f), 'utf8'));
      assert.ok(r.ok && r.duplicates.length === 0, f);
    }
  });

  it('the rule-free document is accepted (the cases above differ from it by one edit)', () => {
    assert.ok(parseSchedule(base).ok);
  });

  it('refuses a schema keyword it does not implement instead of ignoring it', () => {
    const walk = { root: {}, issues: new IssueCollector(5), literals: new NumberLiterals() };
    assert.throws(
      () =>
        checkValue(walk, { type: 'string', maxLength: 3 }, 'x', {
          container: undefined,
          key: '',
          path: '',
          pattern: '',
        }),
      /unsupported schema keyword maxLength/,
    );
  });

  it('reads numbers as written (#12 defect 9)', () => {
    for (const [literal, integer] of [
      ['99.99999999999999999', false],
      ['1e-400', false],
      ['3.0000000000000001', false],
      ['2.5', false],
      ['6e0', true],
      ['0.0', true],
      ['1200e-2', true],
      ['1.5e1', true],
      ['-0', true],
    ] as const) {
      assert.equal(isIntegerLiteral(literal), integer, literal);
    }
    const spelled = (path: string, from: string, to: string): string => {
      const t = base.replace(from, to);
      assert.notEqual(t, base, `${path}: the edit applies`);
      return t;
    };
    assert.match(
      issuesOf(spelled('steps', '"steps": 10', '"steps": 99.99999999999999999')),
      /sampler\.steps: 99\.99999999999999999 is not an integer/,
    );
    assert.match(
      issuesOf(spelled('flops', /"flops": \d+/.exec(base)![0], '"flops": 1e-400')),
      /baseCost\.flops: 1e-400 is not an integer/,
    );
    const step = JSON.parse(base).blocks[0].acs[1];
    assert.match(
      issuesOf(spelled('step', `"acs": [0, ${step}`, `"acs": [0, ${step}.0000000000000001`)),
      /blocks\[0\]\.acs\[1\]: \d+\.0000000000000001 is not an integer/,
    );
    // exact spellings of integers stay valid (files written by other tools)
    assert.ok(parseSchedule(base.replace('"steps": 10', '"steps": 1e1')).ok);
    assert.ok(parseSchedule(base.replace(`"acs": [0, ${step}`, `"acs": [0.0, ${step}e0`)).ok);
  });

  it('bounds the work on huge or repetitive files (#12 defect 12)', () => {
    const d = JSON.parse(base);
    const line = JSON.stringify(d.blocks[0]);
    // 20 000 copies of one block: refused with one issue, before the per-block walk.
    const copies = base.replace(/"blocks": \[[\s\S]*\]\n\}/, `"blocks": [${Array(20_000).fill(line).join(',')}]}`);
    const r = parseSchedule(copies);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.errors.length, 1, formatIssues('s', r.errors));
      assert.match(
        r.errors[0]!.message,
        /19999 of the 20000 blocks repeat an earlier block's id \(first: "0\.sa" at blocks\[1\]\.id\)/,
      );
    }
    // a text over the size limit is refused before parsing
    const huge = ' '.repeat(LIMITS.maxScheduleBytes + 1);
    assert.match(issuesOf(huge), /is 16 MB, expected at most 16 MB/);
  });

  it('the profile-header contract reuses the schedule definitions and its own rules', () => {
    const c = new IssueCollector(10);
    const parsed = parseJson('{"model": {"path": "", "sha256": "x"}}');
    assert.ok(parsed.ok);
    validateDocument('profileHeader', parsed.value, parsed.literals, c, 'header');
    const paths = c.issues.map((i) => i.path);
    assert.ok(paths.includes('header.model.path') && paths.includes('header.model.sha256'), paths.join(' '));
    assert.ok(paths.includes('header.sampler'), paths.join(' '));
  });
});
