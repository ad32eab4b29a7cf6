// The life of a control-plane process once it is configured: start or exit 1, then run until a
// signal (exit 0) or until the service asks to stop with a code of its own.
import type { Logger } from "pino";

export interface Closable {
  close(): Promise<void>;
}

/** Starts the service; a failure is logged as fatal and the process exits with status 1. */
export async function startOrExit<T>(start: () => Promise<T>, logger: Logger): Promise<T> {
  try {
    return await start();
  } catch (error) {
    logger.fatal({ err: error }, "failed to start");
    process.exit(1);
  }
}

/**
 * SIGTERM and SIGINT close the service and exit 0 ("shutting down", then "stopped"). The returned
 * function closes it and exits with another code; only the first request to exit counts.
 */
export function exitOnSignals(running: Closable, logger: Logger): (code: number) => boolean {
  let exiting = false;
  const exit = (code: number): boolean => {
    if (exiting) return false;
    exiting = true;
    running.close().then(
      () => {
        logger.info({ exitCode: code }, "stopped");
        process.exit(code);
      },
      (error: unknown) => {
        logger.error({ err: error }, "unclean shutdown");
        process.exit(code === 0 ? 1 : code);
      },
    );
    return true;
  };
  const stop = (signal: NodeJS.Signals) => {
    if (exiting) return;
    logger.info({ signal }, "shutting down");
    exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  return exit;
}
