// The snapshot cache against a real SQLite store: what it hands out must always be exactly what a
// scan of the store at that head would encode, however the store changed in between.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { ResourceKeySchema } from "@mooring/proto";
import { afterEach, describe, expect, it } from "vitest";
import { createManager } from "../manager/manager.js";
import { createZoneManager } from "../manager/zones.js";
import { createSqliteStore, type SqliteStore } from "../store/sqlite-store.js";
import { createVipAllocator } from "../vip/allocator.js";
import { parseCidrList } from "../vip/cidr.js";
import { compactChangeLog } from "./compaction.js";
import { encodeMeshServiceLatin1 } from "./encode.js";
import { createSnapshotCache, fingerprint, keyText, type Snapshot } from "./snapshot-cache.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function setup(ranges = "241.0.0.0/16", dir = mkdtempSync(join(tmpdir(), "mooring-snapshot-cache-"))) {
  const store = createSqliteStore({ path: join(dir, "global.db"), synchronous: "normal" });
  const allocator = createVipAllocator(store, { ranges: parseCidrList(ranges), quarantineMs: 60_000 });
  const manager = createManager(store, allocator);
  const cache = createSnapshotCache(store);
  cleanups.push(() => {
    cache.close();
    if (store.isOpen()) store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const id = (name: string) => ({ mesh: "default", zone: "", name });
  return {
    dir,
    store,
    allocator,
    manager,
    cache,
    put: (name: string, port = 80) => manager.putMeshService(id(name), { spec: { ports: [{ port }] } }),
    remove: (name: string) => manager.deleteMeshService(id(name)),
  };
}

/** What a scan of the store encodes now, by key. */
function scanned(store: SqliteStore): Map<string, { fingerprint: string; encoded: string }> {
  const all = new Map<string, { fingerprint: string; encoded: string }>();
  let position: Parameters<SqliteStore["resourcesAfter"]>[0];
  for (;;) {
    const rows = store.resourcesAfter(position, 100);
    for (const row of rows) {
      all.set(keyText(row), {
        fingerprint: fingerprint(row.contentHash, row.vips),
        encoded: encodeMeshServiceLatin1(row as Parameters<typeof encodeMeshServiceLatin1>[0]),
      });
    }
    if (rows.length < 100) return all;
    position = rows.at(-1);
  }
}

function byKey(snapshot: Snapshot): Map<string, { fingerprint: string; encoded: string }> {
  return new Map(snapshot.resources.map((r) => [r.key, { fingerprint: r.fingerprint, encoded: r.encoded }]));
}

/** The names of a snapshot's services, in its order (keys are `type/mesh/zone/name`). */
const names = (snapshot: Snapshot) => snapshot.resources.map((r) => r.key.split("/")[3]);

function expectCurrent(store: SqliteStore, snapshot: Snapshot): void {
  expect(snapshot.head).toBe(store.headRevision());
  expect(byKey(snapshot)).toEqual(scanned(store));
}

describe("snapshot cache", () => {
  it("hands out every resource at the head, encoded as a scan would, in key order", async () => {
    const t = setup();
    for (const name of ["c", "a", "b"]) t.put(name);
    const snapshot = await t.cache.snapshot();
    expectCurrent(t.store, snapshot);
    expect(names(snapshot)).toEqual(["a", "b", "c"]);
  });

  it("warm() builds in the background and says how many resources it cached", async () => {
    const t = setup();
    for (const name of ["a", "b", "c"]) t.put(name);
    const built = await new Promise<{ resources: number; ms: number }>((resolve, reject) =>
      t.cache.warm({ onBuilt: (resources, ms) => resolve({ resources, ms }), onError: reject }),
    );
    expect(built.resources).toBe(3);
    expect(built.ms).toBeGreaterThanOrEqual(0);
    expect(t.cache.size()).toBe(3);
  });

  it("catches up from the change log: updates, deletes and creates since the last snapshot", async () => {
    const t = setup();
    for (const name of ["a", "b", "c"]) t.put(name);
    const before = await t.cache.snapshot();
    t.put("a", 8080);
    t.remove("b");
    t.put("d");
    const after = await t.cache.snapshot();
    expectCurrent(t.store, after);
    expect(names(after)).toEqual(["a", "c", "d"]);
    // The earlier snapshot still holds what it was taken with (entries are replaced, never changed).
    expect(names(before)).toEqual(["a", "b", "c"]);
    expect(before.resources[0]?.encoded).not.toEqual(after.resources[0]?.encoded);
  });

  it("repairs what a build read half-way: writes between its pages are caught up", async () => {
    const t = setup();
    for (let i = 0; i < 1200; i++) t.put(`s${String(i).padStart(4, "0")}`);
    const building = t.cache.snapshot();
    // The build reads 500 rows, then yields: these land between its pages.
    t.put("s0001", 9090);
    t.remove("s0002");
    t.remove("s1100");
    t.put("s9999");
    expectCurrent(t.store, await building);
  });

  it("rebuilds when the change log was compacted past it", async () => {
    const t = setup();
    for (const name of ["a", "b"]) t.put(name);
    await t.cache.snapshot();
    t.remove("a");
    t.put("c");
    t.store.transaction(() => compactChangeLog(t.store, { maxEntries: 0, now: Date.now() }));
    expect(t.store.compactedThrough()).toBe(t.store.headRevision());
    expectCurrent(t.store, await t.cache.snapshot());
  });

  it("does not install a build that invalidate() overtook", async () => {
    const t = setup();
    for (let i = 0; i < 1200; i++) t.put(`s${i}`);
    const building = t.cache.snapshot();
    // A change the log does not record, to a row the build has already read: only a new build sees it.
    const row = t.store.getResource("MeshService", { mesh: "default", zone: "", name: "s0" });
    if (!row) throw new Error("s0 is missing");
    t.store.putResource({ ...row, labels: { changed: "outside-the-log" } });
    t.cache.invalidate();
    expectCurrent(t.store, await building);
    expect(t.cache.size()).toBe(1200);
  });

  it("a VIP re-adopted for a live service is a change: the next snapshot carries it", async () => {
    // The service was created while only IPv4 was configured; an IPv6 range was added since.
    const first = setup("241.0.0.0/16");
    first.put("a");
    first.cache.close();
    first.store.close();
    const t = setup("241.0.0.0/16,fd00:241::/64", first.dir);
    const before = await t.cache.snapshot();
    expect(before.resources[0]?.fingerprint).toMatch(/\|241\.0\.0\.1$/);
    const zones = createZoneManager(t.store, t.manager, t.allocator);
    const result = zones.adopt(
      [
        {
          key: create(ResourceKeySchema, { type: "MeshService", mesh: "default", name: "a" }),
          vips: ["fd00:241::9"],
          revision: 1,
        },
      ],
      "test",
    );
    expect(result.adopted).toBe(1);
    expect(t.store.headRevision()).toBe(before.head + 1);
    const after = await t.cache.snapshot();
    expectCurrent(t.store, after);
    expect(after.resources[0]?.fingerprint).toMatch(/\|241\.0\.0\.1,fd00:241::9$/);
  });
});
