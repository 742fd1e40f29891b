/**
 * Declarative command specs: a command's options are declared once, with their value placeholder
 * and help, and that one declaration both configures the strict parser and writes the command's
 * `--help`, so the help cannot list an option the parser rejects, or the reverse.
 */
import { parseArgs } from 'node:util';
import { onePositional, UsageError } from './args';

/** One `--name` option of a command. */
export interface OptionSpec {
  /** `string` takes a value (`--out M`); `boolean` is a flag (`--json`). */
  readonly type: 'string' | 'boolean';
  /** The value's placeholder in the help (`M` in `--out M`); none for a flag. */
  readonly arg?: string;
  /** Help lines: the first beside the option, the others indented under it. */
  readonly help: readonly string[];
}

/** A command's options by name (without the leading `--`), in help order. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** An option that takes a value shown as `arg` in the help. */
export function valueOption(arg: string, ...help: string[]): OptionSpec & { readonly type: 'string' } {
  return { type: 'string', arg, help };
}

/** A flag (present or not). */
export function flagOption(...help: string[]): OptionSpec & { readonly type: 'boolean' } {
  return { type: 'boolean', help };
}

/**
 * `--json`, which every command takes (the CLI prints the command's result as JSON): it is not part
 * of a spec's options, it is added to each, last.
 */
const JSON_OPTION = { json: flagOption('print a JSON result instead of text') } as const;

/** Options several commands take with the same meaning and help. */
export const COMMON_OPTIONS = {
  ep: valueOption('PROVIDER', 'auto | cpu | cuda | webgpu (default auto)'),
  /** `--seed S` of commands whose seed picks the windows and the noise. */
  seed: (defaultSeed: number) => valueOption('S', `seed of windows and noise (default ${defaultSeed})`),
} as const;

/** Every command's exit codes, unless its spec says more. */
const EXIT_CODES = 'Exit codes: 0 success, 1 user error, 2 internal error.';

/** Everything `bac <name> --help` shows, and what the parser accepts. */
export interface CommandSpec<O extends OptionSpecs> {
  readonly name: string;
  /** What follows `Usage: bac ` on the help's first line. */
  readonly usage: string;
  /** The paragraph(s) between the usage line and the options. */
  readonly about: string;
  /** Its own options, in help order; `--json` and `--help` are added to every command's. */
  readonly options: O;
  /** Width of the option column (default 19: the longest usual `--name ARG` and one space). */
  readonly optionWidth?: number;
  /** Replaces the usual exit-code line. */
  readonly exitCodes?: string;
  /**
   * What the command's one positional argument is, for messages (`schedule (S.bacschedule)`);
   * absent for commands that take none or check them themselves.
   */
  readonly positional?: string;
}

/** The help line(s) of one option; a label as wide as the column or wider gets two spaces. */
function optionLines(label: string, help: readonly string[], width: number): string[] {
  const head = label.length < width ? label.padEnd(width) : `${label}  `;
  return help.map((line, i) => `  ${i === 0 ? head : ' '.repeat(width)}${line}`);
}

/** The full `bac <name> --help` text of a spec. */
export function commandHelp<O extends OptionSpecs>(spec: CommandSpec<O>): string {
  const width = spec.optionWidth ?? 19;
  const options = Object.entries({ ...spec.options, ...JSON_OPTION }).flatMap(([name, o]) =>
    optionLines(o.arg === undefined ? `--${name}` : `--${name} ${o.arg}`, o.help, width),
  );
  return [
    `Usage: bac ${spec.name} ${spec.usage}`,
    '',
    spec.about,
    '',
    'Options:',
    ...options,
    ...optionLines('-h, --help', ['show this help'], width),
    '',
    spec.exitCodes ?? EXIT_CODES,
  ].join('\n');
}

/** The parser's view of the specs: each option's type only. */
type ParserOptions<O extends OptionSpecs> = { [K in keyof O]: { type: O[K]['type'] } } & {
  json: { type: 'boolean' };
};

/** Parsed arguments: each option's value (string or true) when it was given. */
export interface ParsedCommand<O extends OptionSpecs> {
  readonly values: { readonly [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean } & {
    readonly json?: boolean;
  };
  readonly positionals: readonly string[];
}

/**
 * Parses `argv` strictly against the spec's options (unknown options and missing values are
 * errors), and checks that there is exactly one positional argument when the spec declares it.
 * @throws UsageError naming the bad argument.
 */
export function parseCommand<O extends OptionSpecs>(
  spec: CommandSpec<O> & { readonly positional: string },
  argv: readonly string[],
): ParsedCommand<O> & { readonly positional: string };
export function parseCommand<O extends OptionSpecs>(spec: CommandSpec<O>, argv: readonly string[]): ParsedCommand<O>;
export function parseCommand<O extends OptionSpecs>(
  spec: CommandSpec<O>,
  argv: readonly string[],
): ParsedCommand<O> & { readonly positional?: string } {
  const options = Object.fromEntries(
    Object.entries({ ...spec.options, ...JSON_OPTION }).map(([name, o]) => [name, { type: o.type }]),
  ) as ParserOptions<O>;
  let parsed: ParsedCommand<O>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true }) as ParsedCommand<O>;
  } catch (e) {
    // parseArgs reports ERR_PARSE_ARGS_* TypeErrors with a readable message; anything else is a bug.
    const code = (e as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))
      throw new UsageError((e as Error).message, spec.name);
    throw e;
  }
  if (spec.positional === undefined) return parsed;
  return { ...parsed, positional: onePositional(spec.name, parsed.positionals, spec.positional) };
}
