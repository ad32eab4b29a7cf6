// `build()` assembles the REST API without listening, so tests drive it with `app.inject()`.

import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { MooringError } from "@mooring/shared";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import type { Logger } from "pino";
import type { Manager } from "../manager/manager.js";
import type { GlobalMetrics } from "../metrics.js";
import type { SqliteStore } from "../store/sqlite-store.js";
import { healthRoutes } from "./health.js";
import { meshServiceRoutes } from "./meshservices.js";
import { createValidatorCompiler, toMooringError } from "./validation.js";
import { vipRoutes } from "./vips.js";

export interface BuildOptions {
  readonly manager: Manager;
  readonly store: SqliteStore;
  readonly metrics: GlobalMetrics;
  readonly logger: Logger;
  readonly bodyLimit: number;
  readonly version: string;
}

export type GlobalApp = FastifyInstance;

export async function build(options: BuildOptions): Promise<GlobalApp> {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: "http" }),
    // Per-request lines are replaced by the mooring_http_* metrics; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.setValidatorCompiler(createValidatorCompiler());
  // JSON only: a text/plain body is answered 415, not parsed into a string and then rejected.
  app.removeContentTypeParser("text/plain");

  app.setErrorHandler((error, request, reply) => {
    const known = toMooringError(error);
    if (known) {
      if (known.httpStatus >= 500) request.log.error({ err: known }, known.message);
      return reply.code(known.httpStatus).send(known.toBody());
    }
    // Unknown failures are logged with their cause and answered without it.
    request.log.error({ err: error, url: request.url }, "request failed");
    const internal = new MooringError("INTERNAL", "internal error; see the global's log");
    return reply.code(internal.httpStatus).send(internal.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new MooringError("ROUTE_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`);
    return reply.code(error.httpStatus).send(error.toBody());
  });

  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    options.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    options.metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Mooring global control plane",
        version: options.version,
        description: "MeshServices and their VIP leases. Errors are {code, message, details: [{field, reason}]}.",
      },
      tags: [{ name: "MeshService" }, { name: "VIP" }, { name: "Operations" }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  await app.register(meshServiceRoutes, { manager: options.manager });
  await app.register(vipRoutes, { manager: options.manager });
  await app.register(healthRoutes, { store: options.store, metrics: options.metrics });
  return app as unknown as GlobalApp;
}
