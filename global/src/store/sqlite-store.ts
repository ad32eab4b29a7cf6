// The global's SQLite store. Every method is synchronous (better-sqlite3), and `transaction` runs a
// function inside BEGIN IMMEDIATE, so a multi-table write (resource + change row + lease + audit)
// commits whole or not at all.
import { type Revision, sqliteBasics } from "@mooring/shared";
import type { IpFamily } from "../vip/cidr.js";
import { type Db, openDatabase } from "./database.js";
import type {
  ChangeOp,
  ChangeRow,
  LeaseEventKind,
  LeaseEventRow,
  LeaseRow,
  LeaseState,
  Page,
  ResourceRow,
  ResourceWithVips,
  ServiceIdentity,
  SyncModeName,
  ZoneRow,
  ZoneTokenRow,
} from "./types.js";
import { createWalSync, type Fdatasync, type WalSync } from "./wal-sync.js";

export interface SqliteStoreOptions {
  readonly path: string;
  readonly synchronous: "full" | "normal";
  /** Syncs the WAL after a REST group's commit (see wal-sync.ts); tests hold it back. */
  readonly fdatasync?: Fdatasync;
}

interface ResourceRecord {
  type: string;
  mesh: string;
  zone: string;
  name: string;
  labels: string;
  spec: string;
  content_hash: string;
  revision: number;
  creation_time: number;
  modification_time: number;
}

interface LeaseRecord {
  ip: string;
  ip_key: string;
  family: number;
  mesh: string;
  zone: string;
  name: string;
  state: string;
  pinned: number;
  leased_at: number;
  released_at: number | null;
}

interface EventRecord {
  id: number;
  at: number;
  event: string;
  ip: string;
  family: number;
  mesh: string;
  zone: string;
  name: string;
  reason: string;
}

interface ZoneRecord {
  name: string;
  zone_id: string;
  generation: number;
  instance_id: string;
  store_id: string;
  upstream_watermark: number;
  acked_revision: number;
  created_at: number;
  connected_at: number | null;
  last_seen_at: number | null;
  last_mode: string | null;
  last_error: string | null;
  sessions_full: number;
  sessions_incremental: number;
  sessions_reconcile: number;
}

function toZone(record: ZoneRecord): ZoneRow {
  return {
    name: record.name,
    zoneId: record.zone_id,
    generation: record.generation,
    instanceId: record.instance_id,
    storeId: record.store_id,
    upstreamWatermark: record.upstream_watermark,
    ackedRevision: record.acked_revision,
    createdAt: record.created_at,
    connectedAt: record.connected_at,
    lastSeenAt: record.last_seen_at,
    lastMode: record.last_mode as SyncModeName | null,
    lastError: record.last_error,
    sessions: {
      full: record.sessions_full,
      incremental: record.sessions_incremental,
      reconcile: record.sessions_reconcile,
    },
  };
}

/** What names a lease: its address, as a key (leases are stored under it). */
export type LeaseAddress = Pick<LeaseRow, "family" | "ipKey">;

/** Where a keyset scan of the resources table stands: the last key it returned. */
export interface ResourcePosition extends ServiceIdentity {
  readonly type: string;
}

function toResource(record: ResourceRecord): ResourceRow {
  return {
    type: record.type,
    mesh: record.mesh,
    zone: record.zone,
    name: record.name,
    labels: JSON.parse(record.labels) as Record<string, string>,
    spec: JSON.parse(record.spec) as unknown,
    contentHash: record.content_hash,
    revision: record.revision as Revision,
    creationTime: record.creation_time,
    modificationTime: record.modification_time,
  };
}

/** A resources row and its bound VIPs (comma-separated, null for none), as `resourcesAfter` selects them. */
type ResourceTuple = [
  type: string,
  mesh: string,
  zone: string,
  name: string,
  labels: string,
  spec: string,
  contentHash: string,
  revision: number,
  creationTime: number,
  modificationTime: number,
  vips: string | null,
];

function fromTuple(t: ResourceTuple): ResourceWithVips {
  return {
    type: t[0],
    mesh: t[1],
    zone: t[2],
    name: t[3],
    labels: JSON.parse(t[4]) as Record<string, string>,
    spec: JSON.parse(t[5]) as unknown,
    contentHash: t[6],
    revision: t[7] as Revision,
    creationTime: t[8],
    modificationTime: t[9],
    vips: t[10] === null ? [] : t[10].split(","),
  };
}

