// The REST plumbing both control planes share: one error shape, JSON only, unknown routes answered
// with a code, and request metrics by route. Each side registers its own routes on top.
import Fastify, { type FastifyInstance, type FastifyReply, LogController } from "fastify";
import type { Logger } from "pino";
import type { Counter, Histogram } from "prom-client";
import { MooringError, validationError } from "../errors.js";
import { createValidatorCompiler, toMooringError } from "./validation.js";

export interface HttpMetrics {
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route">;
}

export interface HttpAppOptions {
  readonly logger: Logger;
  readonly bodyLimit: number;
  readonly metrics: HttpMetrics;
  /** Named in the message of an internal error: "see the global's log". */
  readonly service: string;
  /** Serve HTTPS with this certificate chain and key (PEM) instead of plain HTTP. */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
}

export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: "http" }),
    // Per-request lines are replaced by the mooring_http_* metrics; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key } } : {}),
    // A path that is not valid percent-encoding never reaches a route: answer it in Mooring's shape.
    frameworkErrors: (error, _request, reply) => {
      const known =
        error.code === "FST_ERR_BAD_URL"
          ? validationError([{ field: "url", reason: "is not valid percent-encoding" }])
          : new MooringError("MALFORMED_REQUEST", error.message);
      (reply as unknown as FastifyReply).code(known.httpStatus).send(known.toBody());
    },
    // Requests Node's parser rejects (bad request line, framing, oversized headers) have no route
    // and no reply object: write a complete response on the socket, in Mooring's error shape.
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return;
      const known =
        (error as NodeJS.ErrnoException).code === "HPE_HEADER_OVERFLOW"
          ? new MooringError("HEADERS_TOO_LARGE", "the request's headers exceed 16KiB")
          : new MooringError("MALFORMED_REQUEST", "the request is not valid HTTP/1.1");
      const body = JSON.stringify(known.toBody());
      socket.end(
        `HTTP/1.1 ${known.httpStatus} ${known.httpStatus === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
          `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
  }) as unknown as FastifyInstance;
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
    const internal = new MooringError("INTERNAL", `internal error; see the ${options.service}'s log`);
    return reply.code(internal.httpStatus).send(internal.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new MooringError("ROUTE_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`);
    return reply.code(error.httpStatus).send(error.toBody());
  });

  // close() ends the connections idle at that moment; one busy then, once answered, would sit in
  // keep-alive for 72 s and hold the process up. Keep closing idle ones until the server is closed.
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook("preClose", (done) => {
    sweeper = setInterval(() => app.server.closeIdleConnections(), 100);
    sweeper.unref();
    done();
  });
  app.addHook("onClose", (_instance, done) => {
    clearInterval(sweeper);
    done();
  });

  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    options.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    options.metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  return app as unknown as FastifyInstance;
}
