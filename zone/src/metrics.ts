import { createHttpMetrics } from "@mooring/shared";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { ZoneStore } from "./store/zone-store.js";
import { SESSION_MODES } from "./sync/mode.js";

/** Where the sync client stands; `/sync` reports the same value. */
export type SyncState = "connecting" | "syncing" | "synced" | "disconnected" | "stopped";
export const SYNC_STATES: readonly SyncState[] = ["connecting", "syncing", "synced", "disconnected", "stopped"];

export type ZoneMetrics = ReturnType<typeof createMetrics>;

/** One registry per zone instance (not prom-client's default), so tests can run several. */
export function createMetrics(store: ZoneStore) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "mooring_zone_" });
  const registers = [registry];
  const syncState = new Gauge({
    name: "mooring_zone_sync_state",
    help: "1 for the sync client's current state, 0 for the others",
    labelNames: ["state"] as const,
    registers,
  });
  const sessions = new Counter({
    name: "mooring_zone_sync_sessions_total",
    help: "sync sessions the global welcomed, by mode",
    labelNames: ["mode"] as const,
    registers,
  });
  // Every series exists from the start, so a dashboard's rate() sees the first session too.
  for (const mode of SESSION_MODES) sessions.inc({ mode }, 0);
  for (const state of SYNC_STATES) syncState.set({ state }, state === "disconnected" ? 1 : 0);

  return {
    registry,
    ...createHttpMetrics(registry),
    sessions,
    syncState,
    /** Marks `state` as the current one. */
    setSyncState(state: SyncState): void {
      for (const each of SYNC_STATES) syncState.set({ state: each }, each === state ? 1 : 0);
    },
    resourcesReceived: new Counter({
      name: "mooring_zone_sync_resources_received_total",
      help: "upserts and deletes received in Changes messages",
      registers,
    }),
    resourcesSent: new Counter({
      name: "mooring_zone_sync_resources_sent_total",
      help: "own services (upserts and deletes) sent upstream in UpstreamChanges, resends after a reconnect included",
      registers,
    }),
    bytesReceived: new Counter({
      name: "mooring_zone_sync_bytes_received_total",
      help: "bytes of messages received from the global on sync streams (gRPC frame headers not included)",
      registers,
    }),
    bytesSent: new Counter({
      name: "mooring_zone_sync_bytes_sent_total",
      help: "bytes of messages sent to the global on sync streams (gRPC frame headers not included)",
      registers,
    }),
    resourcesRefused: new Counter({
      name: "mooring_zone_sync_resources_refused_total",
      help: "received resources the zone could not store (reported to the global in a Nack)",
      registers,
    }),
    disconnects: new Counter({
      name: "mooring_zone_sync_disconnects_total",
      help: "sync attempts and sessions that ended, by gRPC status",
      labelNames: ["code"] as const,
      registers,
    }),
    upstreamRejected: new Counter({
      name: "mooring_zone_upstream_rejected_total",
      help: "own services the global refused (or that were too large to send)",
      registers,
    }),
    upstreamPending: new Gauge({
      name: "mooring_zone_upstream_pending",
      help: "own services written locally that the global has not yet acknowledged",
      registers,
      collect() {
        if (store.isOpen()) this.set(store.countOwnedAbove(store.upstreamAcked()));
      },
    }),
    resources: new Gauge({
      name: "mooring_zone_resources",
      help: "resources held from the global, by type",
      labelNames: ["type"] as const,
      registers,
      collect() {
        if (!store.isOpen()) return;
        this.reset();
        for (const { type, n } of store.countSyncedByType()) this.set({ type }, n);
      },
    }),
    dnsQueries: new Counter({
      name: "mooring_zone_dns_queries_total",
      help: "DNS messages received, by question type (A, AAAA, ..., OTHER; NONE without one) and response code (DROPPED: no answer sent)",
      labelNames: ["type", "rcode"] as const,
      registers,
    }),
    appliedRevision: new Gauge({
      name: "mooring_zone_applied_revision",
      help: "the global revision of the last fully applied batch (0 before the first sync)",
      registers,
      collect() {
        if (store.isOpen()) this.set(store.cursor()?.revision ?? 0);
      },
    }),
  };
}
