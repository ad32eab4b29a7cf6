// Wiring only: configuration, store, allocator, manager, REST and gRPC servers, signals.
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  type AdminAuth,
  adminAuthOf,
  createLogger,
  exitOnSignals,
  formatAddress,
  type Logger,
  loadConfigOrExit,
  startOrExit,
} from "@mooring/shared";
import { build } from "./api/app.js";
import { createZoneTokens } from "./auth/zone-tokens.js";
import { type GlobalConfig, loadGlobalConfig } from "./config.js";
import { startGrpcServer } from "./grpc/server.js";
import { createManager } from "./manager/manager.js";
import { createZoneManager } from "./manager/zones.js";
import { createMetrics } from "./metrics.js";
import { createSqliteStore } from "./store/sqlite-store.js";
import type { Fdatasync } from "./store/wal-sync.js";
import { createSyncHub, type SyncHub } from "./sync/hub.js";
import { createReconnectLimit } from "./sync/reconnect-limit.js";
import { createVipAllocator } from "./vip/allocator.js";

export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

export interface RunningGlobal {
  readonly httpAddress: string;
  readonly grpcAddress: string;
  close(): Promise<void>;
}

/** What tests put in place of the operating system's parts. */
export interface GlobalSeams {
  /** Syncs the WAL after a REST group's commit (default `fs.fdatasync`): held back to see what waits for it. */
  readonly fdatasync?: Fdatasync;
}

export async function startGlobal(
  config: GlobalConfig,
  logger: Logger,
  seams: GlobalSeams = {},
): Promise<RunningGlobal> {
  const dbPath = join(config.dataDir, "global.db");
  const store = createSqliteStore({
    path: dbPath,
    synchronous: config.dbSync,
    ...(seams.fdatasync ? { fdatasync: seams.fdatasync } : {}),
  });
  const metrics = createMetrics(store);
  const allocator = createVipAllocator(store, {
    ranges: config.vipCidrs,
    quarantineMs: config.vipQuarantine,
    onEvent: (event, family) => metrics.vipEvents.inc({ event, family: String(family) }),
    onExhausted: (family) => metrics.vipExhausted.inc({ family: String(family) }),
  });
  // The hub is created after the manager it observes; commits reach it through this indirection.
  let hub: SyncHub | undefined;
  const manager = createManager(store, allocator, { onChange: () => hub?.notify() });
  const zones = createZoneManager(store, manager, allocator, { maxServicesPerZone: config.zoneMaxServices });
  const zoneTokens = await createZoneTokens({ dataDir: config.dataDir, store }).catch((error: unknown) => {
    store.close();
    throw error;
  });
  let auth: AdminAuth | undefined;
  try {
    auth = adminAuthOf(config, config.dataDir, logger);
  } catch (error) {
    store.close();
    throw error;
  }
  const tls = readTls(config);
  hub = createSyncHub({
    store,
    zones,
    metrics,
    logger,
    heartbeatMs: config.syncHeartbeat,
    maxMessageBytes: config.syncMaxMessage,
    changelogMaxEntries: config.changelogMaxEntries,
    changelogMaxAgeMs: config.changelogMaxAge,
    reconnectLimit: createReconnectLimit({
      burst: config.syncReconnectBurst,
      intervalMs: config.syncReconnectInterval,
    }),
    // Zones authenticate exactly when admin requests do: both follow MOORING_AUTH.
    ...(auth ? { authenticate: (token: string, zone: string) => zoneTokens.verify(token, zone) } : {}),
  });
  const sync = hub;
  const app = await build({
    manager,
    store,
    metrics,
    hub: sync,
    logger,
    bodyLimit: config.httpBodyLimit,
    version: VERSION,
    zoneTokens,
    ...(auth ? { auth } : {}),
    ...(tls ? { https: { cert: tls.cert, key: tls.key } } : {}),
  });
  try {
    await app.listen({ host: config.httpAddr.host, port: config.httpAddr.port });
  } catch (error) {
    store.close();
    throw error;
  }
  const grpcServer = await startGrpcServer(config.grpcAddr, {
    sync: (call) => sync.accept(call),
    maxMessageBytes: config.syncMaxMessage,
    // Bytes sent are counted per Changes frame by the sessions (a batch is encoded once for every zone).
    messageSizes: { request: (bytes) => metrics.syncBytesReceived.inc(bytes) },
    ...(tls ? { tls } : {}),
  }).catch(async (error: unknown) => {
    sync.close();
    await app.close();
    store.close();
    throw error;
  });
  const bound = app.server.address() as AddressInfo;
  const httpAddress = formatAddress({ host: config.httpAddr.host, port: bound.port });
  logger.info(
    {
      http: httpAddress,
      grpc: grpcServer.address,
      dataDir: config.dataDir,
      epoch: store.epoch,
      vipCidrs: config.vipCidrs.map((range) => range.cidr),
      auth: config.auth,
      tls: tls ? (tls.clientCa ? "mutual" : "server") : "off",
      version: VERSION,
    },
    "listening",
  );
  let closing: Promise<void> | undefined;
  return {
    httpAddress,
    grpcAddress: grpcServer.address,
    close() {
      closing ??= (async () => {
        // Zones are told first, so they start reconnecting while the rest shuts down.
        sync.close();
        await app.close();
        await grpcServer.close();
        store.close();
      })();
      return closing;
    },
  };
}

/** The TLS material named by the configuration, read once at start. */
function readTls(config: GlobalConfig): { cert: Buffer; key: Buffer; clientCa?: Buffer } | undefined {
  if (!config.tlsCert || !config.tlsKey) return undefined;
  return {
    cert: readFileSync(config.tlsCert),
    key: readFileSync(config.tlsKey),
    ...(config.syncClientCa ? { clientCa: readFileSync(config.syncClientCa) } : {}),
  };
}

/** The `mooring-global` command. */
export async function runMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfigOrExit(() => loadGlobalConfig(argv, env, VERSION));
  const logger = createLogger({ level: config.logLevel, service: "global" });
  const running = await startOrExit(() => startGlobal(config, logger), logger);
  exitOnSignals(running, logger);
}
