/**
 * Reading untrusted JSON files, one idea in three parts: a strict parser that sees numbers as
 * written, the issue collector every file validator reports into, and the error that carries a
 * file's issues to the user ({@link FileIssuesError}).
 *
 * `JSON.parse` is not enough for files people edit: it rounds `99.99999999999999999` to 100 and
 * `1e-400` to 0 (both would pass as integers), silently keeps the last of two equal keys, and gives
 * no position for a bad value. This parser records number literals whose written value is not an
 * integer although the parsed double is one, and the paths of duplicate keys; positions are found
 * on demand ({@link locateJsonPaths}) for the few paths that have issues, so a large file costs no
 * per-value bookkeeping.
 */

import { BacError } from './errors';

/** Paths are `a.b[3].c` (`a["odd key"]` for keys that are not identifiers), the root is `''`. */
export type JsonPath = string;

/**
 * Number literals that read as an integer double but are not integers as written
 * (`3.0000000000000001`, `1e-400`), by container and key. Integer checks consult it.
 */
export class NumberLiterals {
  private readonly byContainer = new WeakMap<object, Map<string | number, string>>();

  /** Records that `container[key]` was written as `text`. */
  add(container: object, key: string | number, text: string): void {
    let m = this.byContainer.get(container);
    if (!m) this.byContainer.set(container, (m = new Map()));
    m.set(key, text);
  }

  /** The literal of `container[key]` when it is a non-integer written as one, else undefined. */
  notIntegerAsWritten(container: unknown, key: string | number): string | undefined {
    return typeof container === 'object' && container !== null ? this.byContainer.get(container)?.get(key) : undefined;
  }
}

/** Outcome of {@link parseJson}. */
export type JsonParseResult =
  | {
      readonly ok: true;
      readonly value: unknown;
      /** Paths of object keys that occurred more than once (the last occurrence wins). */
      readonly duplicates: readonly JsonPath[];
      readonly literals: NumberLiterals;
    }
  | { readonly ok: false; readonly offset: number; readonly message: string };

/** Nesting deeper than this is rejected (no file of ours nests beyond 4), bounding recursion. */
export const MAX_JSON_DEPTH = 64;

/** Ends a position search early: every wanted path was found. */
class AllFound {}

