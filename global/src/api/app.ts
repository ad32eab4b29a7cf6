// `build()` assembles the REST API without listening, so tests drive it with `app.inject()`.

import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { type AdminAuth, createHttpApp, registerAdminAuth } from "@mooring/shared";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { ZoneTokens } from "../auth/zone-tokens.js";
import type { Manager } from "../manager/manager.js";
import type { GlobalMetrics } from "../metrics.js";
import { createRestWrites } from "../store/rest-writes.js";
import type { SqliteStore } from "../store/sqlite-store.js";
import type { SyncHub } from "../sync/hub.js";
import { healthRoutes } from "./health.js";
import { meshServiceRoutes } from "./meshservices.js";
import { vipRoutes } from "./vips.js";
import { zoneTokenRoutes } from "./zone-tokens.js";
import { zoneRoutes } from "./zones.js";

export interface BuildOptions {
  readonly manager: Manager;
  readonly store: SqliteStore;
  readonly metrics: GlobalMetrics;
  /** Zone sync; without it (REST-only tests) the /zones routes are not registered. */
  readonly hub?: SyncHub;
  readonly logger: Logger;
  readonly bodyLimit: number;
  readonly version: string;
  /** Admin authentication; absent: MOORING_AUTH=off. */
  readonly auth?: AdminAuth;
  /** Zone token issuing and revocation; without it the /zone-tokens routes are not registered. */
  readonly zoneTokens?: ZoneTokens;
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
}

export type GlobalApp = FastifyInstance;

export async function build(options: BuildOptions): Promise<GlobalApp> {
  const app = createHttpApp({
    logger: options.logger,
    bodyLimit: options.bodyLimit,
    metrics: options.metrics,
    service: "global",
    ...(options.https ? { https: options.https } : {}),
  });
  if (options.auth) {
    const { metrics } = options;
    registerAdminAuth(app, {
      ...options.auth,
      onRefused: (reason) => metrics.authRefused.inc({ kind: "admin", reason }),
    });
  }

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Mooring global control plane",
        version: options.version,
        description: "MeshServices and their VIP leases. Errors are {code, message, details: [{field, reason}]}.",
      },
      tags: [{ name: "MeshService" }, { name: "VIP" }, { name: "Zone" }, { name: "Operations" }],
      components: {
        securitySchemes: { adminToken: { type: "http", scheme: "bearer", description: "the admin-token file" } },
      },
      security: options.auth ? [{ adminToken: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  // Concurrent REST writes share one transaction and one fsync, each acknowledged once durable.
  const { store } = options;
  const writes = createRestWrites(store);
  // A read may see commits still waiting for their fsync (see wal-sync.ts): its answer waits for
  // them, so nothing is shown that a power loss could take back. Writes answer once durable anyway.
  app.addHook("onSend", async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") return;
    const durable = store.settled();
    if (durable) await durable;
  });
  await app.register(meshServiceRoutes, { manager: options.manager, writes });
  await app.register(vipRoutes, { manager: options.manager, writes });
  if (options.hub) await app.register(zoneRoutes, { hub: options.hub, store: options.store });
  if (options.zoneTokens) {
    await app.register(zoneTokenRoutes, {
      tokens: options.zoneTokens,
      store: options.store,
      ...(options.hub ? { hub: options.hub } : {}),
    });
  }
  await app.register(healthRoutes, { store: options.store, metrics: options.metrics });
  return app as unknown as GlobalApp;
}