function toLease(record: LeaseRecord): LeaseRow {
  return {
    ip: record.ip,
    ipKey: record.ip_key,
    family: record.family as IpFamily,
    mesh: record.mesh,
    zone: record.zone,
    name: record.name,
    state: record.state as LeaseState,
    pinned: record.pinned === 1,
    leasedAt: record.leased_at,
    releasedAt: record.released_at,
  };
}

function toEvent(record: EventRecord): LeaseEventRow {
  return { ...record, family: record.family as IpFamily, event: record.event as LeaseEventKind };
}

interface ZoneTokenRecord {
  id: string;
  zone: string;
  issued_at: number;
  expires_at: number;
  revoked_at: number | null;
}

function toZoneToken(record: ZoneTokenRecord): ZoneTokenRow {
  return {
    id: record.id,
    zone: record.zone,
    issuedAt: record.issued_at,
    expiresAt: record.expires_at,
    revokedAt: record.revoked_at,
  };
}

export type SqliteStore = ReturnType<typeof createSqliteStore>;

/** MOORING_DB_SYNC=normal: commits are not fsynced, so there is nothing to wait for. */
const NO_SYNC: WalSync = { sync: () => Promise.resolve(), settled: () => undefined, close: () => {} };

export function createSqliteStore(options: SqliteStoreOptions) {
  const db: Db = openDatabase(options);
  const basics = sqliteBasics(db);
  const wal = options.synchronous === "full" ? createWalSync(`${options.path}-wal`, options.fdatasync) : NO_SYNC;
  const epoch = (db.prepare("SELECT value FROM meta WHERE key = 'epoch'").pluck().get() as string | undefined) ?? "";

  const s = {
    getResource: db.prepare<[string, string, string, string], ResourceRecord>(
      "SELECT * FROM resources WHERE type = ? AND mesh = ? AND zone = ? AND name = ?",
    ),
    listResources: db.prepare<[string, string, number, number], ResourceRecord>(
      "SELECT * FROM resources WHERE type = ? AND mesh = ? ORDER BY zone, name LIMIT ? OFFSET ?",
    ),
    countResources: db.prepare<[string, string], { n: number }>(
      "SELECT count(*) AS n FROM resources WHERE type = ? AND mesh = ?",
    ),
    countAllResources: db.prepare<[], { type: string; n: number }>(
      "SELECT type, count(*) AS n FROM resources GROUP BY type",
    ),
    allResources: db.prepare<[], ResourceRecord>("SELECT * FROM resources ORDER BY type, mesh, zone, name"),
    // The snapshot scan. The bound VIPs come with each row (one query per page, not one per row) and
    // rows come as arrays (raw): at 100,000 services the per-row lookups and record objects were a
    // large part of building a snapshot. Same VIP order as boundIpsOfIdentity.
    resourcesAfter: db
      .prepare<[string, string, string, string, number], ResourceTuple>(
        `SELECT r.type, r.mesh, r.zone, r.name, r.labels, r.spec, r.content_hash, r.revision, r.creation_time,
           r.modification_time,
           (SELECT group_concat(l.ip, ',' ORDER BY l.family, l.ip_key) FROM vip_leases l
            WHERE l.mesh = r.mesh AND l.zone = r.zone AND l.name = r.name AND l.state = 'bound') AS vips
         FROM resources r WHERE (r.type, r.mesh, r.zone, r.name) > (?, ?, ?, ?)
         ORDER BY r.type, r.mesh, r.zone, r.name LIMIT ?`,
      )
      .raw(),
    resourceWithVips: db
      .prepare<[string, string, string, string], ResourceTuple>(
        `SELECT r.type, r.mesh, r.zone, r.name, r.labels, r.spec, r.content_hash, r.revision, r.creation_time,
           r.modification_time,
           (SELECT group_concat(l.ip, ',' ORDER BY l.family, l.ip_key) FROM vip_leases l
            WHERE l.mesh = r.mesh AND l.zone = r.zone AND l.name = r.name AND l.state = 'bound') AS vips
         FROM resources r WHERE r.type = ? AND r.mesh = ? AND r.zone = ? AND r.name = ?`,
      )
      .raw(),
    resourcesOfZone: db.prepare<[string], ResourceRecord>(
      "SELECT * FROM resources WHERE zone = ? ORDER BY type, mesh, name",
    ),
    getMeta: db.prepare("SELECT value FROM meta WHERE key = ?").pluck(),
    setMeta: db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    compactChanges: db.prepare("DELETE FROM changes WHERE revision <= ?"),
    // ORDER BY at DESC LIMIT 1 walks the changes_by_at index; max(revision) ... WHERE at < ? scanned
    // the table backwards (ms per call at 100,000 changes, and it runs on every publish).
    lastRevisionBefore: db
      .prepare("SELECT revision FROM changes WHERE at < ? ORDER BY at DESC, revision DESC LIMIT 1")
      .pluck(),
    getZone: db.prepare<[string], ZoneRecord>("SELECT * FROM zones WHERE name = ?"),
    listZones: db.prepare<[number, number], ZoneRecord>("SELECT * FROM zones ORDER BY name LIMIT ? OFFSET ?"),
    countZones: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM zones"),
    insertZone: db.prepare("INSERT INTO zones (name, zone_id, created_at) VALUES (?, ?, ?)"),
    startSession: db.prepare(
      `UPDATE zones SET generation = generation + 1, instance_id = @instanceId, store_id = @storeId,
         upstream_watermark = CASE WHEN store_id = @storeId THEN upstream_watermark ELSE 0 END,
         connected_at = @at, last_seen_at = @at, last_mode = @mode, last_error = NULL,
         sessions_full = sessions_full + (@mode = 'full'),
         sessions_incremental = sessions_incremental + (@mode = 'incremental'),
         sessions_reconcile = sessions_reconcile + (@mode = 'reconcile')
       WHERE name = @name`,
    ),
    recordProgress: db.prepare(
      "UPDATE zones SET acked_revision = max(acked_revision, ?), last_seen_at = ? WHERE name = ? AND generation = ?",
    ),
    recordError: db.prepare("UPDATE zones SET last_error = ? WHERE name = ? AND generation = ?"),
    setWatermark: db.prepare("UPDATE zones SET upstream_watermark = max(upstream_watermark, ?) WHERE name = ?"),
    deleteZone: db.prepare("DELETE FROM zones WHERE name = ?"),
    countOfZone: db.prepare("SELECT count(*) FROM resources WHERE zone = ?").pluck(),
    insertZoneToken: db.prepare(
      "INSERT INTO zone_tokens (id, zone, issued_at, expires_at) VALUES (@id, @zone, @issuedAt, @expiresAt)",
    ),
    getZoneToken: db.prepare<[string], ZoneTokenRecord>("SELECT * FROM zone_tokens WHERE id = ?"),
    listZoneTokens: db.prepare<[number, number], ZoneTokenRecord>(
      "SELECT * FROM zone_tokens ORDER BY issued_at, id LIMIT ? OFFSET ?",
    ),
    countZoneTokens: db.prepare("SELECT count(*) FROM zone_tokens").pluck(),
    revokeZoneToken: db.prepare("UPDATE zone_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
    // The statements every REST write runs bind positional parameters: binding by name cost an
    // object spread and a property lookup per parameter.
    upsertResource: db.prepare(
      `INSERT INTO resources (type, mesh, zone, name, labels, spec, content_hash, revision, creation_time, modification_time)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (type, mesh, zone, name) DO UPDATE SET
         labels = excluded.labels, spec = excluded.spec, content_hash = excluded.content_hash,
         revision = excluded.revision, modification_time = excluded.modification_time`,
    ),
    deleteResource: db.prepare("DELETE FROM resources WHERE type = ? AND mesh = ? AND zone = ? AND name = ?"),
    appendChange: db.prepare(
      "INSERT INTO changes (type, mesh, zone, name, op, content_hash, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ),
    headRevision: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").pluck(),
    changesSince: db.prepare<[number, number], ChangeRow>(
      `SELECT revision, type, mesh, zone, name, op, content_hash AS contentHash, at
       FROM changes WHERE revision > ? ORDER BY revision LIMIT ?`,
    ),
    leaseAt: db.prepare<[number, string], LeaseRecord>("SELECT * FROM vip_leases WHERE family = ? AND ip_key = ?"),
    leaseByIdentity: db.prepare<[string, string, string, number], LeaseRecord>(
      "SELECT * FROM vip_leases WHERE mesh = ? AND zone = ? AND name = ? AND family = ?",
    ),
    leasesOfIdentity: db.prepare<[string, string, string], LeaseRecord>(
      "SELECT * FROM vip_leases WHERE mesh = ? AND zone = ? AND name = ? ORDER BY family, ip_key",
    ),
    boundIpsOfIdentity: db
      .prepare<[string, string, string]>(
        "SELECT ip FROM vip_leases WHERE mesh = ? AND zone = ? AND name = ? AND state = 'bound' ORDER BY family, ip_key",
      )
      .pluck(),
    leaseKeysFrom: db
      .prepare<[number, string, string]>(
        "SELECT ip_key FROM vip_leases WHERE family = ? AND ip_key >= ? AND ip_key <= ? ORDER BY ip_key",
      )
      .pluck(),
    oldestReclaimable: db.prepare<[number, number, string, string], LeaseRecord>(
      `SELECT * FROM vip_leases
       WHERE family = ? AND state = 'released' AND pinned = 0 AND released_at <= ? AND ip_key >= ? AND ip_key <= ?
       ORDER BY released_at, ip_key LIMIT 1`,
    ),
    insertLease: db.prepare(
      `INSERT INTO vip_leases (ip, ip_key, family, mesh, zone, name, state, pinned, leased_at, released_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateLease: db.prepare(
      "UPDATE vip_leases SET state = ?, pinned = ?, released_at = ? WHERE family = ? AND ip_key = ?",
    ),
    deleteLease: db.prepare("DELETE FROM vip_leases WHERE family = ? AND ip_key = ?"),
    listLeases: db.prepare<[number, number], LeaseRecord>(
      "SELECT * FROM vip_leases ORDER BY family, ip_key LIMIT ? OFFSET ?",
    ),
    countLeases: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM vip_leases"),
    countLeasesByState: db.prepare<[], { state: string; n: number }>(
      "SELECT state, count(*) AS n FROM vip_leases GROUP BY state",
    ),
    getCursor: db.prepare("SELECT next_key FROM vip_cursors WHERE cidr = ?").pluck(),
    setCursor: db.prepare(
      "INSERT INTO vip_cursors (cidr, next_key) VALUES (?, ?) ON CONFLICT (cidr) DO UPDATE SET next_key = excluded.next_key",
    ),
    appendEvent: db.prepare(
      "INSERT INTO lease_events (at, event, ip, family, mesh, zone, name, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    eventsOfIp: db.prepare<[string, number], EventRecord>(
      "SELECT * FROM lease_events WHERE ip = ? ORDER BY id DESC LIMIT ?",
    ),
  };

  return {
    epoch,
    path: options.path,
    ...basics,

    /**
     * Commits `fn` without waiting for the disk; the promise resolves once the commit is as durable
     * as MOORING_DB_SYNC asks (see wal-sync.ts). For the REST group commit: the event loop stays free
     * while the WAL is synced.
     */
    transactionSyncedLater<T>(fn: () => T): { readonly value: T; readonly durable: Promise<void> } {
      const value = basics.transactionWithoutFsync(fn);
      return { value, durable: wal.sync() };
    },

    /** Undefined when every commit is durable; otherwise when they will be. What is read waits for it before it is shown. */
    settled(): Promise<void> | undefined {
      return wal.settled();
    },

    close(): void {
      basics.close();
      wal.close();
    },

    getResource(type: string, id: ServiceIdentity): ResourceRow | undefined {
      const record = s.getResource.get(type, id.mesh, id.zone, id.name);
      return record ? toResource(record) : undefined;
    },

    /** One resource with its bound VIPs (what a zone is sent), in one query. */
    getResourceWithVips(type: string, id: ServiceIdentity): ResourceWithVips | undefined {
      const tuple = s.resourceWithVips.get(type, id.mesh, id.zone, id.name);
      return tuple ? fromTuple(tuple) : undefined;
    },

    listResources(type: string, mesh: string, offset: number, size: number): Page<ResourceRow> {
      const total = s.countResources.get(type, mesh)?.n ?? 0;
      return { total, items: s.listResources.all(type, mesh, size, offset).map(toResource) };
    },

    allResources(): ResourceRow[] {
      return s.allResources.all().map(toResource);
    },

    countResourcesByType(): Array<{ type: string; n: number }> {
      return s.countAllResources.all();
    },

    putResource(row: ResourceRow): void {
      s.upsertResource.run(
        row.type,
        row.mesh,
        row.zone,
        row.name,
        JSON.stringify(row.labels),
        JSON.stringify(row.spec),
        row.contentHash,
        row.revision,
        row.creationTime,
        row.modificationTime,
      );
    },

    deleteResource(type: string, id: ServiceIdentity): void {
      s.deleteResource.run(type, id.mesh, id.zone, id.name);
    },

    /** Appends one change and returns its revision, the new head. */
    appendChange(type: string, id: ServiceIdentity, op: ChangeOp, contentHash: string | null, at: number): Revision {
      const result = s.appendChange.run(type, id.mesh, id.zone, id.name, op, contentHash, at);
      return Number(result.lastInsertRowid) as Revision;
    },

    headRevision(): Revision {
      return ((s.headRevision.get() as number | undefined) ?? 0) as Revision;
    },

    changesSince(after: Revision, limit: number): ChangeRow[] {
      return s.changesSince.all(after, limit);
    },

    /** Revisions at or below this one were compacted away: a cursor below it cannot resume. */
    compactedThrough(): Revision {
      return Number(s.getMeta.get("compacted_through") ?? 0) as Revision;
    },

    /** Deletes change rows up to `through` and moves the horizon; call inside a transaction. */
    compactChanges(through: Revision): number {
      if (through <= this.compactedThrough()) return 0;
      const deleted = s.compactChanges.run(through).changes;
      s.setMeta.run("compacted_through", String(through));
      return deleted;
    },

    /** The newest revision written before `at` (epoch ms), if any. */
    lastRevisionBefore(at: number): Revision | undefined {
      const value = s.lastRevisionBefore.get(at) as number | null | undefined;
      return value == null ? undefined : (value as Revision);
    },

    /** Up to `limit` resources after `position` in key order, with their bound VIPs: the snapshot scan. */
    resourcesAfter(position: ResourcePosition | undefined, limit: number): ResourceWithVips[] {
      const p = position ?? { type: "", mesh: "", zone: "", name: "" };
      return s.resourcesAfter.all(p.type, p.mesh, p.zone, p.name, limit).map(fromTuple);
    },

    resourcesOfZone(zone: string): ResourceRow[] {
      return s.resourcesOfZone.all(zone).map(toResource);
    },

    getZone(name: string): ZoneRow | undefined {
      const record = s.getZone.get(name);
      return record ? toZone(record) : undefined;
    },

    listZones(offset: number, size: number): Page<ZoneRow> {
      const total = s.countZones.get()?.n ?? 0;
      return { total, items: s.listZones.all(size, offset).map(toZone) };
    },

    /** Registers the zone if new, then starts a session: generation + 1, counted by mode. */
    startZoneSession(session: {
      name: string;
      zoneId: string;
      instanceId: string;
      storeId: string;
      mode: SyncModeName;
      at: number;
    }): ZoneRow {
      if (!s.getZone.get(session.name)) s.insertZone.run(session.name, session.zoneId, session.at);
      s.startSession.run(session);
      return toZone(s.getZone.get(session.name) as ZoneRecord);
    },

    /** Progress of a session; ignored when a newer session (generation) has taken over. */
    recordZoneProgress(name: string, generation: number, ackedRevision: number, lastSeenAt: number): void {
      s.recordProgress.run(ackedRevision, lastSeenAt, name, generation);
    },

    recordZoneError(name: string, generation: number, error: string): void {
      s.recordError.run(error, name, generation);
    },

    setUpstreamWatermark(name: string, watermark: number): void {
      s.setWatermark.run(watermark, name);
    },

    deleteZone(name: string): void {
      s.deleteZone.run(name);
    },

    /** How many services (of every mesh) the zone owns. */
    countServicesOfZone(zone: string): number {
      return s.countOfZone.get(zone) as number;
    },

    insertZoneToken(row: Omit<ZoneTokenRow, "revokedAt">): void {
      s.insertZoneToken.run(row);
    },

    getZoneToken(id: string): ZoneTokenRow | undefined {
      const record = s.getZoneToken.get(id);
      return record ? toZoneToken(record) : undefined;
    },

    listZoneTokens(offset: number, size: number): Page<ZoneTokenRow> {
      const total = s.countZoneTokens.get() as number;
      return { total, items: s.listZoneTokens.all(size, offset).map(toZoneToken) };
    },

    /** Marks the token revoked (once: the first revocation time stays); false when it is unknown. */
    revokeZoneToken(id: string, at: number): ZoneTokenRow | undefined {
      s.revokeZoneToken.run(at, id);
      const record = s.getZoneToken.get(id);
      return record ? toZoneToken(record) : undefined;
    },

    /** The lease of one address, by its key (see `ipKey`). */
    leaseAt(family: IpFamily, ipKey: string): LeaseRow | undefined {
      const record = s.leaseAt.get(family, ipKey);
      return record ? toLease(record) : undefined;
    },

    leaseOf(id: ServiceIdentity, family: IpFamily): LeaseRow | undefined {
      const record = s.leaseByIdentity.get(id.mesh, id.zone, id.name, family);
      return record ? toLease(record) : undefined;
    },

    leasesOf(id: ServiceIdentity): LeaseRow[] {
      return s.leasesOfIdentity.all(id.mesh, id.zone, id.name).map(toLease);
    },

    boundIpsOf(id: ServiceIdentity): string[] {
      return s.boundIpsOfIdentity.all(id.mesh, id.zone, id.name) as string[];
    },

    /** Lease keys in [from, to] of one family, ascending, lazily (the allocator stops at the first gap). */
    leaseKeysBetween(family: IpFamily, from: string, to: string): IterableIterator<string> {
      return s.leaseKeysFrom.iterate(family, from, to) as IterableIterator<string>;
    },

    /** The lowest lease key in [from, to] of one family: one step, where a scan builds an iterator. */
    firstLeaseKeyBetween(family: IpFamily, from: string, to: string): string | undefined {
      return s.leaseKeysFrom.get(family, from, to) as string | undefined;
    },

    oldestReclaimable(family: IpFamily, releasedBefore: number, from: string, to: string): LeaseRow | undefined {
      const record = s.oldestReclaimable.get(family, releasedBefore, from, to);
      return record ? toLease(record) : undefined;
    },

    insertLease(lease: LeaseRow): void {
      s.insertLease.run(
        lease.ip,
        lease.ipKey,
        lease.family,
        lease.mesh,
        lease.zone,
        lease.name,
        lease.state,
        lease.pinned ? 1 : 0,
        lease.leasedAt,
        lease.releasedAt,
      );
    },

    updateLease(lease: LeaseAddress, change: { state: LeaseState; pinned: boolean; releasedAt: number | null }): void {
      s.updateLease.run(change.state, change.pinned ? 1 : 0, change.releasedAt, lease.family, lease.ipKey);
    },

    deleteLease(lease: LeaseAddress): void {
      s.deleteLease.run(lease.family, lease.ipKey);
    },

    listLeases(offset: number, size: number): Page<LeaseRow> {
      const total = s.countLeases.get()?.n ?? 0;
      return { total, items: s.listLeases.all(size, offset).map(toLease) };
    },

    countLeasesByState(): Array<{ state: string; n: number }> {
      return s.countLeasesByState.all();
    },

    cursor(cidr: string): string | undefined {
      return s.getCursor.get(cidr) as string | undefined;
    },

    setCursor(cidr: string, nextKey: string): void {
      s.setCursor.run(cidr, nextKey);
    },

    recordLeaseEvent(event: LeaseEventKind, lease: LeaseRow, reason: string, at: number): void {
      s.appendEvent.run(at, event, lease.ip, lease.family, lease.mesh, lease.zone, lease.name, reason);
    },

    leaseEvents(ip: string, limit: number): LeaseEventRow[] {
      return s.eventsOfIp.all(ip, limit).map(toEvent);
    },
  };
}
