import { MooringError } from "@mooring/shared";
import type { FastifyPluginAsync } from "fastify";
import type { GlobalMetrics } from "../metrics.js";
import type { SqliteStore } from "../store/sqlite-store.js";

export const healthRoutes: FastifyPluginAsync<{ store: SqliteStore; metrics: GlobalMetrics }> = async (
  app,
  { store, metrics },
) => {
  const tags = ["Operations"];

  app.get("/healthz", { schema: { tags, summary: "Liveness: the process answers" } }, async () => ({ status: "ok" }));

  app.get("/readyz", { schema: { tags, summary: "Readiness: the store is open and answers" } }, async (_, reply) => {
    try {
      store.ping();
      return { status: "ready", epoch: store.epoch };
    } catch (error) {
      app.log.warn({ err: error }, "store is not answering");
      const notReady = new MooringError("NOT_READY", "the store is not open");
      return reply.code(notReady.httpStatus).send(notReady.toBody());
    }
  });

  app.get("/metrics", { schema: { tags, summary: "Prometheus metrics" } }, async (_, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
