import type { ZoneName } from "@mooring/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSyncClient } from "../client/sync-client.js";
import { createManager } from "../manager/manager.js";
import { createMetrics } from "../metrics.js";
import type { SyncedRow } from "../store/types.js";
import { createTempStore, EPOCH, silentLogger, type TempStore } from "../test-support.js";
import { build, type ZoneApp } from "./app.js";

const spec = { ports: [{ port: 80, appProtocol: "http" }] };
const T0 = Date.parse("2026-01-01T00:00:00Z");

function synced(name: string, zone: string, fields: Partial<SyncedRow> = {}): SyncedRow {
  return {
    type: "MeshService",
    mesh: "default",
    zone,
    name,
    labels: {},
    spec: { ports: [{ port: 80, appProtocol: "http" }] },
    vips: ["241.0.0.9"],
    contentHash: "f".repeat(64),
    revision: 3,
    creationTime: T0,
    modificationTime: T0,
    ...fields,
  };
}

describe("zone MeshService REST", () => {
  let t: TempStore;
  let app: ZoneApp;
  let writes: number;
  let clock: { now: number };

  async function open(maxMessageBytes = 4 * 1024 * 1024) {
    writes = 0;
    const metrics = createMetrics(t.store);
    const client = createSyncClient({
      config: { global: { host: "127.0.0.1", port: 1 }, reconnectMin: 10, reconnectMax: 10, syncMaxMessage: 65536 },
      store: t.store,
      logger: silentLogger,
      metrics,
      instanceId: "3f9d2c41-8b7a-4e6f-9c1d-0a1b2c3d4e5f",
    });
    const manager = createManager(t.store, {
      zone: "east" as ZoneName,
      maxMessageBytes,
      onLocalWrite: () => {
        writes += 1;
      },
      now: () => clock.now,
    });
    app = await build({ manager, store: t.store, client, metrics, logger: silentLogger, bodyLimit: 1_048_576 });
  }

  beforeEach(async () => {
    t = createTempStore("east");
    // Synced rows count once a sync has completed (stored a cursor); the tests write them directly.
    t.store.setCursor({ epoch: EPOCH, revision: 1 });
    clock = { now: T0 };
    await open();
  });
  afterEach(async () => {
    await app.close();
    t.cleanup();
  });

  const put = (name: string, body: unknown, mesh = "default") =>
    app.inject({ method: "PUT", url: `/meshes/${mesh}/meshservices/${name}`, payload: body as object });
  const get = (url: string) => app.inject({ method: "GET", url });

  it("creates an own service (201), pending until the global publishes it", async () => {
    const created = await put("web", { labels: { app: "web" }, spec });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({
      type: "MeshService",
      mesh: "default",
      zone: "east",
      name: "web",
      labels: { app: "web" },
      spec: { ports: [{ port: 80, appProtocol: "http" }] },
      status: { vips: [] },
      creationTime: "2026-01-01T00:00:00.000Z",
      modificationTime: "2026-01-01T00:00:00.000Z",
      revision: 0,
      contentHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(writes).toBe(1);
    expect(t.store.getOwned("default", "web")).toMatchObject({ zoneRevision: 1, deleted: false, rejection: null });
    expect((await get("/meshes/default/meshservices/web")).json()).toEqual(created.json());
  });

  it("answers an identical PUT with 200 and writes nothing", async () => {
    const first = (await put("web", { labels: { app: "web" }, spec })).json();
    clock.now += 60_000;
    // Same content: keys reordered, the default appProtocol spelled out differently is still equal.
    const again = await put("web", { spec: { ports: [{ appProtocol: "http", port: 80 }] }, labels: { app: "web" } });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first);
    expect(t.store.zoneRevision()).toBe(1);
    expect(writes).toBe(1);
  });

  it("shows local edits at once, with the VIPs and revision of the global's copy", async () => {
    const created = (await put("web", { spec })).json();
    // The global applied it and published it back with a VIP.
    t.store.putSynced(synced("web", "east", { contentHash: created.contentHash, revision: 12, vips: ["241.0.0.7"] }));
    const published = (await get("/meshes/default/meshservices/web")).json();
    expect([published.status, published.revision]).toEqual([{ vips: [{ ip: "241.0.0.7" }] }, 12]);

    clock.now += 1000;
    const edited = await put("web", { spec: { ports: [{ port: 8080 }] } });
    expect(edited.statusCode).toBe(200);
    expect(edited.json()).toMatchObject({
      spec: { ports: [{ port: 8080, appProtocol: "tcp" }] },
      status: { vips: [{ ip: "241.0.0.7" }] },
      revision: 12,
      creationTime: "2026-01-01T00:00:00.000Z",
      modificationTime: "2026-01-01T00:00:01.000Z",
    });
    expect(edited.json().contentHash).not.toBe(created.contentHash);
    expect(t.store.zoneRevision()).toBe(2);
  });

  it("lists everything it knows in a mesh by zone and name, paged like the global", async () => {
    t.store.putSynced(synced("zeta", ""));
    t.store.putSynced(synced("alpha", ""));
    t.store.putSynced(synced("api", "west"));
    t.store.putSynced(synced("other-mesh", "", { mesh: "other" }));
    await put("web", { spec });
    await put("cache", { spec });

    const first = await get("/meshes/default/meshservices?size=2");
    expect(first.statusCode).toBe(200);
    expect(first.json().total).toBe(5);
    expect(first.json().items.map((s: { zone?: string; name: string }) => `${s.zone ?? ""}/${s.name}`)).toEqual([
      "/alpha",
      "/zeta",
    ]);
    expect(first.json().next).toBe("/meshes/default/meshservices?size=2&offset=2");
    const rest = (await get("/meshes/default/meshservices?offset=2&size=10")).json();
    expect(rest.items.map((s: { zone?: string; name: string }) => `${s.zone ?? ""}/${s.name}`)).toEqual([
      "east/cache",
      "east/web",
      "west/api",
    ]);
    expect(rest.next).toBeNull();
    expect(rest.items[2]).toMatchObject({ status: { vips: [{ ip: "241.0.0.9" }] }, revision: 3 });
    expect((await get("/meshes/default/meshservices?size=0")).json()).toMatchObject({
      code: "VALIDATION_FAILED",
      details: [{ field: "size", reason: "must be >= 1" }],
    });
  });

  it("deletes an own service as a tombstone: hidden at once, sent up later", async () => {
    await put("web", { spec });
    t.store.putSynced(synced("web", "east"));
    const deleted = await app.inject({ method: "DELETE", url: "/meshes/default/meshservices/web" });
    expect(deleted.statusCode).toBe(200);
    expect(deleted.json()).toMatchObject({ zone: "east", name: "web", status: { vips: [{ ip: "241.0.0.9" }] } });
    expect(t.store.getOwned("default", "web")).toMatchObject({ deleted: true, zoneRevision: 2 });
    expect(writes).toBe(2);

    expect((await get("/meshes/default/meshservices/web")).json()).toEqual({
      code: "NOT_FOUND",
      message: "MeshService default/east/web not found",
      details: [],
    });
    expect((await get("/meshes/default/meshservices")).json().total).toBe(0);
    expect((await app.inject({ method: "DELETE", url: "/meshes/default/meshservices/web" })).statusCode).toBe(404);

    // Re-created before the global applied the delete: a create again.
    const recreated = await put("web", { spec });
    expect(recreated.statusCode).toBe(201);
    expect(t.store.getOwned("default", "web")).toMatchObject({ deleted: false, zoneRevision: 3 });
  });

  it("serves an own-zone service known only from the global, and can delete it", async () => {
    // The zone's database was replaced; the global still holds what the old one created.
    t.store.putSynced(synced("legacy", "east"));
    expect((await get("/meshes/default/meshservices/legacy")).json()).toMatchObject({ zone: "east", revision: 3 });
    const deleted = await app.inject({ method: "DELETE", url: "/meshes/default/meshservices/legacy" });
    expect(deleted.statusCode).toBe(200);
    expect(t.store.getOwned("default", "legacy")).toMatchObject({ deleted: true, contentHash: "f".repeat(64) });
    expect((await get("/meshes/default/meshservices/legacy")).statusCode).toBe(404);
  });

  it("reads zone-owned services of any zone", async () => {
    t.store.putSynced(synced("api", "west"));
    await put("web", { spec });
    expect((await get("/meshes/default/zones/west/meshservices/api")).json()).toMatchObject({
      zone: "west",
      name: "api",
    });
    expect((await get("/meshes/default/zones/east/meshservices/web")).json()).toMatchObject({ zone: "east" });
    expect((await get("/meshes/default/zones/north/meshservices/api")).json()).toMatchObject({
      code: "NOT_FOUND",
      message: "MeshService default/north/api not found",
    });
  });

  it("takes back a GET result as a PUT body", async () => {
    const created = (await put("web", { spec })).json();
    const again = await put("web", created);
    expect(again.statusCode).toBe(200);
    expect(writes).toBe(1);
  });

  it("checks a revision precondition and echoed VIPs against what it serves", async () => {
    await put("web", { spec });
    const stale = await put("web", { spec: { ports: [{ port: 81 }] }, revision: 4 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toEqual({
      code: "REVISION_CONFLICT",
      message: "revision 4 is stale: the served revision is 0",
      details: [{ field: "revision", reason: "the served revision is 0" }],
    });
    const vips = await put("web", { spec: { ports: [{ port: 81 }] }, status: { vips: [{ ip: "241.0.0.1" }] } });
    expect(vips.json()).toMatchObject({
      code: "VALIDATION_FAILED",
      details: [
        {
          field: "status.vips",
          reason: "VIPs are assigned by the global; reserve an address there with PUT /vips/{ip}",
        },
      ],
    });
    expect(t.store.zoneRevision()).toBe(1);
  });

  it.each([
    ["a name that is not a DNS label", "/meshes/default/meshservices/Web_1", { spec }, "name", /DNS-1123 label/],
    ["a bad mesh", "/meshes/Bad/meshservices/web", { spec }, "mesh", /DNS-1123 label/],
    [
      "another zone in the body",
      "/meshes/default/meshservices/web",
      { zone: "west", spec },
      "zone",
      'must be this zone, "east": a zone writes only its own services',
    ],
    [
      "another mesh in the body",
      "/meshes/default/meshservices/web",
      { mesh: "other", spec },
      "mesh",
      'must equal the path\'s mesh "default"',
    ],
    [
      "another name in the body",
      "/meshes/default/meshservices/web",
      { name: "api", spec },
      "name",
      'must equal the path\'s name "web"',
    ],
    ["an unknown field", "/meshes/default/meshservices/web", { spec, owner: "me" }, "owner", "is not a known field"],
    ["a missing spec", "/meshes/default/meshservices/web", { labels: {} }, "spec", "is required"],
    [
      "a port out of range",
      "/meshes/default/meshservices/web",
      { spec: { ports: [{ port: 70000 }] } },
      "spec.ports[0].port",
      "must be <= 65535",
    ],
    [
      "duplicate ports",
      "/meshes/default/meshservices/web",
      {
        spec: {
          ports: [
            { port: 80, name: "a" },
            { port: 80, name: "b" },
          ],
        },
      },
      "spec.ports[1].port",
      "duplicates spec.ports[0].port (80)",
    ],
    [
      "a bad label key",
      "/meshes/default/meshservices/web",
      { labels: { "-x": "y" }, spec },
      'labels["-x"]',
      /^key must be at most 63 letters/,
    ],
  ])("rejects %s with the field and the reason, writing nothing", async (_, url, body, field, reason) => {
    const response = await app.inject({ method: "PUT", url, payload: body });
    expect(response.statusCode).toBe(400);
    const detail = response.json().details.find((d: { field: string }) => d.field === field);
    expect(response.json().code).toBe("VALIDATION_FAILED");
    if (reason instanceof RegExp) expect(detail?.reason).toMatch(reason);
    else expect(detail?.reason).toBe(reason);
    expect(t.store.zoneRevision()).toBe(0);
    expect(writes).toBe(0);
  });

  it("refuses a service too large for one sync message", async () => {
    await app.close();
    await open(64 * 1024);
    const labels = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`label-${i}`, "x".repeat(20)]));
    const response = await put("web", { labels, spec });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({
      code: "BODY_TOO_LARGE",
      details: [
        {
          field: "body",
          reason: expect.stringMatching(
            /^encodes to \d+ bytes; a sync message carries at most 65536 \(MOORING_SYNC_MAX_MESSAGE\)$/,
          ),
        },
      ],
    });
    expect(t.store.zoneRevision()).toBe(0);
  });
});
