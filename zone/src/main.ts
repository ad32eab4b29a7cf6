// Wiring only: configuration, store, manager, REST API, sync client, DNS, signals.
import { randomUUID } from "node:crypto";
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
import { createSyncClient, type SyncClient } from "./client/sync-client.js";
import { loadZoneConfig, type ZoneConfig } from "./config.js";
import { answerQuery } from "./dns/answer.js";
import { createNameLookup } from "./dns/name-lookup.js";
import { type DnsServer, startDnsServer } from "./dns/server.js";
import { createManager } from "./manager/manager.js";
import { createMetrics } from "./metrics.js";
import { createZoneStore } from "./store/zone-store.js";
import { VERSION } from "./version.js";

export { VERSION };

/** The exit status of a zone the global told never to come back (superseded or decommissioned). */
export const EXIT_FINAL_GOODBYE = 3;

export interface RunningZone {
  readonly httpAddress: string;
  /** The DNS listener's `host:port` (UDP and TCP); undefined when MOORING_DNS_ADDR is off. */
  readonly dnsAddress: string | undefined;
  readonly client: SyncClient;
  readonly storeId: string;
  readonly instanceId: string;
  close(): Promise<void>;
}

export interface StartZoneOptions {
  /** Defaults to a fresh UUID: one per process. */
  readonly instanceId?: string;
  /** The reconnect backoff's jitter source; tests make it deterministic. */
  readonly random?: () => number;
}

export async function startZone(
  config: ZoneConfig,
  logger: Logger,
  options: StartZoneOptions = {},
): Promise<RunningZone> {
  const instanceId = options.instanceId ?? randomUUID();
  const dataDir = config.dataDir;
  // The local state is open and loaded before anything is served.
  const store = createZoneStore({
    path: join(dataDir, `zone-${config.zone}.db`),
    synchronous: config.dbSync,
    zone: config.zone,
  });
  const metrics = createMetrics(store);
  const client = createSyncClient({
    config,
    store,
    logger,
    metrics,
    instanceId,
    version: VERSION,
    ...(options.random ? { random: options.random } : {}),
  });
  const manager = createManager(store, {
    zone: config.zone,
    maxMessageBytes: config.syncMaxMessage,
    onLocalWrite: () => client.nudge(),
  });
  let auth: AdminAuth | undefined;
  try {
    auth = adminAuthOf(config, dataDir, logger);
  } catch (error) {
    store.close();
    throw error;
  }
  const app = await build({
    manager,
    store,
    client,
    metrics,
    logger,
    bodyLimit: config.httpBodyLimit,
    ...(auth ? { auth } : {}),
  });
  try {
    await app.listen({ host: config.httpAddr.host, port: config.httpAddr.port });
  } catch (error) {
    await app.close();
    store.close();
    throw error;
  }
  const bound = app.server.address() as AddressInfo;
  const httpAddress = formatAddress({ host: config.httpAddr.host, port: bound.port });
  let dns: DnsServer | undefined;
  if (config.dnsAddr) {
    try {
      // DNS reads the store at query time: what a committed batch or local write changed is answered at once.
      const lookup = createNameLookup(store);
      dns = await startDnsServer({
        address: config.dnsAddr,
        answer: (request) => answerQuery(request, lookup),
        logger,
        onQuery: ({ type, rcode }) => metrics.dnsQueries.inc({ type, rcode }),
      });
    } catch (error) {
      await app.close();
      store.close();
      throw error;
    }
  }
  logger.info(
    {
      http: httpAddress,
      dns: dns?.address ?? "off",
      zone: config.zone,
      global: formatAddress(config.global),
      dataDir,
      storeId: store.storeId,
      instanceId,
      version: VERSION,
    },
    "listening",
  );
  client.start();

  let closing: Promise<void> | undefined;
  return {
    httpAddress,
    dnsAddress: dns?.address,
    client,
    storeId: store.storeId,
    instanceId,
    close() {
      closing ??= (async () => {
        // No new local writes or DNS answers first; then tell the global goodbye; the store last.
        await Promise.all([app.close(), dns?.close()]);
        await client.close();
        store.close();
      })();
      return closing;
    },
  };
}

/** The `mooring-zone` command. */
export async function runMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfigOrExit(() => loadZoneConfig(argv, env, VERSION));
  const logger = createLogger({ level: config.logLevel, service: "zone" }).child({ zone: config.zone });
  const running = await startOrExit(() => startZone(config, logger), logger);
  const exit = exitOnSignals(running, logger);
  running.client.on("stopped", ({ reason, final }) => {
    if (!final) return;
    // Another process of this zone took over, or the zone was decommissioned: running on would
    // fight the new owner or resurrect a removed zone. A supervisor should not restart it blindly.
    if (exit(EXIT_FINAL_GOODBYE)) {
      logger.error({ reason, exitCode: EXIT_FINAL_GOODBYE }, "the global ended this zone for good; exiting");
    }
  });
}
