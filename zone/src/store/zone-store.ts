// The zone's SQLite store. Every method is synchronous (better-sqlite3), and `transaction` runs a
// function inside BEGIN IMMEDIATE, so a batch from the global and the cursor it advances to commit
// whole or not at all.
//
// Synced rows count only once a cursor is stored. A first sync (no cursor yet) commits its rows
// message by message, so they need not wait in memory, and every read here leaves them out until
// the transaction that stores the cursor makes the whole snapshot visible at once. The cursor is
// never cleared afterwards, so nothing that was visible ever becomes invisible again.
import { MESH_SERVICE, type MeshServiceSpec, sqliteBasics } from "@mooring/shared";
import { type Db, openDatabase } from "./database.js";
import type {
  InventoryRow,
  MeshServiceView,
  OwnedRow,
  Page,
  ServiceIdentity,
  SyncCursor,
  SyncedKey,
  SyncedRow,
} from "./types.js";

export interface ZoneStoreOptions {
  readonly path: string;
  readonly synchronous: "full" | "normal";
  /** This zone's name: the zone of every service in the outbox. */
  readonly zone: string;
}

interface MetaRecord {
  store_id: string;
  cursor_epoch: string | null;
  cursor_revision: number | null;
  zone_revision: number;
  upstream_acked: number;
}

interface SyncedRecord {
  type: string;
  mesh: string;
  zone: string;
  name: string;
  labels: string;
  spec: string;
  vips: string;
  content_hash: string;
  revision: number;
  creation_time: number;
  modification_time: number;
}

interface OwnedRecord {
  mesh: string;
  name: string;
  labels: string;
  spec: string;
  content_hash: string;
  zone_revision: number;
  deleted: number;
  creation_time: number;
  modification_time: number;
  rejection: string | null;
}

type ViewRecord = Omit<SyncedRecord, "type">;

function toSynced(record: SyncedRecord): SyncedRow {
  return {
    type: record.type,
    mesh: record.mesh,
    zone: record.zone,
    name: record.name,
    labels: JSON.parse(record.labels) as Record<string, string>,
    spec: JSON.parse(record.spec) as MeshServiceSpec,
    vips: JSON.parse(record.vips) as string[],
    contentHash: record.content_hash,
    revision: record.revision,
    creationTime: record.creation_time,
    modificationTime: record.modification_time,
  };
}

function toView(record: ViewRecord): MeshServiceView {
  const { type: _type, ...view } = toSynced({ ...record, type: MESH_SERVICE });
  return view;
}

function toOwned(record: OwnedRecord): OwnedRow {
  return {
    mesh: record.mesh,
    name: record.name,
    labels: JSON.parse(record.labels) as Record<string, string>,
    spec: JSON.parse(record.spec) as MeshServiceSpec,
    contentHash: record.content_hash,
    zoneRevision: record.zone_revision,
    deleted: record.deleted === 1,
    creationTime: record.creation_time,
    modificationTime: record.modification_time,
    rejection: record.rejection,
  };
}

/** True once a sync has completed: only then are synced rows part of what the zone serves. */
const SYNCED_VISIBLE = "EXISTS (SELECT 1 FROM meta WHERE id = 1 AND cursor_revision IS NOT NULL)";

/**
 * The MeshServices the zone serves: what the global published, except that the zone's own services
 * show the outbox's content (local edits are visible at once, tombstones hide them) with the VIPs and
 * revision of the global's copy (none and 0 until the global has published it).
 */
