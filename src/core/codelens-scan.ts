/**
 * Finding the `.bacschedule` files a source text names, for the speedup CodeLens.
 *
 * Language-agnostic on purpose: a path to a schedule is written the same way in Python, TS/JS,
 * C++, YAML and JSON — as a quoted string literal, or (YAML, TOML-ish configs) as a bare scalar
 * after `key:` / `key =` or a list dash. A real tokenizer per language would be more precise but
 * would drag five grammars into the extension for a hint; the scanner only has to avoid false
 * positives inside longer strings and comments, and the host then keeps only paths that resolve
 * to an existing file. Pure; no I/O.
 */

/** One schedule reference found in a text. */
export interface ScheduleReference {
  /** 0-based line of the literal. */
  readonly line: number;
  /** 0-based column (UTF-16) of the first character of the path inside the literal. */
  readonly column: number;
  /** Length of the path in the source text. */
  readonly length: number;
  /** The path as written, with string escapes resolved (e.g. `models\\a.bacschedule` → `models\a.bacschedule`). */
  readonly path: string;
}

/**
 * Languages whose documents get the speedup CodeLens. package.json's `activationEvents` carries an
 * `onLanguage:` entry for each (test/unit/manifest.test.ts keeps the two in step), so the lens
 * appears in a fresh window without a schedule having been opened first.
 */
export const CODELENS_LANGUAGES: readonly string[] = [
  'python',
  'typescript',
  'typescriptreact',
  'javascript',
  'javascriptreact',
  'cpp',
  'c',
  'cuda-cpp',
  'yaml',
  'json',
  'jsonc',
  'toml',
  'shellscript',
];

/** The CodeLens languages whose bare (unquoted) config values also name schedules. */
export const CONFIG_LANGUAGES: ReadonlySet<string> = new Set(['yaml', 'toml', 'shellscript']);

/** File extension the scanner looks for. */
export const SCHEDULE_EXTENSION = '.bacschedule';

/** Longest line scanned; minified or generated lines longer than this are skipped (cost bound). */
export const MAX_SCANNED_LINE = 4000;

// A quoted literal whose content ends in `.bacschedule`. Content may hold escapes but no raw
// quote of its own kind and no newline. Optional Python prefixes (r, b, u, f and pairs) and the
// C++ raw-string form R"(…)" are handled below.
const QUOTED =
  /(?<prefix>(?<![\w$])[rRuUbBfF]{1,2})?(?<quote>["'`])(?<body>(?:\\.|(?!\k<quote>)[^\\\r\n])*?\.bacschedule)\k<quote>/g;
const CPP_RAW = /R"(?<delim>[^()\\\s"]{0,16})\((?<body>[^\r\n]*?\.bacschedule)\)\k<delim>"/g;
// A bare YAML/TOML/INI value: `key: path.bacschedule`, `key = path.bacschedule`, `- path.bacschedule`,
// or an item of a flow sequence `[a.bacschedule, b.bacschedule]`. Only for config languages: in
// code, `x = self.bacschedule` is an attribute access, not a path.
const BARE = /(?:^\s*-\s+|[:=[,]\s*)(?<body>[^\s"'`#,\]}{[]+\.bacschedule)(?=\s*(?:#.*)?$|\s*[,\]}])/g;

const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', "'": "'", '`': '`', '/': '/' };

/** Resolves the escapes a path can reasonably hold; a raw literal keeps its text. */
function unescape(body: string, raw: boolean): string {
  if (raw) return body;
  return body.replace(/\\(.)/g, (all, ch: string) => SIMPLE_ESCAPES[ch] ?? all);
}

/** Options of {@link scanScheduleReferences}. */
export interface ScanOptions {
  /** Also accept unquoted YAML/TOML-style values (config languages only). Default false. */
  readonly bareValues?: boolean;
}

/**
 * Every `.bacschedule` path named by a string literal (or, with `bareValues`, a bare YAML-style
 * scalar) in `text`,
 * in order of appearance, at most one per (line, column). Paths that are only the extension
 * (`".bacschedule"`), glob patterns (`*`, `?`) or URLs (`scheme://`) are ignored: they name no file.
 * O(text length).
 */
export function scanScheduleReferences(text: string, options: ScanOptions = {}): ScheduleReference[] {
  const out: ScheduleReference[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((lineText, line) => {
    if (lineText.length > MAX_SCANNED_LINE || !lineText.includes(SCHEDULE_EXTENSION)) return;
    const found: ScheduleReference[] = [];
    const taken: [number, number][] = [];
    const add = (column: number, body: string, path: string): void => {
      if (taken.some(([s, e]) => column < e && column + body.length > s)) return;
      if (!isFilePath(path)) return;
      taken.push([column, column + body.length]);
      found.push({ line, column, length: body.length, path });
    };
    for (const m of lineText.matchAll(CPP_RAW)) {
      const body = m.groups!.body!;
      add(m.index! + m[0].indexOf('(') + 1, body, body);
    }
    for (const m of lineText.matchAll(QUOTED)) {
      const { prefix = '', quote = '', body = '' } = m.groups!;
      // `R"(…)"` was handled above; a stray `R` before a quote is an identifier ending in R.
      if (taken.some(([s, e]) => m.index! < e && m.index! + m[0].length > s)) continue;
      const raw = /r/i.test(prefix) && quote !== '`';
      add(m.index! + prefix.length + 1, body, unescape(body, raw));
    }
    for (const m of options.bareValues ? lineText.matchAll(BARE) : []) {
      const body = m.groups!.body!;
      add(m.index! + m[0].length - body.length, body, body);
    }
    found.sort((x, y) => x.column - y.column);
    out.push(...found);
  });
  return out;
}

/** Whether a literal's content plausibly names one file (not a glob, URL or bare extension). */
function isFilePath(path: string): boolean {
  if (path.length <= SCHEDULE_EXTENSION.length) return false;
  if (/[*?]/.test(path) || /^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return false;
  const name = path.split(/[\\/]/).pop() ?? '';
  return name.length > SCHEDULE_EXTENSION.length && !/[{}$]/.test(path);
}
