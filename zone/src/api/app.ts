// `build()` assembles the zone's REST API without listening, so tests drive it with `app.inject()`.
import { type AdminAuth, createHttpApp, registerAdminAuth } from "@mooring/shared";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { SyncClient } from "../client/sync-client.js";
import type { ZoneManager } from "../manager/manager.js";
import type { ZoneMetrics } from "../metrics.js";
import type { ZoneStore } from "../store/zone-store.js";
import { healthRoutes } from "./health.js";
import { meshServiceRoutes } from "./meshservices.js";
import { syncRoutes } from "./sync.js";

export interface BuildOptions {
  readonly manager: ZoneManager;
  readonly store: ZoneStore;
  readonly client: Pick<SyncClient, "status">;
  readonly metrics: ZoneMetrics;
  readonly logger: Logger;
  readonly bodyLimit: number;
  /** Admin authentication of the zone's own writes; absent: MOORING_AUTH=off. */
  readonly auth?: AdminAuth;
}

export type ZoneApp = FastifyInstance;

export async function build(options: BuildOptions): Promise<ZoneApp> {
  const app = createHttpApp({
    logger: options.logger,
    bodyLimit: options.bodyLimit,
    metrics: options.metrics,
    service: "zone",
  });
  if (options.auth) registerAdminAuth(app, options.auth);
  await app.register(meshServiceRoutes, { manager: options.manager, zone: options.store.zone });
  await app.register(syncRoutes, { client: options.client });
  await app.register(healthRoutes, { store: options.store, metrics: options.metrics, client: options.client });
  return app;
}
