import { type LevelWithSilent, type Logger, pino } from "pino";

export type { Logger } from "pino";

export const LOG_LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  /** `global` or `zone`: bound on every line. */
  readonly service: string;
  readonly destination?: pino.DestinationStream;
}

/** The one root logger of a process; components take `logger.child({ component })`. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
