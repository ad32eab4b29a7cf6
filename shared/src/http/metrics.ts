import { Counter, Histogram, type Registry } from "prom-client";
import type { HttpMetrics } from "./app.js";

/** The REST request metrics, the same names on the global and on zones. */
export function createHttpMetrics(registry: Registry): HttpMetrics {
  const registers = [registry];
  return {
    httpRequests: new Counter({
      name: "mooring_http_requests_total",
      help: "REST requests by method, route and status",
      labelNames: ["method", "route", "status"] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: "mooring_http_request_duration_seconds",
      help: "REST request latency",
      labelNames: ["method", "route"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  };
}
