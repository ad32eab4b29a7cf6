// Runs the real `mooring-zone` bin as a child process pointed at a global's gRPC address: its own
// data directory, its REST port picked by the OS, readiness taken from the "listening" log line.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readAdminToken } from "./global-process.js";
import { childEnv, killProcesses, makeTempDir, type ServiceProcess, startServiceProcess } from "./process.js";

/** The bin under test; MOORING_E2E_ZONE_BIN points the suite at another build (it is not passed to children). */
export const ZONE_BIN =
  process.env.MOORING_E2E_ZONE_BIN ?? fileURLToPath(new URL("../../zone/bin/mooring-zone.js", import.meta.url));

/** The name this module's children are tracked under, so `killAllZones()` leaves the global alone. */
const NAME = "mooring-zone";

export interface ZoneProcess extends ServiceProcess {
  /** The zone name it was started with. */
  readonly zone: string;
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly http: string;
  /** The DNS listener, `127.0.0.1:<port>` (UDP and TCP), as logged; undefined when MOORING_DNS_ADDR=off. */
  readonly dns: string | undefined;
}

export interface ZoneStartOptions {
  /** MOORING_ZONE. */
  readonly zone: string;
  /** MOORING_GLOBAL: the global's gRPC address, `127.0.0.1:<port>` (a TCP proxy's, for fault injection). */
  readonly global: string;
  /** A zone token (GlobalProcess.zoneToken): written to a file in the data dir, MOORING_ZONE_TOKEN_FILE. */
  readonly token?: string;
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
  const tokenFile = join(dataDir, "zone.token");
  if (options.token !== undefined) await writeFile(tokenFile, `${options.token}\n`, { mode: 0o600 });
  const service = await startServiceProcess({
    name: NAME,
    bin: ZONE_BIN,
    env: childEnv({
      MOORING_ZONE: options.zone,
      MOORING_GLOBAL: options.global,
      MOORING_DATA_DIR: dataDir,
      MOORING_HTTP_ADDR: "127.0.0.1:0",
      // Port 0, not the default 5653: tests run in parallel.
      MOORING_DNS_ADDR: "127.0.0.1:0",
      MOORING_LOG_LEVEL: "info",
      ...(options.token !== undefined ? { MOORING_ZONE_TOKEN_FILE: tokenFile } : {}),
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
  await readAdminToken(dataDir, `http://${http}`);
  const { dns } = service.ready;
  return {
    ...service,
    zone: options.zone,
    http: `http://${http}`,
    dns: typeof dns === "string" && dns !== "off" ? dns : undefined,
  };
}
