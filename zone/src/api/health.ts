import { MooringError } from "@mooring/shared";
import type { FastifyPluginAsync } from "fastify";
import type { SyncClient } from "../client/sync-client.js";
import type { ZoneMetrics } from "../metrics.js";
import type { ZoneStore } from "../store/zone-store.js";

export interface HealthRoutesOptions {
  readonly store: ZoneStore;
  readonly metrics: ZoneMetrics;
  readonly client: Pick<SyncClient, "status">;
}

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { store, metrics, client }) => {
  // Liveness: the process answers.
  app.get("/healthz", async () => ({ status: "ok" }));

  // Ready means the local state is open and answers, connected or not: a zone cut off from the
  // global keeps serving what it last had (stale but available), and /sync says how stale.
  app.get("/readyz", async (_, reply) => {
    try {
      store.ping();
      return { status: "ready", sync: client.status().state, storeId: store.storeId };
    } catch (error) {
      app.log.warn({ err: error }, "store is not answering");
      const notReady = new MooringError("NOT_READY", "the store is not open");
      return reply.code(notReady.httpStatus).send(notReady.toBody());
    }
  });

  app.get("/metrics", async (_, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
