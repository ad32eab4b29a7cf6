// Runs the real `mooring-zone` bin as a child process pointed at a global's gRPC address: its own
// data directory, its REST port picked by the OS, readiness taken from the "listening" log line.
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { childEnv, type ExitStatus, killProcesses, type LogLine, makeTempDir, startServiceProcess } from "./process.js";

/** The bin under test; MOORING_E2E_ZONE_BIN points the suite at another build (it is not passed to children). */
export const ZONE_BIN =
  process.env.MOORING_E2E_ZONE_BIN ?? fileURLToPath(new URL("../../zone/bin/mooring-zone.js", import.meta.url));

/** The name this module's children are tracked under, so `killAllZones()` leaves the global alone. */
const NAME = "mooring-zone";

export interface ZoneProcess {
  /** The zone name it was started with. */
  readonly zone: string;
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly http: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Milliseconds from spawn to the "listening" line. */
  readonly startupMs: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  stdout(): string;
  stderr(): string;
  /** Every stdout line that parsed as a JSON object. */
  logLines(): LogLine[];
  /** The first log line, already seen or still to come, that matches; rejects on timeout or exit. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGKILL, then the exit status once the process is gone. */
  kill9(): Promise<ExitStatus>;
  /** SIGTERM, then the exit status; SIGKILLs and throws if the process does not exit in time. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

export interface ZoneStartOptions {
  /** MOORING_ZONE. */
  readonly zone: string;
  /** MOORING_GLOBAL: the global's gRPC address, `127.0.0.1:<port>` (a TCP proxy's, for fault injection). */
  readonly global: string;
  /** Reuse a data directory (restart); a fresh temp directory otherwise. */
  readonly dataDir?: string;
  /** Extra MOORING_* settings; they override the helper's, MOORING_LOG_LEVEL=info included. */
  readonly env?: Readonly<Record<string, string>>;
  readonly args?: readonly string[];
  readonly timeoutMs?: number;
}

/** SIGKILLs every zone started by this module that is still running. For afterEach/afterAll. */
export function killAllZones(): Promise<void> {
  return killProcesses(NAME);
}

export async function startZoneProcess(options: ZoneStartOptions): Promise<ZoneProcess> {
  const dataDir = options.dataDir ?? (await makeTempDir("mooring-e2e-zone-"));
  const service = await startServiceProcess({
    name: NAME,
    bin: ZONE_BIN,
    env: childEnv({
      MOORING_ZONE: options.zone,
      MOORING_GLOBAL: options.global,
      MOORING_DATA_DIR: dataDir,
      MOORING_HTTP_ADDR: "127.0.0.1:0",
      MOORING_LOG_LEVEL: "info",
      ...options.env,
    }),
    args: options.args,
    dataDir,
    timeoutMs: options.timeoutMs,
  });
  const { http } = service.ready;
  if (typeof http !== "string") {
    await service.kill9();
    throw new Error(`the zone's "listening" line has no http address: ${JSON.stringify(service.ready)}`);
  }
  return {
    zone: options.zone,
    http: `http://${http}`,
    dataDir,
    child: service.child,
    startupMs: service.startupMs,
    exited: service.exited,
    stdout: service.stdout,
    stderr: service.stderr,
    logLines: service.logLines,
    waitForLog: service.waitForLog,
    kill9: service.kill9,
    stop: service.stop,
  };
}