function viewSql(filter: string): string {
  return `
    WITH view AS (
      SELECT s.mesh, s.zone, s.name, s.labels, s.spec, s.vips, s.content_hash, s.revision,
             s.creation_time, s.modification_time
      FROM synced s
      WHERE s.type = '${MESH_SERVICE}' AND s.mesh = @mesh AND ${SYNCED_VISIBLE}
        AND NOT (s.zone = @zone AND EXISTS (SELECT 1 FROM owned o WHERE o.mesh = s.mesh AND o.name = s.name))
      UNION ALL
      SELECT o.mesh, @zone, o.name, o.labels, o.spec, coalesce(s.vips, '[]'), o.content_hash,
             coalesce(s.revision, 0), o.creation_time, o.modification_time
      FROM owned o
      LEFT JOIN synced s ON s.type = '${MESH_SERVICE}' AND s.mesh = o.mesh AND s.zone = @zone AND s.name = o.name
        AND ${SYNCED_VISIBLE}
      WHERE o.mesh = @mesh AND o.deleted = 0
    )
    ${filter}`;
}

const SYNCED_COLUMNS = 11;
const PUT_SYNCED_ROWS = 16;

/** An upsert of `rows` synced rows in one statement (positional parameters, SYNCED_COLUMNS per row). */
function putSyncedSql(rows: number): string {
  const row = `(${new Array(SYNCED_COLUMNS).fill("?").join(", ")})`;
  return `INSERT INTO synced (type, mesh, zone, name, labels, spec, vips, content_hash, revision, creation_time, modification_time)
    VALUES ${new Array(rows).fill(row).join(", ")}
    ON CONFLICT (type, mesh, zone, name) DO UPDATE SET
      labels = excluded.labels, spec = excluded.spec, vips = excluded.vips, content_hash = excluded.content_hash,
      revision = excluded.revision, creation_time = excluded.creation_time,
      modification_time = excluded.modification_time`;
}

/** Writes `row`'s SYNCED_COLUMNS parameters into `params` from `at`, in putSyncedSql's column order. */
function syncedParams(params: unknown[], at: number, row: SyncedRow): void {
  params[at] = row.type;
  params[at + 1] = row.mesh;
  params[at + 2] = row.zone;
  params[at + 3] = row.name;
  params[at + 4] = JSON.stringify(row.labels);
  params[at + 5] = JSON.stringify(row.spec);
  params[at + 6] = JSON.stringify(row.vips);
  params[at + 7] = row.contentHash;
  params[at + 8] = row.revision;
  params[at + 9] = row.creationTime;
  params[at + 10] = row.modificationTime;
}

export type ZoneStore = ReturnType<typeof createZoneStore>;

