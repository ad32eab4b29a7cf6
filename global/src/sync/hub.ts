// The global side of zone sync: the live sessions (one per zone), the change-log batches they are
// fed from, and compaction. A batch `(from, to]` is built and encoded once and shared by every zone
// whose cursor is at `from`; a zone that is behind gets a batch of its own from the change log.
import * as grpc from "@grpc/grpc-js";
import { type Logger, revision } from "@mooring/shared";
import type { ZoneManager } from "../manager/zones.js";
import type { GlobalMetrics } from "../metrics.js";
import type { SqliteStore } from "../store/sqlite-store.js";
import type { ZoneRow } from "../store/types.js";
import { compactChangeLog } from "./compaction.js";
import { createBatchBuilder, type EncodedBatch, encodeDelete } from "./encode.js";
import type { ReconnectLimit } from "./reconnect-limit.js";
import { createSession, type SyncCall, type SyncSession } from "./session.js";
import { asRecord, createSnapshotCache, latestOfChanged } from "./snapshot-cache.js";

export interface SyncHubOptions {
  readonly store: SqliteStore;
  readonly zones: ZoneManager;
  readonly metrics: GlobalMetrics;
  readonly logger: Logger;
  readonly heartbeatMs: number;
  readonly maxMessageBytes: number;
  readonly changelogMaxEntries: number;
  readonly changelogMaxAgeMs: number;
  readonly now?: () => number;
  /**
   * Checks the token a zone presents in its Hello; resolves to the token's id, or throws a
   * MooringError (UNAUTHENTICATED, PERMISSION_DENIED). Absent: authentication is off.
   */
  readonly authenticate?: (token: string, zone: string) => Promise<{ readonly id: string }>;
  /** Session starts allowed per zone; absent: unlimited. */
  readonly reconnectLimit?: ReconnectLimit;
}

/** Change rows per catch-up batch: bounds the memory and the time of building one. */
const BATCH_ROWS = 5000;
const CACHED_BATCHES = 64;

export interface ZoneStatus extends ZoneRow {
  readonly online: boolean;
  readonly lag: number;
  readonly sessionId: string | null;
}

export type SyncHub = ReturnType<typeof createSyncHub>;

export { keyText } from "./snapshot-cache.js";

