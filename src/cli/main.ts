/**
 * The `bac` command line: dispatches subcommands and maps failures to exit codes —
 * 0 success, 1 user error (the message names the file, the field and the fix), 2 internal error.
 */
import { isBacError } from '../core/errors';
import { FileIssuesError } from '../core/json-validate';
import { VERBOSE_ENV } from '../engine/ort';
import { UsageError, type CommandResult } from './args';
import { boundList, boundMessage, MAX_MESSAGE_BYTES, shortenQuotes } from './bounded-text';
import { INFO_SPEC, infoCommand } from './info';
import { COMPILE_SPEC, compileCommand } from './compile';
import { EVAL_SPEC, evalCommand } from './eval';
import { PROFILE_SPEC, profileCommand } from './profile';
import { SOLVE_SPEC, solveCommand } from './solve';
import { SWEEP_SPEC, sweepCommand } from './sweep';
import { TUNE_SPEC, tuneCommand } from './tune';
import { commandHelp } from './options';

/** One subcommand. */
export interface Command {
  /** One line for `bac --help`. */
  readonly summary: string;
  /** Full `bac <name> --help` text. */
  readonly help: string;
  /** Runs it; throws BacError for user errors. */
  readonly run: (argv: readonly string[]) => Promise<CommandResult>;
}

/** The subcommands, by name. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  profile: {
    summary: 'profile a BAC-ready ONNX policy on recorded episodes → .bacprofile',
    help: commandHelp(PROFILE_SPEC),
    run: profileCommand,
  },
  solve: {
    summary: 'solve a .bacschedule from a .bacprofile (ACS + Bubbling Union)',
    help: commandHelp(SOLVE_SPEC),
    run: solveCommand,
  },
  eval: {
    summary: 'measured speedup and action error of a schedule and its baselines',
    help: commandHelp(EVAL_SPEC),
    run: evalCommand,
  },
  compile: {
    summary: 'bake a schedule into a deployable ONNX model',
    help: commandHelp(COMPILE_SPEC),
    run: compileCommand,
  },
  info: { summary: 'summarise a .bacschedule or a .bacprofile', help: commandHelp(INFO_SPEC), run: infoCommand },
  sweep: {
    summary: 'fewer-step samplers × cache schedules, measured → .bacsweep + recommended schedule',
    help: commandHelp(SWEEP_SPEC),
    run: sweepCommand,
  },
  tune: {
    summary: 'tune a .bacschedule at a cost target with the model in the loop',
    help: commandHelp(TUNE_SPEC),
    run: tuneCommand,
  },
};

/** Where the CLI writes; the process streams in production, buffers in tests. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

function topHelp(commands: Readonly<Record<string, Command>>): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((n) => n.length));
  return [
    'Usage: bac <command> [options]   (bac <command> --help for details)',
    '',
    'BAC Studio: Block-wise Adaptive Caching for transformer diffusion policies.',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${commands[n]!.summary}`),
    '',
    'Every command takes --json for machine-readable output and --verbose for every',
    "execution-provider decision and ONNX Runtime's own log lines.",
    'Exit codes: 0 success, 1 user error, 2 internal error.',
  ].join('\n');
}

/** Options before a `--` terminator (after it, `--json` would be a file name). */
function flags(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--');
  return end < 0 ? argv : argv.slice(0, end);
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and returns the exit code. Never throws:
 * every failure is printed to `io.err` (and, under `--json`, as `{ok: false, error}` to `io.out`).
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  commands: Readonly<Record<string, Command>> = COMMANDS,
): Promise<number> {
  const json = flags(argv).includes('--json');
  // `--verbose` works with every command: it shows every execution-provider decision and ORT's
  // own logs (in this process and in the profiling child, which inherits the environment).
  const verboseAt = flags(argv).indexOf('--verbose');
  const [name, ...rest] = verboseAt < 0 ? argv : [...argv.slice(0, verboseAt), ...argv.slice(verboseAt + 1)];
  const verboseBefore = process.env[VERBOSE_ENV];
  if (verboseAt >= 0) process.env[VERBOSE_ENV] = '1';
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' && rest[0] !== undefined ? commands[rest[0]] : undefined;
      io.out(`${topic ? topic.help : topHelp(commands)}\n`);
      return 0;
    }
    const command = Object.prototype.hasOwnProperty.call(commands, name) ? commands[name] : undefined;
    if (!command) {
      throw new UsageError(
        `unknown command ${JSON.stringify(name)}, expected one of: ${Object.keys(commands).join(', ')}`,
        '',
      );
    }
    if (flags(rest).some((a) => a === '--help' || a === '-h')) {
      io.out(`${command.help}\n`);
      return 0;
    }
    const result = await command.run(rest);
    io.out(json ? `${JSON.stringify({ ok: true, ...result.json }, null, 2)}\n` : `${result.text}\n`);
    return 0;
  } catch (e) {
    if (isBacError(e)) {
      const hint = e instanceof UsageError ? `\nRun \`bac ${e.command ? `${e.command} ` : ''}--help\` for usage.` : '';
      const message = boundMessage(e.message, MAX_MESSAGE_BYTES - 100);
      io.err(`bac: ${message}${hint}\n`);
      if (json) io.out(`${JSON.stringify({ ok: false, error: userErrorJson(e, message) }, null, 2)}\n`);
      return 1;
    }
    const message = boundMessage(e instanceof Error ? e.message : String(e));
    const stack = e instanceof Error && e.stack ? `\n${e.stack}` : '';
    io.err(
      `bac: internal error: ${message}\nThis is a bug in BAC Studio, not in your input; please report it with the command line and this output.${stack}\n`,
    );
    if (json) io.out(`${JSON.stringify({ ok: false, error: { kind: 'internal', message } }, null, 2)}\n`);
    return 2;
  } finally {
    if (verboseAt >= 0) {
      if (verboseBefore === undefined) delete process.env[VERBOSE_ENV];
      else process.env[VERBOSE_ENV] = verboseBefore;
    }
  }
}

/** The `--json` error object of a user error: its bounded message and, for a file, its issues (bounded). */
function userErrorJson(e: Error, message: string): Record<string, unknown> {
  if (!(e instanceof FileIssuesError)) return { kind: 'user', message };
  const all = e.issues.map((i) => ({
    file: shortenQuotes(e.file),
    ...i,
    path: shortenQuotes(i.path),
    message: boundMessage(i.message, 1024),
  }));
  const { kept, leftOut } = boundList(all, MAX_MESSAGE_BYTES - 1024);
  return { kind: 'user', message, issues: kept, ...(leftOut > 0 ? { issuesLeftOut: leftOut } : {}) };
}

/** Entry point for `bin/bac.js` and `node dist/cli.js`: runs on process.argv, sets the exit code. */
export async function runFromProcess(): Promise<void> {
  process.exitCode = await runCli(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  });
}

if (require.main === module) void runFromProcess();
