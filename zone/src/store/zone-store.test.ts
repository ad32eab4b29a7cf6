import { copyFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, EPOCH, type TempStore } from "../test-support.js";
import type { OwnedRow, SyncedRow } from "./types.js";
import { createZoneStore } from "./zone-store.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function synced(name: string, fields: Partial<SyncedRow> = {}): SyncedRow {
  return {
    type: "MeshService",
    mesh: "default",
    zone: "",
    name,
    labels: { app: name },
    spec: { ports: [{ port: 80, appProtocol: "http" }] },
    vips: ["241.0.0.1"],
    contentHash: "a".repeat(64),
    revision: 1,
    creationTime: 10,
    modificationTime: 20,
    ...fields,
  };
}

function owned(name: string, zoneRevision: number, fields: Partial<OwnedRow> = {}): OwnedRow {
  return {
    mesh: "default",
    name,
    labels: {},
    spec: { ports: [{ port: 80, appProtocol: "tcp" }] },
    contentHash: "b".repeat(64),
    zoneRevision,
    deleted: false,
    creationTime: 10,
    modificationTime: 20,
    rejection: null,
    ...fields,
  };
}

describe("zone store", () => {
  let t: TempStore;
  beforeEach(() => {
    t = createTempStore("east");
  });
  afterEach(() => t.cleanup());

  it("creates its schema in WAL mode with a store id that survives a restart", () => {
    const id = t.store.storeId;
    expect(id).toMatch(UUID);
    expect(t.store.cursor()).toBeUndefined();
    expect([t.store.zoneRevision(), t.store.upstreamAcked()]).toEqual([0, 0]);
    t.store.setCursor({ epoch: EPOCH, revision: 9 });
    t.reopen();
    expect(t.store.storeId).toBe(id);
    expect(t.store.cursor()).toEqual({ epoch: EPOCH, revision: 9 });
    const db = new Database(t.path, { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(1);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  });

  it("gives a new database a new store id", () => {
    const other = createTempStore("east");
    try {
      expect(other.store.storeId).not.toBe(t.store.storeId);
    } finally {
      other.cleanup();
    }
  });

  it("refuses to open another zone's database", () => {
    t.store.close();
    const copy = join(t.dir, "zone-west.db");
    copyFileSync(t.path, copy);
    expect(() => createZoneStore({ path: copy, synchronous: "normal", zone: "west" })).toThrow(
      `database ${copy} belongs to zone "east", not "west"; refusing to open`,
    );
  });

  it("refuses a schema newer than this build", () => {
    t.store.close();
    const db = new Database(t.path);
    db.pragma("user_version = 9");
    db.close();
    expect(() => createZoneStore({ path: t.path, synchronous: "normal", zone: "east" })).toThrow(
      "database schema version 9 is newer than this build knows (1); refusing to open",
    );
  });

  it("rejects a half-stored cursor at the database level", () => {
    t.store.close();
    const db = new Database(t.path);
    expect(() => db.prepare("UPDATE meta SET cursor_epoch = 'x'").run()).toThrow(/CHECK constraint failed/);
    db.close();
  });

  it("shows no synced row until a cursor is stored, and clears only rows no read could see", () => {
    t.store.putSynced(synced("early", { zone: "west" }));
    t.store.putOwned(owned("mine", 1));
    t.store.putSynced(synced("mine", { zone: "east", vips: ["241.0.0.5"], revision: 8 }));
    // A first sync in progress: rows are stored but nothing reads them, VIPs of own services included.
    expect(t.store.hasSynced()).toBe(false);
    expect(t.store.syncedKeys()).toEqual([]);
    expect(t.store.getSynced({ type: "MeshService", mesh: "default", zone: "west", name: "early" })).toBeUndefined();
    expect(t.store.countSyncedByType()).toEqual([]);
    expect(t.store.inventoryPage(undefined, 10)).toEqual([]);
    expect(t.store.listMeshServices("default", 0, 10).items.map((s) => [s.zone, s.name, s.vips])).toEqual([
      ["east", "mine", []],
    ]);
    expect(t.store.vipsOf({ mesh: "default", zone: "east", name: "mine" })).toEqual([]);
    expect(t.store.vipsOf({ mesh: "default", zone: "west", name: "early" })).toBeUndefined();
    expect(t.store.hasServicesIn("default", "west")).toBe(false);
    // Leftovers of a first sync that never completed go; the outbox stays.
    expect(t.store.clearInvisibleSynced()).toBe(2);
    expect(t.store.getOwned("default", "mine")).toBeDefined();
    t.store.putSynced(synced("mine", { zone: "east", vips: ["241.0.0.5"], revision: 8 }));
    t.store.putSynced(synced("web"));
    // The transaction that stores the cursor shows every row at once; from then on nothing is cleared.
    t.store.setCursor({ epoch: EPOCH, revision: 8 });
    expect(t.store.countSyncedByType()).toEqual([{ type: "MeshService", n: 2 }]);
    expect(t.store.vipsOf({ mesh: "default", zone: "east", name: "mine" })).toEqual(["241.0.0.5"]);
    expect(t.store.vipsOf({ mesh: "default", zone: "", name: "web" })).toEqual(["241.0.0.1"]);
    expect(t.store.hasServicesIn("default")).toBe(true);
    expect(t.store.hasServicesIn("default", "")).toBe(true);
    expect(t.store.hasServicesIn("default", "west")).toBe(false);
    expect(t.store.hasServicesIn("none")).toBe(false);
    expect(t.store.clearInvisibleSynced()).toBe(0);
    expect(t.store.syncedKeys()).toHaveLength(2);
  });

  it("round-trips a synced resource and deletes it", () => {
    t.store.setCursor({ epoch: EPOCH, revision: 1 });
    const row = synced("web", { vips: ["241.0.0.1", "fd00:241::1"] });
    t.store.putSynced(row);
    expect(t.store.getSynced(row)).toEqual(row);
    t.store.putSynced({ ...row, revision: 2, vips: [] });
    expect(t.store.getSynced(row)?.vips).toEqual([]);
    t.store.deleteSynced(row);
    expect(t.store.getSynced(row)).toBeUndefined();
  });

  it("writes many rows at once (in statements of several rows), a repeated key ending with its last row", () => {
    t.store.setCursor({ epoch: EPOCH, revision: 1 });
    expect(t.store.hasSynced()).toBe(false);
    const rows = Array.from({ length: 37 }, (_, i) => synced(`svc-${String(i).padStart(2, "0")}`, { revision: i + 1 }));
    // svc-05 comes again, later in the same statement of rows and then in the remainder.
    rows.splice(9, 0, synced("svc-05", { revision: 100, vips: ["241.0.0.9"] }));
    rows.push(synced("svc-05", { revision: 101, labels: { app: "last" } }));
    t.store.putSyncedRows(rows);
    t.store.putSyncedRows([]);
    expect(t.store.hasSynced()).toBe(true);
    expect(t.store.syncedKeys()).toHaveLength(37);
    expect(t.store.getSynced({ type: "MeshService", mesh: "default", zone: "", name: "svc-05" })).toEqual(
      synced("svc-05", { revision: 101, labels: { app: "last" } }),
    );
    expect(t.store.getSynced({ type: "MeshService", mesh: "default", zone: "", name: "svc-36" })).toEqual(
      synced("svc-36", { revision: 37 }),
    );
  });

  it("pages the inventory in key order without skipping or repeating", () => {
    t.store.setCursor({ epoch: EPOCH, revision: 1 });
    const names = Array.from({ length: 25 }, (_, i) => `s${String(i).padStart(2, "0")}`);
    t.store.transaction(() => {
      for (const name of [...names].reverse())
        t.store.putSynced(synced(name, { zone: Number(name.slice(1)) % 2 ? "west" : "" }));
    });
    const seen: string[] = [];
    let after: ReturnType<typeof t.store.inventoryPage>[number] | undefined;
    for (;;) {
      const page = t.store.inventoryPage(after, 7);
      seen.push(...page.map((row) => `${row.zone}/${row.name}`));
      after = page.at(-1);
      if (page.length < 7) break;
    }
    expect(seen).toHaveLength(25);
    expect(seen).toEqual([...seen].sort());
    expect(seen[0]).toBe("/s00");
    expect(seen.at(-1)).toBe("west/s23");
  });

  it("hands out zone revisions in order and counts the outbox above the watermark", () => {
    t.store.transaction(() => {
      t.store.putOwned(owned("a", t.store.nextZoneRevision()));
      t.store.putOwned(owned("b", t.store.nextZoneRevision()));
      t.store.putOwned(owned("a", t.store.nextZoneRevision()));
    });
    expect(t.store.ownedAbove(0, 10).map((row) => [row.name, row.zoneRevision])).toEqual([
      ["b", 2],
      ["a", 3],
    ]);
    expect(t.store.countOwnedAbove(2)).toBe(1);
    expect(t.store.ownedAbove(2, 10).map((row) => row.name)).toEqual(["a"]);
  });

  it("restamps the outbox above a floor, oldest first", () => {
    t.store.transaction(() => {
      t.store.putOwned(owned("a", t.store.nextZoneRevision()));
      t.store.putOwned(owned("b", t.store.nextZoneRevision()));
    });
    expect(t.store.transaction(() => t.store.restampOwned(10))).toBe(2);
    expect(t.store.ownedAbove(0, 10).map((row) => [row.name, row.zoneRevision])).toEqual([
      ["a", 11],
      ["b", 12],
    ]);
    expect(t.store.nextZoneRevision()).toBe(13);
  });

  it("keeps a rejection only for the content it judged, and drops only applied, accepted tombstones", () => {
    t.store.transaction(() => {
      t.store.putOwned(owned("a", 1, { deleted: true }));
      t.store.putOwned(owned("b", 2, { deleted: true }));
      t.store.putOwned(owned("c", 5));
    });
    t.store.setRejection("default", "b", "VALIDATION_FAILED: no", 3);
    t.store.setRejection("default", "c", "VALIDATION_FAILED: no", 3);
    expect(t.store.getOwned("default", "c")?.rejection).toBeNull();
    expect(t.store.dropTombstones(3)).toBe(1);
    expect(t.store.getOwned("default", "a")).toBeUndefined();
    expect(t.store.getOwned("default", "b")?.rejection).toBe("VALIDATION_FAILED: no");
    t.store.clearRejections(1, 2);
    expect(t.store.getOwned("default", "b")?.rejection).toBeNull();
  });

  it("serves own services from the outbox with the global's VIPs, and hides tombstones", () => {
    t.store.setCursor({ epoch: EPOCH, revision: 1 });
    t.store.putSynced(synced("web", { zone: "east", vips: ["241.0.0.5"], revision: 8 }));
    t.store.putSynced(synced("api", { zone: "west" }));
    t.store.putOwned(owned("web", 1, { labels: { edited: "yes" } }));
    t.store.putOwned(owned("gone", 2, { deleted: true }));
    t.store.putSynced(synced("gone", { zone: "east" }));
    expect(t.store.getMeshService({ mesh: "default", zone: "east", name: "web" })).toEqual({
      mesh: "default",
      zone: "east",
      name: "web",
      labels: { edited: "yes" },
      spec: { ports: [{ port: 80, appProtocol: "tcp" }] },
      vips: ["241.0.0.5"],
      contentHash: "b".repeat(64),
      revision: 8,
      creationTime: 10,
      modificationTime: 20,
    });
    expect(t.store.getMeshService({ mesh: "default", zone: "east", name: "gone" })).toBeUndefined();
    const page = t.store.listMeshServices("default", 0, 10);
    expect(page.total).toBe(2);
    expect(page.items.map((s) => `${s.zone}/${s.name}`)).toEqual(["east/web", "west/api"]);
  });
});
