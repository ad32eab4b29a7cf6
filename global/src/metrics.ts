import { createHttpMetrics } from "@mooring/shared";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { SqliteStore } from "./store/sqlite-store.js";

export type GlobalMetrics = ReturnType<typeof createMetrics>;

type Rows<L extends string> = Array<[Partial<Record<L, string>>, number]>;

/** Replaces a gauge's series with counts read at scrape time; a closed store (shutdown) is not read. */
function fill<L extends string>(store: SqliteStore, gauge: Gauge<L>, rows: () => Rows<L>): void {
  if (!store.isOpen()) return;
  gauge.reset();
  for (const [labels, value] of rows()) gauge.set(labels, value);
}

/** One registry per global instance (not prom-client's default), so tests can run several. */
export function createMetrics(store: SqliteStore) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "mooring_global_" });
  const registers = [registry];
  return {
    registry,
    ...createHttpMetrics(registry),
    vipEvents: new Counter({
      name: "mooring_vip_events_total",
      help: "VIP lease events: allocate, rebind, release, reclaim, pin, delete",
      labelNames: ["event", "family"] as const,
      registers,
    }),
    vipExhausted: new Counter({
      name: "mooring_vip_exhausted_total",
      help: "allocations refused because every address of a family was leased or in quarantine",
      labelNames: ["family"] as const,
      registers,
    }),
    leases: new Gauge({
      name: "mooring_vip_leases",
      help: "VIP leases by state",
      labelNames: ["state"] as const,
      registers,
      collect() {
        fill(store, this, () => store.countLeasesByState().map(({ state, n }) => [{ state }, n]));
      },
    }),
    resources: new Gauge({
      name: "mooring_resources",
      help: "stored resources by type",
      labelNames: ["type"] as const,
      registers,
      collect() {
        fill(store, this, () => store.countResourcesByType().map(({ type, n }) => [{ type }, n]));
      },
    }),
    headRevision: new Gauge({
      name: "mooring_global_head_revision",
      help: "latest revision in the change log",
      registers,
      collect() {
        if (store.isOpen()) this.set(store.headRevision());
      },
    }),
  };
}
