/**
 * Reading option values (integers, execution providers, positionals), turning every mistake into a
 * user error; and the CLI's error and result types.
 */
import { BacError } from '../core/errors';
import { EXECUTION_PROVIDER_CHOICES, type ExecutionProviderChoice } from '../engine/ort';

/** A command-line mistake; the CLI adds a pointer to the command's `--help`. Exit code 1. */
export class UsageError extends BacError {
  constructor(
    message: string,
    /** The subcommand whose help explains the fix (empty for the top level). */
    readonly command: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * An integer option value in [min, max].
 * @throws UsageError when it is not one.
 */
export function integerOption(
  command: string,
  name: string,
  value: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = /^-?[0-9]+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max >= Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}…${max}`;
    throw new UsageError(`--${name} ${JSON.stringify(value)} is invalid, expected an integer ${range}`, command);
  }
  return n;
}

/** `integerOption` for an optional option: `fallback` when it is not given. */
export function optionalIntegerOption<F>(
  command: string,
  name: string,
  value: string | undefined,
  fallback: F,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | F {
  return value === undefined ? fallback : integerOption(command, name, value, min, max);
}

/**
 * `--ep`, `--samples` and `--seed` of commands that run the policy on observation windows cut from
 * episodes, with the command's defaults.
 * @throws UsageError for an invalid value.
 */
export function windowSamplingOptions(
  command: string,
  values: { readonly samples?: string; readonly ep?: string; readonly seed?: string },
  defaults: { readonly samples: number; readonly seed: number },
): { ep: ExecutionProviderChoice; samples: number; seed: number } {
  return {
    ep: executionProviderOption(command, values.ep),
    samples: optionalIntegerOption(command, 'samples', values.samples, defaults.samples, 1),
    seed: optionalIntegerOption(command, 'seed', values.seed, defaults.seed, 0),
  };
}

/**
 * Exactly one positional argument.
 * @throws UsageError when there are none or several.
 */
export function onePositional(command: string, positionals: readonly string[], what: string): string {
  if (positionals.length === 1) return positionals[0]!;
  throw new UsageError(
    positionals.length === 0
      ? `missing ${what}, expected exactly one`
      : `${positionals.length} positional arguments (${positionals.join(' ')}), expected exactly one ${what}`,
    command,
  );
}

/** What a subcommand produces: a JSON-able result for `--json`, and the same for people. */
export interface CommandResult {
  /** Printed (with `ok: true`) as one JSON object under `--json`. */
  readonly json: Record<string, unknown>;
  /** Printed otherwise. */
  readonly text: string;
}

/**
 * The `--ep` option: an execution-provider choice, `auto` when not given.
 * @throws UsageError naming the valid choices.
 */
export function executionProviderOption(command: string, value: string | undefined): ExecutionProviderChoice {
  const ep = (value ?? 'auto') as ExecutionProviderChoice;
  if (!EXECUTION_PROVIDER_CHOICES.includes(ep)) {
    throw new UsageError(`--ep ${value} is invalid, expected one of ${EXECUTION_PROVIDER_CHOICES.join(', ')}`, command);
  }
  return ep;
}
