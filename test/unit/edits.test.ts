import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyTextEdits, invertTextEdits, minimalLineEdits, withEol, type TextEdit } from '../../src/core/edits';

const minimalLineEdit = (a: string, b: string): TextEdit[] | null => {
  const e = minimalLineEdits(a, b);
  return e.length === 0 ? null : e;
};
import { serializeSchedule, parseSchedule } from '../../src/core/schedule-format';
import { toggleStep, resolveWithControls } from '../../src/core/schedule-edit';
import { solveSchedule } from '../../src/core/solve';
import { seededRandom } from './helpers/rng';
import { tinyProfile } from './helpers/tiny-profile';

const model = { path: 'model.onnx', sha256: 'a'.repeat(64) };
const profileRef = { path: 'model.bacprofile', sha256: 'b'.repeat(64) };

/** Random line-oriented text from a small alphabet, so neighbouring versions share many lines. */
function randomText(rand: () => number, maxLines: number): string {
  const words = ['a', 'b', 'c', '', '  x', '{', '}'];
  const n = Math.floor(rand() * maxLines);
  const lines = Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]!);
  const eol = rand() < 0.2 ? '\r\n' : '\n';
  return lines.join(eol) + (rand() < 0.5 ? eol : '');
}

/** Mutates a text by line: replace, insert or delete a few lines. */
function mutate(rand: () => number, text: string): string {
  const lines = text.split('\n');
  const ops = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < ops; i++) {
    const at = Math.floor(rand() * (lines.length + 1));
    const r = rand();
    if (r < 0.4) lines.splice(at, 0, `new${Math.floor(rand() * 5)}`);
    else if (r < 0.7) lines.splice(at, 1);
    else lines[Math.min(at, lines.length - 1)] = `changed${Math.floor(rand() * 5)}`;
  }
  return lines.join('\n');
}

describe('minimalLineEdits', () => {
  it('returns null for equal texts', () => {
    assert.equal(minimalLineEdit('a\nb\n', 'a\nb\n'), null);
    assert.equal(minimalLineEdit('', ''), null);
  });

  it('replaces only the changed lines, as separate runs when the line count is kept', () => {
    assert.deepEqual(minimalLineEdit('a\nb\nc\n', 'a\nB\nc\n'), [{ start: 2, end: 4, text: 'B\n' }]);
    assert.deepEqual(minimalLineEdit('a\nb\nc\nd\ne\n', 'a\nB\nc\nD\ne\n'), [
      { start: 2, end: 4, text: 'B\n' },
      { start: 6, end: 8, text: 'D\n' },
    ]);
  });

  it('handles insertions, deletions, and a missing final newline', () => {
    assert.deepEqual(minimalLineEdit('a\nc\n', 'a\nb\nc\n'), [{ start: 2, end: 2, text: 'b\n' }]);
    assert.deepEqual(minimalLineEdit('a\nb\nc\n', 'a\nc\n'), [{ start: 2, end: 4, text: '' }]);
    assert.deepEqual(minimalLineEdit('a\nb', 'a\nb\n'), [{ start: 2, end: 3, text: 'b\n' }]);
  });

  it('applies to the new text and undoes to the old text byte for byte (random texts)', () => {
    const rand = seededRandom(7);
    for (let trial = 0; trial < 3000; trial++) {
      const before = randomText(rand, 12);
      const after = rand() < 0.3 ? randomText(rand, 12) : mutate(rand, before);
      const edits = minimalLineEdits(before, after);
      if (edits.length === 0) {
        assert.equal(before, after);
        continue;
      }
      let prevEnd = -1;
      for (const e of edits) {
        // Whole lines only: edits start at a line start and end at a line start or the text end.
        assert.ok(e.start === 0 || before[e.start - 1] === '\n', `start ${e.start} of ${JSON.stringify(before)}`);
        assert.ok(
          e.end === 0 || e.end === before.length || before[e.end - 1] === '\n',
          `end ${e.end} of ${JSON.stringify(before)}`,
        );
        assert.ok(e.start <= e.end);
        assert.ok(e.start >= prevEnd);
        prevEnd = e.end;
      }
      const applied = applyTextEdits(before, edits);
      assert.equal(applied, after);
      assert.equal(applyTextEdits(applied, invertTextEdits(before, edits)), before);
    }
  });

  it('a toggled cell changes exactly one line: its block line', () => {
    const p = tinyProfile(4, 30);
    const s = solveSchedule(p, { budget: 6, topN: 2, forceLast: true, profile: profileRef }, model);
    const before = serializeSchedule(s);
    const r = toggleStep(s, '2.ca', 13);
    assert.ok(r.ok);
    const after = serializeSchedule(r.schedule);
    const edits = minimalLineEdits(before, after);
    const changed = edits.flatMap((e) => before.slice(e.start, e.end).split('\n').filter(Boolean));
    assert.equal(changed.length, 1, `changed ${changed.length} lines: ${changed.join(' | ')}`);
    assert.match(changed[0]!, /"id": "2\.ca"/);
    assert.equal(edits.length, 1);
    assert.match(edits[0]!.text, /^ {4}\{ "id": "2\.ca", .*"manual": \[13\]/);
    assert.equal(applyTextEdits(applyTextEdits(before, edits), invertTextEdits(before, edits)), before);
  });

  it('re-solving and undoing restores the schedule text byte for byte (random controls)', () => {
    const p = tinyProfile(3, 24, 3);
    const rand = seededRandom(11);
    let s = solveSchedule(p, { budget: 5, topN: 1, forceLast: true, profile: profileRef }, model);
    for (let i = 0; i < 40; i++) {
      const before = serializeSchedule(s);
      const r =
        rand() < 0.5
          ? toggleStep(s, p.blocks[Math.floor(rand() * p.blocks.length)]!.id, 1 + Math.floor(rand() * 23))
          : resolveWithControls(s, p, {
              method: 'bac',
              budget: 2 + Math.floor(rand() * 22),
              topN: Math.floor(rand() * 4),
              forceLast: rand() < 0.5,
            });
      assert.ok(r.ok);
      const after = serializeSchedule(r.schedule);
      const edits = minimalLineEdits(before, after);
      const applied = applyTextEdits(before, edits);
      assert.equal(applied, after);
      assert.ok(parseSchedule(applied).ok);
      assert.equal(applyTextEdits(applied, invertTextEdits(before, edits)), before);
      s = r.schedule;
    }
  });

  it('keeps a CRLF document minimal once the new text uses its line endings', () => {
    const crlf = 'a\r\nb\r\nc\r\n';
    const next = withEol('a\nB\nc\n', '\r\n');
    assert.deepEqual(minimalLineEdit(crlf, next), [{ start: 3, end: 6, text: 'B\r\n' }]);
    assert.equal(withEol('a\nb\n', '\n'), 'a\nb\n');
  });
});
