/**
 * Reading untrusted JSON files: a positions-keeping parser, and an issue collector with the field
 * checks shared by the `.bacschedule` and `.bacprofile` readers.
 *
 * A strict JSON (RFC 8259) parser that never throws and remembers where every value starts, so
 * that file validators can report `line:column` for syntax errors and for invalid fields alike.
 * `JSON.parse` cannot: it gives no position for truncated input and none at all for values.
 */
import type { FileRef } from './types';

/** Paths are `a.b[3].c`, the root is `''` — the same spelling the validators report. */
export type JsonPath = string;

/** Outcome of {@link parseJsonWithPositions}. */
export type JsonParseResult =
  | {
      readonly ok: true;
      readonly value: unknown;
      /** Offset (UTF-16 index into the text) where the value at each path starts. */
      readonly positions: ReadonlyMap<JsonPath, number>;
      /** Paths of object keys that occurred more than once (the last occurrence wins). */
      readonly duplicates: readonly JsonPath[];
    }
  | { readonly ok: false; readonly offset: number; readonly message: string };

/** Nesting deeper than this is rejected (no file of ours nests beyond 4), bounding recursion. */
export const MAX_JSON_DEPTH = 64;

class JsonSyntaxError {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * Parses `text` as one JSON value (whitespace around it allowed). Objects are created without a
 * prototype so keys such as `__proto__` are ordinary data. Never throws. O(text length).
 */
export function parseJsonWithPositions(text: string): JsonParseResult {
  const positions = new Map<JsonPath, number>();
  const duplicates: JsonPath[] = [];
  let i = 0;

  const fail = (message: string, at = i): never => {
    throw new JsonSyntaxError(at, message);
  };
  const found = (): string =>
    i >= text.length ? 'unexpected end of input' : `unexpected character ${JSON.stringify(text[i])}`;
  const ws = (): void => {
    while (i < text.length) {
      const ch = text.charCodeAt(i);
      if (ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09) i++;
      else break;
    }
  };
  const expect = (ch: string, what: string): void => {
    if (text[i] !== ch) fail(`${found()}, expected ${what}`);
    i++;
  };

  const parseString = (): string => {
    const start = i;
    i++; // opening quote
    let out = '';
    let run = i;
    for (;;) {
      if (i >= text.length) fail('unexpected end of input inside a string, expected a closing quote', start);
      const ch = text.charCodeAt(i);
      if (ch === 0x22) {
        out += text.slice(run, i);
        i++;
        return out;
      }
      if (ch < 0x20) fail('control character inside a string, expected it escaped (e.g. \\n)');
      if (ch === 0x5c) {
        out += text.slice(run, i);
        const e = text[i + 1];
        if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape, expected 4 hex digits');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else if (e !== undefined && e in ESCAPES) {
          out += ESCAPES[e];
          i += 2;
        } else {
          fail('invalid escape in a string, expected one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX');
        }
        run = i;
      } else i++;
    }
  };

  const parseValue = (path: JsonPath, depth: number): unknown => {
    ws();
    if (depth > MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH} levels, expected a shallower document`);
    positions.set(path, i);
    const ch = text[i];
    if (ch === '{') {
      i++;
      const obj = Object.create(null) as Record<string, unknown>;
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`${found()}, expected a key in double quotes`);
        const key = parseString();
        const child = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)
          ? path
            ? `${path}.${key}`
            : key
          : `${path}[${JSON.stringify(key)}]`;
        if (Object.prototype.hasOwnProperty.call(obj, key)) duplicates.push(child);
        ws();
        expect(':', `':' after the key ${JSON.stringify(key)}`);
        obj[key] = parseValue(child, depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail(`${found()}, expected ',' or '}'`);
      }
    }
    if (ch === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(`${path}[${arr.length}]`, depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail(`${found()}, expected ',' or ']'`);
      }
    }
    if (ch === '"') return parseString();
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m) {
      i += m[0].length;
      return Number(m[0]);
    }
    return fail(`${found()}, expected a value (object, array, string, number, true, false or null)`);
  };

  try {
    const value = parseValue('', 0);
    ws();
    if (i < text.length) fail(`${found()} after the end of the document, expected nothing more`);
    return { ok: true, value, positions, duplicates };
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { ok: false, offset: e.offset, message: e.message };
    // RangeError (stack) cannot happen thanks to MAX_JSON_DEPTH; anything else is reported too,
    // because the contract is "never throws".
    return { ok: false, offset: i, message: `could not be parsed (${String(e)})` };
  }
}

/** 1-based line and column (in UTF-16 units) of `offset` in `text`. O(offset). */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let k = 0; k < end; k++) {
    if (text.charCodeAt(k) === 0x0a) {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * The "what is wrong" clause for an untrusted value, e.g. `"100" is a string`, `is null`,
 * `is an array`, `is missing`. Strings are cut at 40 characters. O(1) for non-strings.
 */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'is missing';
  if (v === null) return 'is null';
  if (Array.isArray(v)) return 'is an array';
  switch (typeof v) {
    case 'string': {
      const shown = v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}…` : JSON.stringify(v);
      return `${shown} is a string`;
    }
    case 'number':
      return Number.isFinite(v) ? `${v} is a number` : `${v} is not a finite number`;
    case 'boolean':
      return `${v} is a boolean`;
    case 'object':
      return 'is an object';
    default:
      return `is a ${typeof v}`;
  }
}

