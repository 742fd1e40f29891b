/**
 * Bounds on what a CLI message may quote from its input: a hostile file (a 10 MB key, a 10 MB
 * string) must not turn one error into megabytes of stderr or `--json`. Pure string functions.
 */

/** Most characters of one quoted value or one unbroken token a message keeps. */
export const MAX_QUOTED_CHARS = 200;
/** Most bytes (UTF-8) of one message; stderr of a failed command stays within this. */
export const MAX_MESSAGE_BYTES = 4096;

/** Space, tab, line feed or carriage return (what separates tokens in a message). */
const isSpace = (ch: string | undefined): boolean => ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r';

/** `s` shortened to `MAX_QUOTED_CHARS` with a visible mark and its real length. */
function shorten(s: string, closing = ''): string {
  const keep = Math.floor(MAX_QUOTED_CHARS / 2);
  return `${s.slice(0, keep)}…${closing} (${s.length} characters)`;
}

/**
 * Shortens every double-quoted string (JSON escapes respected) and every whitespace-free run longer
 * than {@link MAX_QUOTED_CHARS}. O(text length), no regular-expression backtracking.
 */
export function shortenQuotes(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const body = text.slice(i, Math.min(j + 1, text.length));
      out += body.length > MAX_QUOTED_CHARS ? shorten(body, '"') : body;
      i = j + 1;
    } else if (isSpace(ch)) {
      out += ch;
      i++;
    } else {
      let j = i;
      while (j < text.length && text[j] !== '"' && !isSpace(text[j])) j++;
      const token = text.slice(i, j);
      out += token.length > MAX_QUOTED_CHARS ? shorten(token) : token;
      i = j;
    }
  }
  return out;
}

/** UTF-8 byte length. */
const bytesOf = (s: string): number => Buffer.byteLength(s);

/**
 * A message fit to print: quotes shortened, then whole lines kept while they fit in `maxBytes`
 * (the rest counted in a last line), and a hard cut if a single line is still too long.
 */
export function boundMessage(text: string, maxBytes = MAX_MESSAGE_BYTES): string {
  const short = shortenQuotes(text);
  if (bytesOf(short) <= maxBytes) return short;
  const lines = short.split('\n');
  const kept: string[] = [];
  let used = 0;
  const room = maxBytes - 64; // for the "… and N more lines" line
  for (const line of lines) {
    if (used + bytesOf(line) + 1 > room) break;
    kept.push(line);
    used += bytesOf(line) + 1;
  }
  if (kept.length === 0)
    kept.push(
      `${Buffer.from(lines[0]!)
        .subarray(0, room)
        .toString('utf8')
        .replace(/\uFFFD$/, '')}…`,
    );
  const more = lines.length - kept.length;
  return more > 0 ? `${kept.join('\n')}\n… and ${more} more line${more === 1 ? '' : 's'}` : kept.join('\n');
}

/**
 * The first items of `items` whose JSON fits in `maxBytes` (each item's strings already bounded by
 * the caller), and how many were left out.
 */
export function boundList<T>(items: readonly T[], maxBytes = MAX_MESSAGE_BYTES): { kept: T[]; leftOut: number } {
  const kept: T[] = [];
  let used = 0;
  for (const item of items) {
    const size = bytesOf(JSON.stringify(item));
    if (used + size > maxBytes) break;
    kept.push(item);
    used += size;
  }
  return { kept, leftOut: items.length - kept.length };
}
