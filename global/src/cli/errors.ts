// The three ways a mooringctl command fails, and the exit status of each, decided in one place:
// 2 for a command that cannot be run as written (bad usage, a bad file), 1 for a server that
// refused it or could not be reached.

/** Exit statuses of `mooringctl`. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** One problem with one field, as the API reports it in `details`. */
export interface FieldProblem {
  readonly field: string;
  readonly reason: string;
}

/** The command line or a file it names is wrong; nothing was sent. Exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The API answered with an error body `{code, message, details}`. Exit status 1. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: readonly FieldProblem[],
  ) {
    super(message);
  }
}

/** The API could not be reached, or answered something that is not the API's. Exit status 1. */
export class ConnectionError extends Error {
  override readonly name = "ConnectionError";
  constructor(
    message: string,
    /** The system error code (`ECONNREFUSED`, `ENOTFOUND`, ...), when there is one. */
    readonly errno?: string,
  ) {
    super(message);
  }
}

export function exitCodeOf(error: unknown): number {
  return error instanceof UsageError ? EXIT.usage : EXIT.failed;
}

/** The lines shown on stderr for a failure: `code: message`, then one `field: reason` per detail. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const details = error.details.map((detail) => `\n  ${detail.field}: ${detail.reason}`).join("");
    return `${error.code}: ${error.message}${details}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
