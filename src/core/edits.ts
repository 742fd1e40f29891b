/**
 * Minimal text edits between two versions of a line-oriented document.
 *
 * The schedule editor never replaces a whole `.bacschedule`: it serialises the new schedule, then
 * replaces only the lines that differ. The serialiser writes one line per block and nothing
 * derived, so toggling one cell rewrites exactly that block's line, and undo in the text editor
 * restores exactly that line. Pure: offsets are UTF-16 indices as in `TextDocument.positionAt`.
 */

/** Replace `old.slice(start, end)` with `text`. */
export interface TextEdit {
  /** Offset of the first replaced character; always the start of a line. */
  readonly start: number;
  /** Offset just past the last replaced character; always the start of a line or the text end. */
  readonly end: number;
  /** Replacement text. */
  readonly text: string;
}

/** Splits keeping each line's terminator (`\n` or `\r\n`), so joining the parts gives the text back. */
function splitKeepingEol(text: string): string[] {
  const lines: string[] = [];
  let from = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', from)) {
    lines.push(text.slice(from, i + 1));
    from = i + 1;
  }
  if (from < text.length) lines.push(text.slice(from));
  return lines;
}

/**
 * The smallest whole-line edits turning `oldText` into `newText`, ascending and non-overlapping,
 * offsets relative to `oldText`; empty when the texts are equal. Common leading and trailing
 * lines are kept; when the lines in between are as many on both sides (a toggled cell or a
 * re-solve: the serialiser writes one line per block, so the line count does not change) only
 * the differing runs of lines are replaced, else the middle is replaced as one range. Applied as
 * one WorkspaceEdit, the edits are one undo step. O(length).
 */
export function minimalLineEdits(oldText: string, newText: string): TextEdit[] {
  if (oldText === newText) return [];
  const a = splitKeepingEol(oldText);
  const b = splitKeepingEol(newText);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const offsetsA = lineOffsets(a);
  const offsetsB = lineOffsets(b);
  const aEnd = a.length - tail;
  const bEnd = b.length - tail;
  if (aEnd - head !== bEnd - head) {
    return [{ start: offsetsA[head]!, end: offsetsA[aEnd]!, text: newText.slice(offsetsB[head]!, offsetsB[bEnd]!) }];
  }
  const edits: TextEdit[] = [];
  for (let i = head; i < aEnd;) {
    if (a[i] === b[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < aEnd && a[j] !== b[j]) j++;
    edits.push({ start: offsetsA[i]!, end: offsetsA[j]!, text: newText.slice(offsetsB[i]!, offsetsB[j]!) });
    i = j;
  }
  return edits;
}

/** Start offset of every line, plus the total length at the end. */
function lineOffsets(lines: readonly string[]): number[] {
  const out = [0];
  for (const l of lines) out.push(out[out.length - 1]! + l.length);
  return out;
}

/** Applies ascending, non-overlapping edits computed against `text`. O(length). */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + text.slice(at);
}

/**
 * The edits that undo `edits` once they have been applied to `before`: offsets in the edited
 * text, replacement text from `before`. O(edit size).
 */
export function invertTextEdits(before: string, edits: readonly TextEdit[]): TextEdit[] {
  let delta = 0;
  return edits.map((e) => {
    const start = e.start + delta;
    delta += e.text.length - (e.end - e.start);
    return { start, end: start + e.text.length, text: before.slice(e.start, e.end) };
  });
}

/**
 * Rewrites the line terminators of `text` (which uses `\n`) to `eol`, so a serialiser that writes
 * `\n` produces a minimal edit against a document checked out with CRLF line endings.
 */
export function withEol(text: string, eol: '\n' | '\r\n'): string {
  return eol === '\n' ? text : text.replace(/\r?\n/g, '\r\n');
}
