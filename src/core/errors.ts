/**
 * A user error: bad input that the user can fix (wrong budget, malformed file, missing block).
 * The message names what is wrong and what is expected; the CLI maps it to exit code 1 and the
 * extension shows it as one notification. Anything else thrown is an internal error (exit 2).
 */
export class BacError extends Error {
  /** @param message one sentence: what is wrong, where, and what is expected. */
  constructor(message: string) {
    super(message);
    this.name = 'BacError';
  }
}

/** True when `e` is a user error rather than a bug. */
export function isBacError(e: unknown): e is BacError {
  return e instanceof BacError;
}
