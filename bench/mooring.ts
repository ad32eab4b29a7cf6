// The Mooring side of the benchmark: the real bins as child processes, a global's database seeded
// before it starts, and the REST client every scenario writes through.
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import {
  createManager,
  createSqliteStore,
  createVipAllocator,
  type Manager,
  parseCidrList,
  type SqliteStore,
} from "@mooring/global";
import { type Child, type LogLine, logTime, startChild } from "./child.js";
import { GLOBAL_BIN, MOORING_ENV, REPO_ROOT, ZONE_BIN, ZONE_ENV } from "./config.js";

export interface MooringProcess extends Child {
  /** The "listening" line. */
  readonly ready: LogLine;
  readonly dataDir: string;
}

export interface GlobalProcess extends MooringProcess {
  /** `http://127.0.0.1:<port>` */
  readonly http: string;
  /** `127.0.0.1:<port>` */
  readonly grpc: string;
}

export interface ZoneProcess extends MooringProcess {
  readonly zone: string;
  readonly http: string;
  /** When the zone logged "listening", epoch ms (its own clock: the same machine's). */
  readonly listeningAt: number;
}

export interface ProfileOptions {
  /** `--cpu-prof-dir`; no profiling when undefined. */
  readonly dir: string | undefined;
  /** The profile's file name without extension: unique per process. */
  readonly label: string;
}

/** The environment of a Mooring child: the parent's without any MOORING_* setting, plus the benchmark's. */
function mooringEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("MOORING_")) env[key] = value;
  }
  return { ...env, ...MOORING_ENV, ...extra };
}

function nodeArgs(profile: ProfileOptions | undefined): string[] {
  if (profile?.dir === undefined) return [];
  return ["--cpu-prof", `--cpu-prof-dir=${profile.dir}`, `--cpu-prof-name=${profile.label}.cpuprofile`];
}

async function startMooring(
  name: string,
  bin: string,
  dataDir: string,
  env: Record<string, string>,
  profile: ProfileOptions | undefined,
): Promise<{ child: Child; ready: LogLine }> {
  const child = startChild({
    name,
    command: process.execPath,
    args: [...nodeArgs(profile), bin],
    env: mooringEnv({ MOORING_DATA_DIR: dataDir, MOORING_HTTP_ADDR: "127.0.0.1:0", ...env }),
    cwd: REPO_ROOT,
  });
  try {
    const ready = await child.waitForLog((line) => line.msg === "listening", 60_000);
    return { child, ready };
  } catch (error) {
    await child.kill9();
    throw error;
  }
}

export async function startGlobal(
  dataDir: string,
  profile?: ProfileOptions,
  env: Record<string, string> = {},
): Promise<GlobalProcess> {
  const { child, ready } = await startMooring(
    "global",
    GLOBAL_BIN,
    dataDir,
    { MOORING_GRPC_ADDR: "127.0.0.1:0", ...env },
    profile,
  );
  const { http, grpc } = ready;
  if (typeof http !== "string" || typeof grpc !== "string") throw new Error(`no addresses in ${JSON.stringify(ready)}`);
  return { ...child, ready, dataDir, http: `http://${http}`, grpc };
}

export async function startZone(options: {
  zone: string;
  global: string;
  dataDir: string;
  profile?: ProfileOptions;
  env?: Record<string, string>;
}): Promise<ZoneProcess> {
  const { child, ready } = await startMooring(
    options.zone,
    ZONE_BIN,
    options.dataDir,
    { ...ZONE_ENV, MOORING_ZONE: options.zone, MOORING_GLOBAL: options.global, ...options.env },
    options.profile,
  );
  const { http } = ready;
  if (typeof http !== "string") throw new Error(`no address in ${JSON.stringify(ready)}`);
  return {
    ...child,
    ready,
    dataDir: options.dataDir,
    zone: options.zone,
    http: `http://${http}`,
    listeningAt: logTime(ready),
  };
}

/** The zone's "synced" line: its first batch of a session is applied, committed and acknowledged. */
export function isSynced(line: LogLine): boolean {
  return line.msg === "synced";
}

/** MeshService-sized content: the shape `seedServices` (global/src/sync/sync-harness.ts) writes. */
export function serviceBody(name: string, extraLabels: Record<string, string> = {}) {
  return {
    labels: { app: name, team: "payments", ...extraLabels },
    spec: { ports: [{ name: "http", port: 8080, appProtocol: "http" as const }] },
  };
}

export const SEED_MESH = "default";
export const seedName = (i: number) => `seed-${i}`;

/** A global's database with its VIP allocator (the global's default range) and manager, in this process. */
export function openGlobalStore(
  path: string,
  synchronous: "full" | "normal",
): { store: SqliteStore; manager: Manager } {
  const store = createSqliteStore({ path, synchronous });
  const allocator = createVipAllocator(store, { ranges: parseCidrList("241.0.0.0/8"), quarantineMs: 3_600_000 });
  return { store, manager: createManager(store, allocator) };
}

/**
 * A global database with `count` services (VIPs leased, change log written), made once per size in
 * `cacheDir` and copied into `dataDir`: seeding 100,000 services through the manager takes seconds.
 */
export function seedGlobalDatabase(cacheDir: string, dataDir: string, count: number): { seededMs: number } {
  const template = join(cacheDir, `global-${count}`);
  let seededMs = 0;
  if (!existsSync(join(template, "global.db"))) {
    mkdirSync(template, { recursive: true });
    const started = performance.now();
    const { store, manager } = openGlobalStore(join(template, "global.db"), "normal");
    store.transaction(() => {
      for (let i = 0; i < count; i++) {
        manager.putMeshService({ mesh: SEED_MESH, zone: "", name: seedName(i) }, serviceBody(seedName(i)));
      }
    });
    store.close();
    seededMs = performance.now() - started;
  }
  mkdirSync(dataDir, { recursive: true });
  for (const suffix of ["", "-wal", "-shm"]) {
    const file = join(template, `global.db${suffix}`);
    if (existsSync(file)) copyFileSync(file, join(dataDir, `global.db${suffix}`));
  }
  return { seededMs };
}

export interface RestResponse {
  readonly status: number;
  readonly body: string;
}

export interface RestClient {
  put(path: string, body: unknown): Promise<RestResponse>;
  get(path: string): Promise<RestResponse>;
  close(): void;
}

/** Keep-alive HTTP/1.1 with at most `sockets` connections: lighter per request than fetch. */
export function createRestClient(base: string, sockets: number): RestClient {
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const send = (method: string, path: string, payload?: string) =>
    new Promise<RestResponse>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method,
          path,
          headers:
            payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  return {
    put: (path, body) => send("PUT", path, JSON.stringify(body)),
    get: (path) => send("GET", path),
    close: () => agent.destroy(),
  };
}

/** The value of one Prometheus sample without labels (0 when the series does not exist yet). */
export async function metric(client: RestClient, name: string): Promise<number> {
  const { body } = await client.get("/metrics");
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(body);
  return match ? Number(match[1]) : 0;
}

/** The revision a successful PUT answered with. */
export function revisionOf(response: RestResponse): number {
  if (response.status !== 200 && response.status !== 201) {
    throw new Error(`PUT answered ${response.status}: ${response.body.slice(0, 300)}`);
  }
  const parsed = JSON.parse(response.body) as { revision?: unknown };
  if (typeof parsed.revision !== "number") throw new Error(`PUT answer without a revision: ${response.body}`);
  return parsed.revision;
}