/** At most this many issues are reported per file; a final issue says that more were cut. */
export const MAX_ISSUES = 50;

/**
 * One thing wrong with a file. `path` is a JSON path such as `blocks[3].acs[2]` (empty for the
 * whole file); `message` says what is wrong, then what is expected. `line`/`column` (1-based,
 * UTF-16 columns) locate it in the text when known, for editor diagnostics.
 */
export interface FormatIssue {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

/**
 * Renders issues one per line as `<file>: <path>: <message>` (`<file>: <message>` when the path is
 * empty). O(total length).
 */
export function formatIssues(file: string, issues: readonly FormatIssue[]): string {
  return issues.map((i) => (i.path ? `${file}: ${i.path}: ${i.message}` : `${file}: ${i.message}`)).join('\n');
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Collects issues while walking an untrusted JSON value; never throws.
 */
export class IssueCollector {
  /** Issues so far, in discovery order, capped at {@link MAX_ISSUES} plus one "more" note. */
  readonly issues: FormatIssue[] = [];
  private dropped = 0;

  /**
   * @param locate maps a JSON path to a 1-based line/column, when the source text is known.
   */
  constructor(private readonly locate?: (path: string) => { line: number; column: number } | undefined) {}

  /** Records `path: message`. O(1) amortised. */
  add(path: string, message: string): void {
    if (this.issues.length >= MAX_ISSUES) {
      this.dropped++;
      return;
    }
    const at = this.locate?.(path);
    this.issues.push(at ? { path, message, ...at } : { path, message });
  }

  /** Issues plus a closing note when some were cut. */
  result(): FormatIssue[] {
    if (this.dropped === 0) return this.issues;
    return [...this.issues, { path: '', message: `${this.dropped} more issue(s) not shown, fix the ones above first` }];
  }

  /** Whether nothing was reported. */
  get clean(): boolean {
    return this.issues.length === 0;
  }

  /**
   * Checks that `v` is a plain object holding exactly `keys`; reports missing and unknown keys.
   * Returns the object (possibly incomplete) or undefined when it is not an object at all.
   */
  object(
    v: unknown,
    path: string,
    keys: readonly string[],
    what: string,
    optional: readonly string[] = [],
  ): Record<string, unknown> | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.add(path, `${describeValue(v)}, expected ${what}`);
      return undefined;
    }
    const o = v as Record<string, unknown>;
    for (const k of keys) {
      if (optional.includes(k)) continue;
      if (!Object.prototype.hasOwnProperty.call(o, k)) this.add(joinPath(path, k), `is missing, expected ${what}`);
    }
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) this.add(joinPath(path, k), `unknown key "${k}", expected only ${keys.join(', ')}`);
    }
    return o;
  }

  /** A string matching `test`; returns it or undefined after reporting. */
  string(
    v: unknown,
    path: string,
    what: string,
    test: (s: string) => boolean = (s) => s.length > 0,
  ): string | undefined {
    if (typeof v === 'string' && test(v)) return v;
    this.add(path, `${describeValue(v)}, expected ${what}`);
    return undefined;
  }

  /** An integer in [min, max]. */
  integer(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    this.add(path, `${numberProblem(v, 'integer')}, expected ${rangeText(min, max)}`);
    return undefined;
  }

  /** A finite number ≥ 0. */
  nonNegative(v: unknown, path: string): number | undefined {
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
    this.add(path, `${numberProblem(v, 'number')}, expected a finite number ≥ 0`);
    return undefined;
  }

  /** A boolean. */
  boolean(v: unknown, path: string): boolean | undefined {
    if (typeof v === 'boolean') return v;
    this.add(path, `${describeValue(v)}, expected true or false`);
    return undefined;
  }

  /** `{path, sha256}`. */
  fileRef(v: unknown, path: string, what: string): FileRef | undefined {
    const o = this.object(v, path, ['path', 'sha256'], `${what} as {path, sha256}`);
    if (!o) return undefined;
    const p = this.string(o.path, joinPath(path, 'path'), 'a non-empty path relative to this file');
    const h = this.string(o.sha256, joinPath(path, 'sha256'), 'a lower-case hex sha256 (64 characters)', (s) =>
      SHA256.test(s),
    );
    return p !== undefined && h !== undefined ? { path: p, sha256: h } : undefined;
  }
}

/** `a.b`, with an empty parent giving `b`. */
export function joinPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** `a.b[3]` → `a.b` → `a` → `''`. */
export function parentPath(path: string): string {
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return cut < 0 ? '' : path.slice(0, cut);
}

/** "What is wrong" with a value that should have been a number in some range. */
export function numberProblem(v: unknown, want: 'integer' | 'number'): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return describeValue(v);
  if (want === 'integer' && !Number.isInteger(v)) return `${v} is not an integer`;
  return `${v} is out of range`;
}

function rangeText(min: number, max: number): string {
  if (max >= Number.MAX_SAFE_INTEGER) return `an integer ≥ ${min}`;
  return min === max ? `the integer ${min}` : `an integer in ${min}…${max}`;
}