export function createZoneStore(options: ZoneStoreOptions) {
  const db: Db = openDatabase(options);
  const zone = options.zone;

  const s = {
    meta: db.prepare<[], MetaRecord>("SELECT * FROM meta WHERE id = 1"),
    setCursor: db.prepare("UPDATE meta SET cursor_epoch = ?, cursor_revision = ? WHERE id = 1"),
    nextZoneRevision: db.prepare(
      "UPDATE meta SET zone_revision = zone_revision + 1 WHERE id = 1 RETURNING zone_revision",
    ),
    setUpstreamAcked: db.prepare("UPDATE meta SET upstream_acked = ? WHERE id = 1"),

    getSynced: db.prepare<[string, string, string, string], SyncedRecord>(
      `SELECT * FROM synced WHERE type = ? AND mesh = ? AND zone = ? AND name = ? AND ${SYNCED_VISIBLE}`,
    ),
    hasSynced: db.prepare(`SELECT EXISTS (SELECT 1 FROM synced) AND ${SYNCED_VISIBLE}`).pluck(),
    // Only rows no read can see: the leftovers of a first sync that never completed.
    clearInvisibleSynced: db.prepare(`DELETE FROM synced WHERE NOT ${SYNCED_VISIBLE}`),
    // Positional parameters (binding by name cost an object spread and a lookup per parameter), and
    // a batch's rows PUT_SYNCED_ROWS per statement: a first sync writes 100,000 rows, and one
    // statement run per row cost about a fifth of its transaction.
    putSynced: db.prepare(putSyncedSql(1)),
    putSyncedRows: db.prepare(putSyncedSql(PUT_SYNCED_ROWS)),
    deleteSynced: db.prepare("DELETE FROM synced WHERE type = ? AND mesh = ? AND zone = ? AND name = ?"),
    syncedKeys: db.prepare<[], SyncedKey>(`SELECT type, mesh, zone, name FROM synced WHERE ${SYNCED_VISIBLE}`),
    allSynced: db.prepare<[], SyncedRecord>(
      `SELECT * FROM synced WHERE ${SYNCED_VISIBLE} ORDER BY type, mesh, zone, name`,
    ),
    inventoryPage: db.prepare<
      { type: string; mesh: string; zone: string; name: string; limit: number },
      Pick<SyncedRecord, "type" | "mesh" | "zone" | "name" | "content_hash" | "vips" | "revision">
    >(
      `SELECT type, mesh, zone, name, content_hash, vips, revision FROM synced
       WHERE (type, mesh, zone, name) > (@type, @mesh, @zone, @name) AND ${SYNCED_VISIBLE}
       ORDER BY type, mesh, zone, name LIMIT @limit`,
    ),
    countSyncedByType: db.prepare<[], { type: string; n: number }>(
      `SELECT type, count(*) AS n FROM synced WHERE ${SYNCED_VISIBLE} GROUP BY type ORDER BY type`,
    ),

    listView: db.prepare<{ mesh: string; zone: string; limit: number; offset: number }, ViewRecord>(
      viewSql("SELECT * FROM view ORDER BY zone, name LIMIT @limit OFFSET @offset"),
    ),
    countView: db.prepare<{ mesh: string; zone: string }, { n: number }>(viewSql("SELECT count(*) AS n FROM view")),
    // DNS reads the view one name at a time (no copy of it in memory to rebuild after a first sync).
    viewVips: db
      .prepare<{ mesh: string; zone: string; serviceZone: string; name: string }, string>(
        viewSql("SELECT vips FROM view WHERE zone = @serviceZone AND name = @name"),
      )
      .pluck(),
    viewHasMesh: db
      .prepare<{ mesh: string; zone: string }, number>(viewSql("SELECT EXISTS (SELECT 1 FROM view)"))
      .pluck(),
    viewHasZone: db
      .prepare<{ mesh: string; zone: string; serviceZone: string }, number>(
        viewSql("SELECT EXISTS (SELECT 1 FROM view WHERE zone = @serviceZone)"),
      )
      .pluck(),
    getView: db.prepare<{ mesh: string; zone: string; serviceZone: string; name: string }, ViewRecord>(
      viewSql("SELECT * FROM view WHERE zone = @serviceZone AND name = @name"),
    ),

    getOwned: db.prepare<[string, string], OwnedRecord>("SELECT * FROM owned WHERE mesh = ? AND name = ?"),
    putOwned: db.prepare(
      `INSERT INTO owned (mesh, name, labels, spec, content_hash, zone_revision, deleted, creation_time, modification_time, rejection)
       VALUES (@mesh, @name, @labels, @spec, @contentHash, @zoneRevision, @deleted, @creationTime, @modificationTime, @rejection)
       ON CONFLICT (mesh, name) DO UPDATE SET
         labels = excluded.labels, spec = excluded.spec, content_hash = excluded.content_hash,
         zone_revision = excluded.zone_revision, deleted = excluded.deleted, creation_time = excluded.creation_time,
         modification_time = excluded.modification_time, rejection = excluded.rejection`,
    ),
    ownedAbove: db.prepare<[number, number], OwnedRecord>(
      "SELECT * FROM owned WHERE zone_revision > ? ORDER BY zone_revision LIMIT ?",
    ),
    ownedByRevision: db.prepare<[], OwnedRecord>("SELECT * FROM owned ORDER BY zone_revision"),
    setZoneRevision: db.prepare("UPDATE owned SET zone_revision = ? WHERE mesh = ? AND name = ?"),
    countOwnedAbove: db.prepare<[number], { n: number }>("SELECT count(*) AS n FROM owned WHERE zone_revision > ?"),
    clearRejections: db.prepare("UPDATE owned SET rejection = NULL WHERE zone_revision > ? AND zone_revision <= ?"),
    setRejection: db.prepare("UPDATE owned SET rejection = ? WHERE mesh = ? AND name = ? AND zone_revision <= ?"),
    // A tombstone stays until the global has applied the delete (acked) AND its delete has reached
    // the synced copy: dropping it at the ack alone let the list show the old synced service again.
    dropTombstones: db.prepare(
      `DELETE FROM owned WHERE deleted = 1 AND zone_revision <= ? AND rejection IS NULL
         AND NOT EXISTS (SELECT 1 FROM synced WHERE synced.mesh = owned.mesh AND synced.zone = ?
                         AND synced.name = owned.name)`,
    ),
  };

  function meta(): MetaRecord {
    const record = s.meta.get();
    if (!record) throw new Error("the meta row is missing; the database is damaged");
    return record;
  }

  const storeId = meta().store_id;

  return {
    /** A UUID made when this database was created: the global tracks upstream progress per store id. */
    storeId,
    zone,
    path: options.path,
    ...sqliteBasics(db),

    // --- sync state ---

    /** The last fully applied batch, or undefined if no sync has ever completed. */
    cursor(): SyncCursor | undefined {
      const { cursor_epoch: epoch, cursor_revision: revision } = meta();
      return epoch === null || revision === null ? undefined : { epoch, revision };
    },

    setCursor(cursor: SyncCursor): void {
      s.setCursor.run(cursor.epoch, cursor.revision);
    },

    zoneRevision(): number {
      return meta().zone_revision;
    },

    /** Takes the next zone revision; call inside the transaction that writes the outbox row. */
    nextZoneRevision(): number {
      return s.nextZoneRevision.pluck().get() as number;
    },

    upstreamAcked(): number {
      return meta().upstream_acked;
    },

    setUpstreamAcked(zoneRevision: number): void {
      s.setUpstreamAcked.run(zoneRevision);
    },

    // --- synced resources ---

    getSynced(key: SyncedKey): SyncedRow | undefined {
      const record = s.getSynced.get(key.type, key.mesh, key.zone, key.name);
      return record ? toSynced(record) : undefined;
    },

    putSynced(row: SyncedRow): void {
      const params = new Array<unknown>(SYNCED_COLUMNS);
      syncedParams(params, 0, row);
      s.putSynced.run(params);
    },

    /** `putSynced` of every row, in order (a key given twice ends with its last row). */
    putSyncedRows(rows: readonly SyncedRow[]): void {
      let i = 0;
      if (rows.length >= PUT_SYNCED_ROWS) {
        const params = new Array<unknown>(PUT_SYNCED_ROWS * SYNCED_COLUMNS);
        for (; i + PUT_SYNCED_ROWS <= rows.length; i += PUT_SYNCED_ROWS) {
          for (let j = 0; j < PUT_SYNCED_ROWS; j++) syncedParams(params, j * SYNCED_COLUMNS, rows[i + j] as SyncedRow);
          s.putSyncedRows.run(params);
        }
      }
      for (; i < rows.length; i++) this.putSynced(rows[i] as SyncedRow);
    },

    /** True when at least one synced resource is stored (and visible: a cursor is stored). */
    hasSynced(): boolean {
      return s.hasSynced.get() === 1;
    },

    /**
     * Deletes the rows of a first sync that never completed (stored without a cursor, so never
     * visible). Deletes nothing once a cursor is stored. Returns how many rows went.
     */
    clearInvisibleSynced(): number {
      return s.clearInvisibleSynced.run().changes;
    },

    deleteSynced(key: SyncedKey): void {
      s.deleteSynced.run(key.type, key.mesh, key.zone, key.name);
    },

    syncedKeys(): SyncedKey[] {
      return s.syncedKeys.all();
    },

    allSynced(): SyncedRow[] {
      return s.allSynced.all().map(toSynced);
    },

    /** Up to `limit` inventory rows after `after` in key order; pages never hold the connection busy. */
    inventoryPage(after: SyncedKey | undefined, limit: number): InventoryRow[] {
      const from = after ?? { type: "", mesh: "", zone: "", name: "" };
      return s.inventoryPage.all({ ...from, limit }).map((record) => ({
        type: record.type,
        mesh: record.mesh,
        zone: record.zone,
        name: record.name,
        contentHash: record.content_hash,
        vips: JSON.parse(record.vips) as string[],
        revision: record.revision,
      }));
    },

    countSyncedByType(): Array<{ type: string; n: number }> {
      return s.countSyncedByType.all();
    },

    // --- the served view ---

    listMeshServices(mesh: string, offset: number, size: number): Page<MeshServiceView> {
      const total = s.countView.get({ mesh, zone })?.n ?? 0;
      return { total, items: s.listView.all({ mesh, zone, limit: size, offset }).map(toView) };
    },

    /** The VIPs of a service of the view (what DNS answers), or undefined if the view has no such service. */
    vipsOf(id: ServiceIdentity): string[] | undefined {
      const vips = s.viewVips.get({ mesh: id.mesh, zone, serviceZone: id.zone, name: id.name });
      return vips === undefined ? undefined : (JSON.parse(vips) as string[]);
    },

    /** Whether the view has a service in `mesh`, owned by `serviceZone` when it is given. */
    hasServicesIn(mesh: string, serviceZone?: string): boolean {
      const found =
        serviceZone === undefined ? s.viewHasMesh.get({ mesh, zone }) : s.viewHasZone.get({ mesh, zone, serviceZone });
      return found === 1;
    },

    getMeshService(id: ServiceIdentity): MeshServiceView | undefined {
      const record = s.getView.get({ mesh: id.mesh, zone, serviceZone: id.zone, name: id.name });
      return record ? toView(record) : undefined;
    },

    // --- the outbox ---

    getOwned(mesh: string, name: string): OwnedRow | undefined {
      const record = s.getOwned.get(mesh, name);
      return record ? toOwned(record) : undefined;
    },

    putOwned(row: OwnedRow): void {
      s.putOwned.run({
        ...row,
        labels: JSON.stringify(row.labels),
        spec: JSON.stringify(row.spec),
        deleted: row.deleted ? 1 : 0,
      });
    },

    /** Outbox rows written after `zoneRevision`, oldest first. */
    ownedAbove(zoneRevision: number, limit: number): OwnedRow[] {
      return s.ownedAbove.all(zoneRevision, limit).map(toOwned);
    },

    countOwnedAbove(zoneRevision: number): number {
      return s.countOwnedAbove.get(zoneRevision)?.n ?? 0;
    },

    /**
     * Gives every outbox row a new zone revision above `floor`, oldest first, and moves the counter
     * past them. For a global that has applied revisions this store never made (a restored backup of
     * the zone's database): without it, later writes would reuse revisions the global counts as seen.
     * Returns the number of rows restamped. Call inside a transaction.
     */
    restampOwned(floor: number): number {
      const rows = s.ownedByRevision.all();
      let next = Math.max(floor, meta().zone_revision);
      for (const row of rows) {
        next += 1;
        s.setZoneRevision.run(next, row.mesh, row.name);
      }
      db.prepare("UPDATE meta SET zone_revision = ? WHERE id = 1").run(next);
      return rows.length;
    },

    /** Clears the recorded rejection of every row in (from, to]: the global has applied them. */
    clearRejections(from: number, to: number): void {
      s.clearRejections.run(from, to);
    },

    /** Records why the global refused a row, unless the row was written again after `upTo`. */
    setRejection(mesh: string, name: string, reason: string, upTo: number): void {
      s.setRejection.run(reason, mesh, name, upTo);
    },

    /** Forgets tombstones the global has applied (not those it refused). Returns how many. */
    dropTombstones(upTo: number): number {
      return s.dropTombstones.run(upTo, zone).changes;
    },
  };
}
