import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqlite } from "@mooring/shared";
import { afterEach, describe, expect, it } from "vitest";
import { createManager } from "../../manager/manager.js";
import { createVipAllocator } from "../../vip/allocator.js";
import { parseCidrList } from "../../vip/cidr.js";
import { createSqliteStore } from "../sqlite-store.js";
import { MIGRATIONS } from "./index.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const body = { labels: { app: "a" }, spec: { ports: [{ port: 8080 }] } };

/** A database as an earlier release left it: migrations up to `version` applied, in a temp dir. */
function databaseAt(version: number) {
  const dir = mkdtempSync(join(tmpdir(), "mooring-migrate-"));
  dirs.push(dir);
  const path = join(dir, "global.db");
  const old = openSqlite({ path, synchronous: "normal", migrations: MIGRATIONS.filter((m) => m.version <= version) });
  return { path, old };
}

describe("migrations", () => {
  it("migration 4 keeps every row of a schema-3 database, and what comes after continues from it", () => {
    // A database as the previous release left it: migrations 1-3, with leases, events and a cursor.
    const { path, old } = databaseAt(3);
    old.exec(`
      INSERT INTO vip_leases (ip, ip_key, family, mesh, zone, name, state, pinned, leased_at, released_at) VALUES
        ('241.0.0.1', 'f1000001', 4, 'default', '', 'a', 'bound', 0, 1, NULL),
        ('241.0.0.2', 'f1000002', 4, 'default', '', 'b', 'released', 0, 1, 5);
      INSERT INTO lease_events (at, event, ip, family, mesh, zone, name, reason) VALUES
        (1, 'allocate', '241.0.0.1', 4, 'default', '', 'a', 'new identity'),
        (1, 'allocate', '241.0.0.2', 4, 'default', '', 'b', 'new identity'),
        (5, 'release', '241.0.0.2', 4, 'default', '', 'b', 'service deleted');
      INSERT INTO vip_cursors (cidr, next_key) VALUES ('241.0.0.0/8', 'f1000003');
    `);
    expect(old.pragma("user_version", { simple: true })).toBe(3);
    old.close();

    const store = createSqliteStore({ path, synchronous: "normal" });
    try {
      expect(store.leaseEvents("241.0.0.2", 10).map((e) => [e.id, e.event])).toEqual([
        [3, "release"],
        [2, "allocate"],
      ]);
      expect(store.leaseAt(4, "f1000002")?.state).toBe("released");
      // The reclaim query still finds released leases (now through the partial index).
      expect(store.oldestReclaimable(4, 10, "f1000000", "f1ffffff")?.ip).toBe("241.0.0.2");
      const allocator = createVipAllocator(store, { ranges: parseCidrList("241.0.0.0/8"), quarantineMs: 1 });
      const manager = createManager(store, allocator);
      const created = manager.putMeshService({ mesh: "default", zone: "", name: "c" }, body);
      expect(created.service.vips).toEqual(["241.0.0.3"]);
      const events = store.leaseEvents("241.0.0.3", 10);
      expect(events.map((e) => [e.id, e.event])).toEqual([[4, "allocate"]]);
    } finally {
      store.close();
    }
  });

  it("migration 5 keys leases by address and keeps every lease, its state and its uniqueness", () => {
    const { path, old } = databaseAt(4);
    old.exec(`
      INSERT INTO vip_leases (ip, ip_key, family, mesh, zone, name, state, pinned, leased_at, released_at) VALUES
        ('241.0.0.1', 'f1000001', 4, 'default', '', 'a', 'bound', 0, 1, NULL),
        ('241.0.0.2', 'f1000002', 4, 'default', '', 'b', 'released', 0, 1, 5),
        ('241.0.0.9', 'f1000009', 4, 'default', 'east', 'c', 'reserved', 1, 2, NULL),
        ('fd00:241::1', 'fd000241000000000000000000000001', 6, 'default', '', 'a', 'bound', 0, 1, NULL);
    `);
    const before = old.prepare("SELECT * FROM vip_leases ORDER BY family, ip_key").all();
    old.close();

    const store = createSqliteStore({ path, synchronous: "normal" });
    try {
      expect(store.listLeases(0, 10).items.map((l) => [l.ip, l.state, l.pinned])).toEqual([
        ["241.0.0.1", "bound", false],
        ["241.0.0.2", "released", false],
        ["241.0.0.9", "reserved", true],
        ["fd00:241::1", "bound", false],
      ]);
      expect(store.leaseAt(6, "fd000241000000000000000000000001")?.name).toBe("a");
      expect(store.oldestReclaimable(4, 10, "f1000000", "f1ffffff")?.ip).toBe("241.0.0.2");
      const lease = { ip: "241.0.0.1", ipKey: "f1000001", family: 4 as const, state: "bound" as const };
      const row = { ...lease, mesh: "default", zone: "", name: "z", pinned: false, leasedAt: 9, releasedAt: null };
      // One lease per address, and one per identity and family: SQLite refuses both.
      expect(() => store.insertLease(row)).toThrow(/UNIQUE/);
      expect(() => store.insertLease({ ...row, ip: "241.0.0.7", ipKey: "f1000007", name: "a" })).toThrow(/UNIQUE/);
    } finally {
      store.close();
    }
    const reopened = openSqlite({ path, synchronous: "normal", migrations: MIGRATIONS });
    try {
      expect(reopened.prepare("SELECT * FROM vip_leases ORDER BY family, ip_key").all()).toEqual(before);
    } finally {
      reopened.close();
    }
  });
});
