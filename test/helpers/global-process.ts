// Runs the real `mooring-global` bin as a child process, the way an operator would: its own data
// directory, ports picked by the OS, readiness taken from the "listening" log line. The spawning and
// log-waiting machinery is in process.ts; this file adds the global's settings and addresses.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { authorize, requestJson } from "./http.js";
import {
  type CommandResult,
  childEnv,
  killProcesses,
  makeTempDir,
  runCommand as runNamedCommand,
  type ServiceProcess,
  startServiceProcess,
} from "./process.js";

export type { CommandResult, ExitStatus } from "./process.js";
export { childEnv, makeTempDir, REPO_ROOT, removeTempDirs } from "./process.js";

/** The bin under test; MOORING_E2E_GLOBAL_BIN points the suite at another build (it is not passed to children). */
export const GLOBAL_BIN =
  process.env.MOORING_E2E_GLOBAL_BIN ?? fileURLToPath(new URL("../../global/bin/mooring-global.js", import.meta.url));

/** The name this module's children are tracked under, so `killAllGlobals()` leaves zones alone. */
const NAME = "mooring-global";

export interface GlobalProcess extends ServiceProcess {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly http: string;
  /** `127.0.0.1:<port>`, as logged. */
  readonly grpc: string;
  /** The admin token the global wrote to its data dir; undefined with MOORING_AUTH=off. */
  readonly adminToken: string | undefined;
  /** Issues a zone token through `POST /zone-tokens` (valid for an hour unless said otherwise). */
  zoneToken(zone: string, validFor?: string): Promise<string>;
}

/** The admin token a control plane wrote to `dataDir`, registered for `http`'s origin. */
export async function readAdminToken(dataDir: string, http: string): Promise<string | undefined> {
  const token = await readFile(join(dataDir, "admin-token"), "utf8").then(
    (text) => text.trim(),
    () => undefined,
  );
  if (token !== undefined) authorize(http, token);
  return token;
}

export interface StartOptions {
  /** Reuse a data directory (restart); a fresh temp directory otherwise. */
  readonly dataDir?: string;
  /** Extra MOORING_* settings; the addresses and data dir are set by the helper unless given here. */
  readonly env?: Readonly<Record<string, string>>;
  readonly args?: readonly string[];
  readonly timeoutMs?: number;
}

/** SIGKILLs every process started by this module that is still running. For afterEach/afterAll. */
export function killAllGlobals(): Promise<void> {
  return killProcesses(NAME);
}

export async function startGlobalProcess(options: StartOptions = {}): Promise<GlobalProcess> {
  const dataDir = options.dataDir ?? (await makeTempDir());
  const service = await startServiceProcess({
    name: NAME,
    bin: GLOBAL_BIN,
    env: childEnv({
      MOORING_DATA_DIR: dataDir,
      MOORING_HTTP_ADDR: "127.0.0.1:0",
      MOORING_GRPC_ADDR: "127.0.0.1:0",
      ...options.env,
    }),
    args: options.args,
    dataDir,
    timeoutMs: options.timeoutMs,
  });
  const { http, grpc } = service.ready;
  if (typeof http !== "string" || typeof grpc !== "string") {
    await service.kill9();
    throw new Error(`the "listening" line has no http/grpc address: ${JSON.stringify(service.ready)}`);
  }
  const base = `http://${http}`;
  const adminToken = await readAdminToken(dataDir, base);
  return {
    ...service,
    http: base,
    grpc,
    adminToken,
    async zoneToken(zone, validFor = "1h") {
      const issued = await requestJson<{ token?: string }>("POST", `${base}/zone-tokens`, { zone, validFor });
      if (issued.status !== 201 || typeof issued.body.token !== "string") {
        throw new Error(`POST /zone-tokens answered ${issued.status}: ${JSON.stringify(issued.body)}`);
      }
      return issued.body.token;
    },
  };
}

/** Runs a command to completion (SIGKILLed after `timeoutMs`), capturing its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return runNamedCommand(command, args, { ...options, name: NAME });
}

/** Runs the global bin once, for start-up failures and --help. */
export function runGlobalOnce(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs = 20_000,
): Promise<CommandResult> {
  return runCommand(process.execPath, [GLOBAL_BIN, ...args], { env: childEnv(env), timeoutMs });
}
