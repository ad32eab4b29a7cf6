import type { ZoneName } from "@mooring/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createManager } from "../manager/manager.js";
import { createApplier } from "../sync/apply.js";
import { changes, createTempStore, EPOCH, key, meshService, silentLogger, type TempStore } from "../test-support.js";
import { createNameIndex, type NameIndex } from "./name-index.js";
import { serviceDnsName } from "./names.js";

const service = (ipv4: string[], ipv6: string[] = []) => ({ kind: "service", addresses: { ipv4, ipv6 } });

describe("DNS name index", () => {
  let t: TempStore;
  let applier: ReturnType<typeof createApplier>;
  let index: NameIndex;
  let revision: number;

  /** Publishes one live batch from the global, as the sync client would apply it. */
  function publish(body: Parameters<typeof changes>[2]): void {
    const session = applier.session({ mode: "incremental", epoch: EPOCH });
    const outcome = session.apply(changes(revision, revision + 1, body));
    if (!outcome.ok) throw new Error(outcome.reason);
    revision += 1;
  }

  beforeEach(() => {
    t = createTempStore("east");
    applier = createApplier(t.store, silentLogger);
    const first = applier.session({ mode: "full", epoch: EPOCH }).apply(changes(0, 1, {}));
    if (!first.ok) throw new Error(first.reason);
    revision = 1;
    index = createNameIndex(t.store);
    index.load();
    applier.onChanges((event) => index.applyChanges(event));
  });
  afterEach(() => t.cleanup());

  it("loads every mesh's services from the store, VIPs split by family", () => {
    publish({
      upserts: [
        meshService("web", { vips: ["241.0.0.1", "fd00:241::1"] }),
        meshService("api", { mesh: "payments", vips: ["241.0.0.2"] }),
        meshService("db", { zone: "west", vips: ["fd00:241::3"] }),
      ],
    });
    const fresh = createNameIndex(t.store);
    expect(fresh.load()).toBe(3);
    expect(fresh.lookup("web.default.mesh.local")).toEqual(service(["241.0.0.1"], ["fd00:241::1"]));
    expect(fresh.lookup("api.payments.mesh.local")).toEqual(service(["241.0.0.2"]));
    expect(fresh.lookup("db.west.default.mesh.local")).toEqual(service([], ["fd00:241::3"]));
  });

  it("loads more services than one page holds", () => {
    const names = Array.from({ length: 2500 }, (_, i) => `svc-${i}`);
    publish({ upserts: names.map((name, i) => meshService(name, { vips: [`241.0.${i >> 8}.${i & 255}`] })) });
    const fresh = createNameIndex(t.store);
    expect(fresh.load()).toBe(2500);
    expect(fresh.lookup("svc-2499.default.mesh.local")).toEqual(service(["241.0.9.195"]));
  });

  it("is case-insensitive and tolerates a trailing dot", () => {
    publish({ upserts: [meshService("web", { vips: ["241.0.0.1"] })] });
    expect(index.lookup("WEB.Default.Mesh.Local.")).toEqual(service(["241.0.0.1"]));
  });

  it("tells existing names without records from unknown names, and names outside mesh.local", () => {
    publish({ upserts: [meshService("web", { vips: ["241.0.0.1"] }), meshService("db", { zone: "west" })] });
    expect(index.lookup("mesh.local")).toEqual({ kind: "empty" });
    expect(index.lookup("default.mesh.local")).toEqual({ kind: "empty" });
    expect(index.lookup("west.default.mesh.local")).toEqual({ kind: "empty" });
    expect(index.lookup("db.west.default.mesh.local")).toEqual(service([]));
    expect(index.lookup("nope.default.mesh.local")).toEqual({ kind: "unknown" });
    expect(index.lookup("web.other.mesh.local")).toEqual({ kind: "unknown" });
    expect(index.lookup("x.web.default.mesh.local")).toEqual({ kind: "unknown" });
    expect(index.lookup("payments.mesh.local")).toEqual({ kind: "unknown" });
    expect(index.lookup("example.com")).toEqual({ kind: "outside" });
    expect(index.lookup("web.default.mesh.local.example.com")).toEqual({ kind: "outside" });
  });

  it("follows each committed batch: additions, VIP changes and removals", () => {
    publish({ upserts: [meshService("web", { vips: ["241.0.0.1"] }), meshService("api", { mesh: "payments" })] });
    expect(index.size()).toBe(2);
    expect(index.lookup("api.payments.mesh.local")).toEqual(service([]));

    publish({ upserts: [meshService("api", { mesh: "payments", vips: ["241.0.0.2", "fd00:241::2"], revision: 2 })] });
    expect(index.lookup("api.payments.mesh.local")).toEqual(service(["241.0.0.2"], ["fd00:241::2"]));

    publish({ deletes: [key("api", { mesh: "payments" })] });
    expect(index.lookup("api.payments.mesh.local")).toEqual({ kind: "unknown" });
    // The mesh had no other service: its name is gone with the last one.
    expect(index.lookup("payments.mesh.local")).toEqual({ kind: "unknown" });
    expect(index.lookup("web.default.mesh.local")).toEqual(service(["241.0.0.1"]));
    expect(index.size()).toBe(1);
  });

  it("shows an own service at once after a local write, with its VIPs once published, and hides it when deleted", () => {
    const manager = createManager(t.store, {
      zone: "east" as ZoneName,
      maxMessageBytes: 65536,
      onLocalWrite: (id) => index.refresh(id),
    });
    manager.putMeshService("default", "db", { spec: { ports: [{ port: 5432 }] } });
    expect(index.lookup("db.east.default.mesh.local")).toEqual(service([]));

    const published = manager.getMeshService({ mesh: "default", zone: "east", name: "db" });
    publish({
      upserts: [
        meshService("db", { zone: "east", vips: ["241.0.0.9", "fd00:241::9"] }),
        meshService("web", { vips: ["241.0.0.1"] }),
      ],
    });
    expect(published.vips).toEqual([]);
    expect(index.lookup("db.east.default.mesh.local")).toEqual(service(["241.0.0.9"], ["fd00:241::9"]));

    // The tombstone hides it from the REST view before the global has applied the delete; DNS too.
    manager.deleteMeshService("default", "db");
    expect(t.store.getSynced({ type: "MeshService", mesh: "default", zone: "east", name: "db" })).toBeDefined();
    expect(index.lookup("db.east.default.mesh.local")).toEqual({ kind: "unknown" });
    expect(index.lookup("east.default.mesh.local")).toEqual({ kind: "unknown" });
  });

  it("holds exactly the services of the REST view, with the same VIPs", () => {
    const manager = createManager(t.store, {
      zone: "east" as ZoneName,
      maxMessageBytes: 65536,
      onLocalWrite: (id) => index.refresh(id),
    });
    publish({
      upserts: [
        meshService("web", { vips: ["241.0.0.1", "fd00:241::1"] }),
        meshService("a", { zone: "west", vips: ["241.0.0.2"] }),
        meshService("own", { zone: "east", vips: ["241.0.0.3"] }),
        meshService("b", { mesh: "m2", vips: ["fd00:241::4"] }),
      ],
    });
    manager.putMeshService("default", "local", { spec: { ports: [{ port: 1 }] } });
    manager.deleteMeshService("default", "own");
    publish({ deletes: [key("a", { zone: "west" })] });

    const view = t.store.meshes().flatMap((mesh) => t.store.listMeshServices(mesh, 0, 100).items);
    expect(view.map((s) => serviceDnsName(s))).toEqual([
      "web.default.mesh.local",
      "local.east.default.mesh.local",
      "b.m2.mesh.local",
    ]);
    expect(index.size()).toBe(view.length);
    for (const s of view) {
      const found = index.lookup(serviceDnsName(s));
      expect(found.kind === "service" ? [...found.addresses.ipv4, ...found.addresses.ipv6] : found).toEqual(s.vips);
    }
    // A reload from the store gives the same answers as the incrementally kept index.
    const reloaded = createNameIndex(t.store);
    expect(reloaded.load()).toBe(3);
    for (const s of view) expect(reloaded.lookup(serviceDnsName(s))).toEqual(index.lookup(serviceDnsName(s)));
  });
});
