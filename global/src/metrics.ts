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

export interface ZoneGaugeSource {
  zones(): Array<{ name: string; online: boolean; lag: number }>;
}

/** One registry per global instance (not prom-client's default), so tests can run several. */
export function createMetrics(store: SqliteStore) {
  const registry = new Registry();
  let zoneSource: ZoneGaugeSource | undefined;
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
    syncSessions: new Counter({
      name: "mooring_global_sync_sessions_total",
      help: "sync sessions started, by mode (full, incremental, reconcile)",
      labelNames: ["mode"] as const,
      registers,
    }),
    syncResourcesSent: new Counter({
      name: "mooring_global_sync_resources_sent_total",
      help: "resources (upserts and deletes) sent to zones",
      registers,
    }),
    syncBytesSent: new Counter({
      name: "mooring_global_sync_bytes_sent_total",
      help: "bytes of Changes frames written to zones",
      registers,
    }),
    syncBytesReceived: new Counter({
      name: "mooring_global_sync_bytes_received_total",
      help: "bytes of messages received from zones on sync streams (gRPC frame headers not included)",
      registers,
    }),
    syncStreams: new Gauge({
      name: "mooring_global_sync_streams",
      help: "sync streams open now, from the call's arrival to its end, whether the zone was welcomed or not",
      registers,
    }),
    syncBatchesEncoded: new Counter({
      name: "mooring_global_sync_batches_encoded_total",
      help: "change-log batches encoded; each is shared by every zone at the same cursor",
      registers,
    }),
    syncResourcesReceived: new Counter({
      name: "mooring_global_sync_upstream_resources_total",
      help: "zone-owned resources received upstream, by outcome (applied, unchanged, rejected)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    syncUpstreamRejected: new Counter({
      name: "mooring_global_sync_upstream_rejected_total",
      help: "upstream resources rejected, by zone and code (ZONE_OWNED: a write to a service the zone does not own)",
      labelNames: ["zone", "code"] as const,
      registers,
    }),
    authRefused: new Counter({
      name: "mooring_global_auth_refused_total",
      help: "refused credentials, by kind (admin, zone) and reason",
      labelNames: ["kind", "reason"] as const,
      registers,
    }),
    syncRateLimited: new Counter({
      name: "mooring_global_sync_rate_limited_total",
      help: "sync sessions refused because the zone reconnected faster than MOORING_SYNC_RECONNECT_* allow",
      labelNames: ["zone"] as const,
      registers,
    }),
    syncStreamsClosed: new Counter({
      name: "mooring_global_sync_streams_closed_total",
      help: "sync streams ended, by gRPC status code name",
      labelNames: ["code"] as const,
      registers,
    }),
    syncNacks: new Counter({
      name: "mooring_global_sync_nacked_resources_total",
      help: "resources zones reported they could not apply",
      registers,
    }),
    compactedChanges: new Counter({
      name: "mooring_global_changelog_compacted_total",
      help: "change-log entries removed by compaction",
      registers,
    }),
    zoneOnline: new Gauge({
      name: "mooring_global_zone_online",
      help: "1 while a zone has a live sync session",
      labelNames: ["zone"] as const,
      registers,
      collect() {
        this.reset();
        for (const zone of zoneSource?.zones() ?? []) this.set({ zone: zone.name }, zone.online ? 1 : 0);
      },
    }),
    zoneLag: new Gauge({
      name: "mooring_global_zone_lag_revisions",
      help: "head revision minus the revision a zone last acknowledged",
      labelNames: ["zone"] as const,
      registers,
      collect() {
        this.reset();
        for (const zone of zoneSource?.zones() ?? []) this.set({ zone: zone.name }, zone.lag);
      },
    }),
    /** The sync hub is created after the metrics; it reports zones from then on. */
    setZoneSource(source: ZoneGaugeSource): void {
      zoneSource = source;
    },
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