export function createSyncHub(options: SyncHubOptions) {
  const { store, metrics } = options;
  const now = options.now ?? Date.now;
  const log = options.logger.child({ component: "sync" });
  const sessions = new Map<string, SyncSession>();
  const batches = new Map<number, EncodedBatch>();
  let publishScheduled = false;
  let closed = false;
  const snapshots = createSnapshotCache(store);
  // Built at start-up, so the first zones to connect after a restart are not the ones that wait.
  snapshots.warm({
    onBuilt: (resources, ms) => log.info({ resources, ms: Math.round(ms) }, "snapshot cache built"),
    onError: (error) => log.error({ err: error }, "building the snapshot cache failed; snapshots will retry"),
  });

  /**
   * The batch after `from`: every key changed in (from, to], latest state, deletes as tombstones.
   * Undefined when `from` is the head; "compacted" when the rows after `from` are gone.
   */
  function batchFrom(from: number): EncodedBatch | "compacted" | undefined {
    const cached = batches.get(from);
    if (cached) return cached;
    if (from < store.compactedThrough()) return "compacted";
    const rows = store.changesSince(revision(from), BATCH_ROWS);
    const last = rows.at(-1);
    if (!last) return undefined;
    const builder = createBatchBuilder(from, last.revision, options.maxMessageBytes);
    for (const { id, row } of latestOfChanged(store, rows)) {
      if (row) builder.upsertService(asRecord(row));
      else builder.delete(encodeDelete(id));
    }
    const batch = builder.finish();
    metrics.syncBatchesEncoded.inc();
    batches.set(from, batch);
    if (batches.size > CACHED_BATCHES) {
      const oldest = batches.keys().next().value;
      if (oldest !== undefined) batches.delete(oldest);
    }
    return batch;
  }

  /** Compacts by count, and by age when `byAge` (a scan of the log: on the timer, not per commit). */
  function compact(byAge: boolean): void {
    const removed = compactChangeLog(store, {
      maxEntries: options.changelogMaxEntries,
      ...(byAge ? { maxAgeMs: options.changelogMaxAgeMs } : {}),
      now: now(),
    });
    if (removed > 0) {
      metrics.compactedChanges.inc(removed);
      const horizon = store.compactedThrough();
      for (const from of batches.keys()) if (from < horizon) batches.delete(from);
      log.debug({ removed, horizon }, "change log compacted");
    }
  }

  function publish(): void {
    publishScheduled = false;
    if (closed || !store.isOpen()) return;
    compact(false);
    for (const session of sessions.values()) session.kick();
  }

  const ageTimer = setInterval(
    () => {
      if (!closed && store.isOpen()) compact(true);
    },
    Math.min(60_000, Math.max(1000, Math.floor(options.changelogMaxAgeMs / 10))),
  );
  ageTimer.unref();

  const hub = {
    log,
    options,
    now,

    /** After a commit that appended changes: publish on the next turn (many commits, one publish). */
    notify(): void {
      if (publishScheduled || closed) return;
      publishScheduled = true;
      setImmediate(publish);
    },

    batchFrom,
    snapshots,

    /** The grpc-js handler of ZoneSyncService.Sync. */
    accept(call: SyncCall): void {
      if (closed) {
        call.emit("error", { code: grpc.status.UNAVAILABLE, details: "the global is shutting down" });
        return;
      }
      createSession(hub, call);
    },

    /** Registers the session as its zone's live one and returns the one it replaces, if any. */
    register(zone: string, session: SyncSession): SyncSession | undefined {
      const previous = sessions.get(zone);
      sessions.set(zone, session);
      return previous;
    },

    unregister(zone: string, session: SyncSession): void {
      if (sessions.get(zone) === session) sessions.delete(zone);
    },

    session(zone: string): SyncSession | undefined {
      return sessions.get(zone);
    },

    status(row: ZoneRow): ZoneStatus {
      const live = sessions.get(row.name);
      const acked = live ? Math.max(live.ackedRevision(), row.ackedRevision) : row.ackedRevision;
      return {
        ...row,
        ackedRevision: acked,
        lastSeenAt: live?.lastSeenAt() ?? row.lastSeenAt,
        online: live !== undefined,
        lag: Math.max(0, store.headRevision() - acked),
        sessionId: live?.id ?? null,
      };
    },

    /** Ends the zone's live session (final: it must not come back by itself), then removes the zone. */
    decommission(zone: string): { removed: number } {
      sessions.get(zone)?.end(grpc.status.ABORTED, `zone ${zone} was decommissioned`, true);
      const result = options.zones.decommission(zone);
      hub.notify();
      return result;
    },

    /** Ends every live session that authenticated with token `id`; returns how many. */
    revokeToken(id: string): number {
      let ended = 0;
      for (const session of [...sessions.values()]) {
        if (session.tokenId() !== id) continue;
        session.end(grpc.status.UNAUTHENTICATED, `zone token ${id} was revoked`);
        ended++;
      }
      return ended;
    },

    zones(): ZoneStatus[] {
      return store.listZones(0, Number.MAX_SAFE_INTEGER).items.map((row) => hub.status(row));
    },

    close(): void {
      if (closed) return;
      closed = true;
      clearInterval(ageTimer);
      snapshots.close();
      for (const session of [...sessions.values()])
        session.end(grpc.status.UNAVAILABLE, "the global is shutting down", false);
      sessions.clear();
    },
  };
  metrics.setZoneSource({
    zones: () => (store.isOpen() ? hub.zones().map((z) => ({ name: z.name, online: z.online, lag: z.lag })) : []),
  });
  return hub;
}
