import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanScheduleReferences } from '../../src/core/codelens-scan';

const paths = (text: string, bareValues = false): string[] =>
  scanScheduleReferences(text, { bareValues }).map((r) => r.path);

describe('scanScheduleReferences', () => {
  it('finds Python literals, with prefixes, and reports line and column', () => {
    const text = [
      'import bac',
      'runner = bac.load("models/policy.bacschedule")',
      "other = r'C:\\runs\\a.bacschedule'",
      'x = f"{name}.bacschedule"  # interpolated: not a file',
    ].join('\n');
    const refs = scanScheduleReferences(text);
    assert.deepEqual(
      refs.map((r) => [r.line, r.column, r.length, r.path]),
      [
        [1, 19, 25, 'models/policy.bacschedule'],
        [2, 10, 21, 'C:\\runs\\a.bacschedule'],
      ],
    );
  });

  it('resolves escapes in non-raw literals', () => {
    assert.deepEqual(paths('p = "C:\\\\runs\\\\b.bacschedule"'), ['C:\\runs\\b.bacschedule']);
  });

  it('finds TS/JS literals in all three quote kinds but not template interpolations', () => {
    const text = [
      "import s from './s.bacschedule';",
      'const a = "a.bacschedule", b = `b.bacschedule`;',
      'const c = `${dir}/c.bacschedule`;',
    ].join('\n');
    assert.deepEqual(paths(text), ['./s.bacschedule', 'a.bacschedule', 'b.bacschedule']);
  });

  it('finds C++ ordinary and raw literals', () => {
    const text = [
      'auto s = bac::load("policy.bacschedule");',
      'auto r = R"(dir/raw.bacschedule)";',
      'auto q = R"x(d/q.bacschedule)x";',
    ].join('\n');
    assert.deepEqual(paths(text), ['policy.bacschedule', 'dir/raw.bacschedule', 'd/q.bacschedule']);
  });

  it('finds YAML quoted, bare and list values, and ignores comments after them', () => {
    const text = [
      'policy:',
      '  schedule: models/p.bacschedule  # solved with budget 10',
      "  other: 'q.bacschedule'",
      '  list:',
      '    - r.bacschedule',
      '  inline: [s.bacschedule, t.bacschedule]',
    ].join('\n');
    assert.deepEqual(paths(text, true), [
      'models/p.bacschedule',
      'q.bacschedule',
      'r.bacschedule',
      's.bacschedule',
      't.bacschedule',
    ]);
    // Without bare values (code languages) only the quoted one counts.
    assert.deepEqual(paths(text), ['q.bacschedule']);
  });

  it('does not take attribute access in code for a path', () => {
    assert.deepEqual(paths('x = self.bacschedule'), []);
    assert.deepEqual(paths('x = self.bacschedule', true), ['self.bacschedule']);
  });

  it('finds JSON values (keys and values are both strings; only paths count)', () => {
    const text = '{\n  "schedule": "runs/policy.bacschedule",\n  "ext": ".bacschedule"\n}';
    assert.deepEqual(paths(text), ['runs/policy.bacschedule']);
  });

  it('ignores globs, URLs, longer extensions and strings that merely contain the name', () => {
    const text = [
      'glob = "**/*.bacschedule"',
      'url = "https://example.com/a.bacschedule"',
      'bak = "a.bacschedule.bak"',
      'msg = "see a.bacschedule for details"',
      'x = ".bacschedule"',
    ].join('\n');
    assert.deepEqual(paths(text), []);
    assert.deepEqual(paths(text, true), []);
  });

  it('finds several literals on one line, in column order, without duplicates', () => {
    const refs = scanScheduleReferences('pick("a.bacschedule", "b.bacschedule")');
    assert.deepEqual(
      refs.map((r) => r.path),
      ['a.bacschedule', 'b.bacschedule'],
    );
    assert.ok(refs[0]!.column < refs[1]!.column);
  });

  it('handles CRLF text and skips overlong lines', () => {
    assert.deepEqual(paths('a = 1\r\nb = "x.bacschedule"\r\n'), ['x.bacschedule']);
    assert.deepEqual(paths(`"${'a'.repeat(5000)}.bacschedule"`), []);
  });
});