class JsonSyntaxError {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
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
 * Whether a JSON number literal denotes an integer exactly (`6e0`, `0.0` and `1.5e1` do;
 * `3.0000000000000001` and `1e-400` do not). O(literal length).
 */
export function isIntegerLiteral(text: string): boolean {
  const m = /^-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
  if (!m) return false;
  const frac = (m[2] ?? '').replace(/0+$/, '');
  const digits = (m[1]! + frac).replace(/^0+/, '');
  if (digits === '') return true; // zero
  const exponent = Number(m[3] ?? '0') - frac.length;
  if (exponent >= 0) return true;
  // Trailing zeros of the integer part can absorb a negative exponent (e.g. 1200e-2).
  return frac === '' && /0*$/.exec(digits)![0].length >= -exponent;
}

/** `a.b`, `a[3]`, `a["odd key"]`. */
export function childPath(path: JsonPath, key: string | number): JsonPath {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (IDENT.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

/** Trie of wanted paths for {@link locateJsonPaths}. */
interface PathTrie {
  wanted: boolean;
  readonly children: Map<string, PathTrie>;
}

const segmentKey = (key: string | number): string => (typeof key === 'number' ? `#${key}` : `.${key}`);

/**
 * Splits `a.b[3]["odd key"]` into `['a', 'b', 3, 'odd key']`; undefined for a malformed path.
 */
export function splitPath(path: JsonPath): (string | number)[] | undefined {
  const out: (string | number)[] = [];
  const token = /(?:^|\.)([A-Za-z_$][A-Za-z0-9_$]*)|\[([0-9]+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  let i = 0;
  while (i < path.length) {
    token.lastIndex = i;
    const m = token.exec(path);
    if (!m) return undefined;
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(m[3]!) as string);
    i = token.lastIndex;
  }
  return out;
}

/**
 * Parses `text` as one JSON value (whitespace around it allowed). Objects are created without a
 * prototype so keys such as `__proto__` are ordinary data. Never throws. O(text length).
 */
export function parseJson(text: string): JsonParseResult {
  const literals = new NumberLiterals();
  const duplicates: JsonPath[] = [];
  const r = runParser(text, { literals, duplicates });
  return r.ok ? { ok: true, value: r.value, duplicates, literals } : r;
}

/**
 * Offsets (UTF-16 index into `text`) where the values at `paths` start, for a text that
 * {@link parseJson} accepted; paths not present are left out. One pass, O(text length).
 */
export function locateJsonPaths(text: string, paths: Iterable<JsonPath>): Map<JsonPath, number> {
  const trie: PathTrie = { wanted: false, children: new Map() };
  let wanted = 0;
  for (const p of paths) {
    const segments = splitPath(p);
    if (!segments) continue;
    let node = trie;
    for (const s of segments) {
      const k = segmentKey(s);
      let next = node.children.get(k);
      if (!next) node.children.set(k, (next = { wanted: false, children: new Map() }));
      node = next;
    }
    if (!node.wanted) wanted++;
    node.wanted = true;
  }
  const found = new Map<JsonPath, number>();
  runParser(text, { trie, found, want: wanted });
  return found;
}

interface ParserOptions {
  readonly literals?: NumberLiterals;
  readonly duplicates?: JsonPath[];
  readonly trie?: PathTrie;
  readonly found?: Map<JsonPath, number>;
  /** Stop once this many positions are found. */
  readonly want?: number;
}

function runParser(
  text: string,
  options: ParserOptions,
): { ok: true; value: unknown } | { ok: false; offset: number; message: string } {
  const { literals, duplicates, found } = options;
  const stack: (string | number)[] = [];
  const pathNow = (): JsonPath => stack.reduce<JsonPath>((p, k) => childPath(p, k), '');
  let i = 0;

  const fail = (message: string, at = i): never => {
    throw new JsonSyntaxError(at, message);
  };
  const seen = (): string =>
    i >= text.length ? 'unexpected end of input' : `unexpected character ${JSON.stringify(text[i])}`;
  const ws = (): void => {
    while (i < text.length) {
      const ch = text.charCodeAt(i);
      if (ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09) i++;
      else break;
    }
  };
  const expect = (ch: string, what: string): void => {
    if (text[i] !== ch) fail(`${seen()}, expected ${what}`);
    i++;
  };
  /** After a member: true past a ',' (another member follows), false past the closing bracket. */
  const another = (close: '}' | ']'): boolean => {
    ws();
    if (text[i] === ',') {
      i++;
      return true;
    }
    if (text[i] === close) {
      i++;
      return false;
    }
    return fail(`${seen()}, expected ',' or '${close}'`);
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

  /** Parses the value stored at `container[key]` (container undefined for the root). */
  const parseValue = (container: object | undefined, key: string | number, trie: PathTrie | undefined): unknown => {
    ws();
    if (stack.length > MAX_JSON_DEPTH)
      fail(`nesting deeper than ${MAX_JSON_DEPTH} levels, expected a shallower document`);
    if (trie?.wanted && found) {
      found.set(pathNow(), i);
      if (found.size === options.want) throw new AllFound();
    }
    const ch = text[i];
    if (ch === '{') {
      i++;
      const obj = Object.create(null) as Record<string, unknown>;
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      do {
        ws();
        if (text[i] !== '"') fail(`${seen()}, expected a key in double quotes`);
        const k = parseString();
        stack.push(k);
        if (duplicates && Object.prototype.hasOwnProperty.call(obj, k)) duplicates.push(pathNow());
        ws();
        expect(':', `':' after the key ${JSON.stringify(k)}`);
        obj[k] = parseValue(obj, k, trie?.children.get(segmentKey(k)));
        stack.pop();
      } while (another('}'));
      return obj;
    }
    if (ch === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      do {
        const n = arr.length;
        stack.push(n);
        arr.push(parseValue(arr, n, trie?.children.get(segmentKey(n))));
        stack.pop();
      } while (another(']'));
      return arr;
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
      const v = Number(m[0]);
      // Only literals with a fraction or exponent can round onto an integer they are not.
      const plain = m[0].indexOf('.') < 0 && m[0].indexOf('e') < 0 && m[0].indexOf('E') < 0;
      if (literals && container && !plain && Number.isInteger(v) && !isIntegerLiteral(m[0])) {
        literals.add(container, key, m[0]);
      }
      return v;
    }
    return fail(`${seen()}, expected a value (object, array, string, number, true, false or null)`);
  };

  try {
    const value = parseValue(undefined, '', options.trie);
    ws();
    if (i < text.length) fail(`${seen()} after the end of the document, expected nothing more`);
    return { ok: true, value };
  } catch (e) {
    if (e instanceof AllFound) return { ok: true, value: undefined };
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

/**
 * A file that failed validation: a user error whose message is {@link formatIssues}, keeping the
 * file and every issue so a caller can add issues of its own (e.g. `bac solve` on a written file).
 */
export class FileIssuesError extends BacError {
  constructor(
    readonly file: string,
    readonly issues: readonly FormatIssue[],
  ) {
    super(formatIssues(file, issues));
    this.name = 'FileIssuesError';
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

/**
 * Collects issues while walking an untrusted JSON value; never throws. Keeps the first `max`
 * issues and counts the rest. Remembers which paths (and their ancestors) have issues, so that
 * later checks can skip values already known to be bad.
 */
export class IssueCollector {
  /** Issues so far, in discovery order, at most `max`. */
  readonly issues: FormatIssue[] = [];
  /** Issues found beyond `max`. */
  dropped = 0;
  private readonly tainted = new Set<string>();
  private tainting = true;

  constructor(readonly max: number) {}

  /** Records `path: message`. O(path depth). */
  add(path: string, message: string): void {
    if (this.tainting) {
      for (let p = path; !this.tainted.has(p); p = parentPath(p)) {
        this.tainted.add(p);
        if (p === '') break;
      }
    }
    if (this.issues.length >= this.max) this.dropped++;
    else this.issues.push({ path, message });
  }

  /** Whether no issue was recorded at `path` or below it (before {@link freezeTaint}). */
  isClean(path: string): boolean {
    return !this.tainted.has(path);
  }

  /** Later issues no longer mark their paths: checks run after this see the earlier verdicts only. */
  freezeTaint(): void {
    this.tainting = false;
  }

  /** Whether nothing was reported. */
  get clean(): boolean {
    return this.issues.length === 0 && this.dropped === 0;
  }

  /** Whether further issues are only counted. */
  get full(): boolean {
    return this.issues.length >= this.max;
  }

  /**
   * The kept issues in document order (by `order`, a sort key per path), plus a closing note when
   * some were cut.
   */
  result(order?: (path: string) => readonly number[]): FormatIssue[] {
    const kept = order ? sortByKey(this.issues, (i) => order(i.path)) : [...this.issues];
    if (this.dropped === 0) return kept;
    return [...kept, { path: '', message: `${this.dropped} more issue(s) not shown, fix the ones above first` }];
  }
}

function sortByKey<T>(items: readonly T[], key: (t: T) => readonly number[]): T[] {
  const keyed = items.map((item, n) => ({ item, k: key(item), n }));
  keyed.sort((a, b) => {
    for (let j = 0; j < Math.min(a.k.length, b.k.length); j++) if (a.k[j] !== b.k[j]) return a.k[j]! - b.k[j]!;
    return a.k.length - b.k.length || a.n - b.n;
  });
  return keyed.map((x) => x.item);
}

/**
 * Sort key of `path` in document order within `doc`: per segment, the key's position among its
 * object's keys (absent keys after present ones) or the array index. O(path depth · keys).
 */
export function documentOrder(doc: unknown): (path: string) => number[] {
  return (path) => {
    const out: number[] = [];
    let v: unknown = doc;
    for (const s of splitPath(path) ?? []) {
      if (typeof s === 'number') {
        out.push(s);
        v = Array.isArray(v) ? v[s] : undefined;
      } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        const keys = Object.keys(v);
        const at = keys.indexOf(s);
        out.push(at < 0 ? keys.length : at);
        v = (v as Record<string, unknown>)[s];
      } else {
        out.push(0);
        v = undefined;
      }
    }
    return out;
  };
}
