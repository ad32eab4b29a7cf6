// Admin authentication for a REST API: writes (and, when configured, reads) need
// `Authorization: Bearer <admin token>`. Probes and metrics stay open so that orchestrators and
// Prometheus need no secret. Runs in onRequest, before a body is read.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AdminToken } from "../auth/admin-token.js";
import { MooringError } from "../errors.js";

/** Paths served without a token whatever the settings. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"]);
const READ_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

export interface AdminAuthOptions {
  readonly token: AdminToken;
  /** "token": reads need the token too; "open": only writes do. */
  readonly reads: "open" | "token";
  /** Counts refused requests by reason. */
  readonly onRefused?: (reason: "missing" | "malformed" | "invalid") => void;
}

function refuse(reply: FastifyReply, message: string): FastifyReply {
  const error = new MooringError("UNAUTHENTICATED", message);
  return reply.code(error.httpStatus).header("www-authenticate", 'Bearer realm="mooring"').send(error.toBody());
}

export function registerAdminAuth(app: FastifyInstance, options: AdminAuthOptions): void {
  // Clients are told which file to look for, not the server's absolute path.
  const where = "the control plane keeps it in the file admin-token of its data directory";
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0] ?? "";
    if (OPEN_PATHS.has(path)) return;
    if (options.reads === "open" && READ_METHODS.has(request.method)) return;
    const header = request.headers.authorization;
    if (header === undefined || header.trim() === "") {
      options.onRefused?.("missing");
      request.log.info({ method: request.method, url: path, ip: request.ip }, "request without an admin token refused");
      return refuse(
        reply,
        `${request.method} ${path} needs an admin token: send "Authorization: Bearer <token>"; ${where}`,
      );
    }
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match?.[1]) {
      options.onRefused?.("malformed");
      return refuse(reply, 'the Authorization header must be "Bearer <admin token>"');
    }
    if (!options.token.matches(match[1])) {
      options.onRefused?.("invalid");
      request.log.warn(
        { method: request.method, url: path, ip: request.ip },
        "request with a wrong admin token refused",
      );
      return refuse(reply, `the admin token is not valid; ${where}`);
    }
  });
}
