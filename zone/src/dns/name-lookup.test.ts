import type { ZoneName } from "@mooring/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createManager } from "../manager/manager.js";
import { createApplier } from "../sync/apply.js";
import { changes, createTempStore, EPOCH, key, meshService, silentLogger, type TempStore } from "../test-support.js";
import { createNameLookup, type NameLookup } from "./name-lookup.js";
import { serviceDnsName } from "./names.js";

const service = (ipv4: string[], ipv6: string[] = []) => ({ kind: "service", addresses: { ipv4, ipv6 } });

describe("DNS name lookup", () => {
  let t: TempStore;
  let applier: ReturnType<typeof createApplier>;
  let lookup: (name: string) => NameLookup;
  let revision: number;

  /** Publishes one live batch from the global, as the sync client would apply it. */
  function publish(body: Parameters<typeof changes>[2]): void {
    const session = applier.session({ mode: "incremental", epoch: EPOCH });
    const outcome = session.apply(changes(revision, revision + 1, body));
    if (!outcome.ok) throw new Error(outcome.reason);
    revision += 1;
  }

  function ownManager() {
    return createManager(t.store, { zone: "east" as ZoneName, maxMessageBytes: 65536 });
  }

  beforeEach(() => {
    t = createTempStore("east");
    applier = createApplier(t.store, silentLogger);
    const first = applier.session({ mode: "full", epoch: EPOCH }).apply(changes(0, 1, {}));
    if (!first.ok) throw new Error(first.reason);
    revision = 1;
    lookup = createNameLookup(t.store);
  });
  afterEach(() => t.cleanup());

  it("answers every mesh's services from the store, VIPs split by family", () => {
    publish({
      upserts: [
        meshService("web", { vips: ["241.0.0.1", "fd00:241::1"] }),
        meshService("api", { mesh: "payments", vips: ["241.0.0.2"] }),
        meshService("db", { zone: "west", vips: ["fd00:241::3"] }),
      ],
    });
    expect(lookup("web.default.mesh.local")).toEqual(service(["241.0.0.1"], ["fd00:241::1"]));
    expect(lookup("api.payments.mesh.local")).toEqual(service(["241.0.0.2"]));
    expect(lookup("db.west.default.mesh.local")).toEqual(service([], ["fd00:241::3"]));
  });

  it("is case-insensitive and tolerates a trailing dot", () => {
    publish({ upserts: [meshService("web", { vips: ["241.0.0.1"] })] });
    expect(lookup("WEB.Default.Mesh.Local.")).toEqual(service(["241.0.0.1"]));
  });

  it("tells existing names without records from unknown names, and names outside mesh.local", () => {
    publish({ upserts: [meshService("web", { vips: ["241.0.0.1"] }), meshService("db", { zone: "west" })] });
    expect(lookup("mesh.local")).toEqual({ kind: "empty" });
    expect(lookup("default.mesh.local")).toEqual({ kind: "empty" });
    expect(lookup("west.default.mesh.local")).toEqual({ kind: "empty" });
    expect(lookup("db.west.default.mesh.local")).toEqual(service([]));
    expect(lookup("nope.default.mesh.local")).toEqual({ kind: "unknown" });
    expect(lookup("web.other.mesh.local")).toEqual({ kind: "unknown" });
    expect(lookup("x.web.default.mesh.local")).toEqual({ kind: "unknown" });
    expect(lookup("a.x.web.default.mesh.local")).toEqual({ kind: "unknown" });
    expect(lookup("payments.mesh.local")).toEqual({ kind: "unknown" });
    expect(lookup("example.com")).toEqual({ kind: "outside" });
    expect(lookup("web.default.mesh.local.example.com")).toEqual({ kind: "outside" });
  });

  it("reads no empty label as the global's zone", () => {
    publish({ upserts: [meshService("web", { vips: ["241.0.0.1"] })] });
    // NAME.ZONE.MESH with ZONE "" would be the global-owned web.default.mesh.local.
    expect(lookup("web..default.mesh.local")).toEqual({ kind: "unknown" });
    expect(lookup(".default.mesh.local")).toEqual({ kind: "unknown" });
    expect(lookup("..mesh.local")).toEqual({ kind: "unknown" });
  });

  it("follows each committed batch: additions, VIP changes and removals", () => {
    publish({ upserts: [meshService("web", { vips: ["241.0.0.1"] }), meshService("api", { mesh: "payments" })] });
    expect(lookup("api.payments.mesh.local")).toEqual(service([]));

    publish({ upserts: [meshService("api", { mesh: "payments", vips: ["241.0.0.2", "fd00:241::2"], revision: 2 })] });
    expect(lookup("api.payments.mesh.local")).toEqual(service(["241.0.0.2"], ["fd00:241::2"]));

    publish({ deletes: [key("api", { mesh: "payments" })] });
    expect(lookup("api.payments.mesh.local")).toEqual({ kind: "unknown" });
    // The mesh had no other service: its name is gone with the last one.
    expect(lookup("payments.mesh.local")).toEqual({ kind: "unknown" });
    expect(lookup("web.default.mesh.local")).toEqual(service(["241.0.0.1"]));
  });

  it("answers nothing of a first sync until the message that stores its cursor", () => {
    const fresh = createTempStore("east");
    try {
      const freshLookup = createNameLookup(fresh.store);
      const session = createApplier(fresh.store, silentLogger).session({ mode: "full", epoch: EPOCH });
      const first = session.apply(
        changes(0, 2, { upserts: [meshService("web", { vips: ["241.0.0.1"] })], last: false }),
      );
      if (!first.ok) throw new Error(first.reason);
      expect(freshLookup("web.default.mesh.local")).toEqual({ kind: "unknown" });
      expect(freshLookup("default.mesh.local")).toEqual({ kind: "unknown" });
      const last = session.apply(changes(0, 2, { upserts: [meshService("api", { zone: "west" })] }));
      if (!last.ok) throw new Error(last.reason);
      expect(freshLookup("web.default.mesh.local")).toEqual(service(["241.0.0.1"]));
      expect(freshLookup("west.default.mesh.local")).toEqual({ kind: "empty" });
    } finally {
      fresh.cleanup();
    }
  });

  it("shows an own service at once after a local write, with its VIPs once published, and hides it when deleted", () => {
    const manager = ownManager();
    manager.putMeshService("default", "db", { spec: { ports: [{ port: 5432 }] } });
    expect(lookup("db.east.default.mesh.local")).toEqual(service([]));
    expect(lookup("east.default.mesh.local")).toEqual({ kind: "empty" });

    publish({
      upserts: [
        meshService("db", { zone: "east", vips: ["241.0.0.9", "fd00:241::9"] }),
        meshService("web", { vips: ["241.0.0.1"] }),
      ],
    });
    expect(lookup("db.east.default.mesh.local")).toEqual(service(["241.0.0.9"], ["fd00:241::9"]));

    // The tombstone hides it from the REST view before the global has applied the delete; DNS too.
    manager.deleteMeshService("default", "db");
    expect(t.store.getSynced({ type: "MeshService", mesh: "default", zone: "east", name: "db" })).toBeDefined();
    expect(lookup("db.east.default.mesh.local")).toEqual({ kind: "unknown" });
    expect(lookup("east.default.mesh.local")).toEqual({ kind: "unknown" });
  });

  it("answers exactly the services of the REST view, with the same VIPs", () => {
    const manager = ownManager();
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

    const view = ["default", "m2"].flatMap((mesh) => t.store.listMeshServices(mesh, 0, 100).items);
    expect(view.map((s) => serviceDnsName(s))).toEqual([
      "web.default.mesh.local",
      "local.east.default.mesh.local",
      "b.m2.mesh.local",
    ]);
    for (const s of view) {
      const found = lookup(serviceDnsName(s));
      expect(found.kind === "service" ? [...found.addresses.ipv4, ...found.addresses.ipv6] : found).toEqual(s.vips);
    }
    for (const gone of ["a.west.default.mesh.local", "own.east.default.mesh.local", "west.default.mesh.local"]) {
      expect(lookup(gone)).toEqual({ kind: "unknown" });
    }
  });
});
