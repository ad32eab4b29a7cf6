import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestGlobal, type TestGlobal } from "../test-support.js";

const spec = { ports: [{ port: 80, appProtocol: "http" }] };

describe("MeshService REST", () => {
  let g: TestGlobal;
  beforeEach(async () => {
    g = await createTestGlobal();
  });
  afterEach(async () => {
    await g.close();
  });

  const put = (name: string, body: unknown, mesh = "default") =>
    g.app.inject({ method: "PUT", url: `/meshes/${mesh}/meshservices/${name}`, payload: body as object });
  const get = (name: string) => g.app.inject({ method: "GET", url: `/meshes/default/meshservices/${name}` });

  it("answers an identical PUT with 200, the same revision and VIP, and no change-log row", async () => {
    const first = await put("web", { labels: { app: "web" }, spec });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({
      type: "MeshService",
      mesh: "default",
      name: "web",
      labels: { app: "web" },
      spec: { ports: [{ port: 80, appProtocol: "http" }] },
      status: { vips: [{ ip: "241.0.0.1" }] },
      revision: 1,
    });
    expect(first.json()).not.toHaveProperty("zone");
    const head = g.store.headRevision();

    // Same content, keys in another order and a default spelled out: still identical.
    const again = await put("web", { spec: { ports: [{ appProtocol: "http", port: 80 }] }, labels: { app: "web" } });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(g.store.headRevision()).toBe(head);
    expect(g.store.changesSince(head, 10)).toEqual([]);
  });

  it("treats an omitted appProtocol as tcp for hashing", async () => {
    const a = await put("db", { spec: { ports: [{ port: 5432 }] } });
    const b = await put("db", { spec: { ports: [{ port: 5432, appProtocol: "tcp" }] } });
    expect(b.statusCode).toBe(200);
    expect(b.json().revision).toBe(a.json().revision);
  });

  it("bumps the revision on a spec edit and keeps the VIP", async () => {
    const created = (await put("web", { spec })).json();
    await put("other", { spec });
    const edited = await put("web", { spec: { ports: [{ port: 8080, appProtocol: "http" }] } });
    expect(edited.statusCode).toBe(200);
    expect(edited.json().revision).toBe(3);
    expect(edited.json().status.vips).toEqual([{ ip: "241.0.0.1" }]);
    expect(edited.json().creationTime).toBe(created.creationTime);
    expect(g.store.changesSince(created.revision, 10).map((c) => [c.revision, c.name, c.op])).toEqual([
      [2, "other", "upsert"],
      [3, "web", "upsert"],
    ]);
  });

  it("gives the same VIP back to an identity re-created inside quarantine", async () => {
    const vip = (await put("web", { spec })).json().status.vips[0].ip;
    await put("api", { spec });
    const deleted = await g.app.inject({ method: "DELETE", url: "/meshes/default/meshservices/web" });
    expect(deleted.statusCode).toBe(200);
    expect((await get("web")).statusCode).toBe(404);
    const lease = (await g.app.inject({ method: "GET", url: `/vips/${vip}` })).json();
    expect(lease).toMatchObject({ ip: vip, state: "quarantined", name: "web" });
    expect(lease.events.map((e: { event: string }) => e.event)).toEqual(["release", "allocate"]);

    g.clock.now += 59 * 60_000;
    await put("third", { spec });
    const recreated = await put("web", { spec: { ports: [{ port: 9090 }] } });
    expect(recreated.statusCode).toBe(201);
    expect(recreated.json().status.vips).toEqual([{ ip: vip }]);
    expect((await g.app.inject({ method: "GET", url: `/vips/${vip}` })).json().events[0]).toMatchObject({
      event: "rebind",
    });
  });

  it("reuses an address for another identity only after quarantine, once the range is full", async () => {
    await g.close();
    g = await createTestGlobal({ cidrs: "10.1.0.0/30", quarantineMs: 60_000 });
    expect((await put("a", { spec })).json().status.vips).toEqual([{ ip: "10.1.0.1" }]);
    expect((await put("b", { spec })).json().status.vips).toEqual([{ ip: "10.1.0.2" }]);
    await g.app.inject({ method: "DELETE", url: "/meshes/default/meshservices/a" });

    g.clock.now += 30_000;
    const early = await put("c", { spec });
    expect(early.statusCode).toBe(507);
    expect(early.json()).toMatchObject({ code: "VIP_EXHAUSTED" });
    expect((await g.app.inject({ method: "GET", url: "/vips" })).json().total).toBe(2);

    g.clock.now += 31_000;
    const late = await put("c", { spec });
    expect(late.statusCode).toBe(201);
    expect(late.json().status.vips).toEqual([{ ip: "10.1.0.1" }]);
    const events = (await g.app.inject({ method: "GET", url: "/vips/10.1.0.1" })).json().events;
    expect(events[0]).toMatchObject({ event: "allocate", name: "c" });
  });

  it("keeps every VIP across a restart of the store", async () => {
    const before = [];
    for (const name of ["a", "b", "c"]) before.push((await put(name, { spec })).json());
    await g.restart();
    const after = (await g.app.inject({ method: "GET", url: "/meshes/default/meshservices" })).json();
    expect(after.items).toEqual(before);
    expect((await put("d", { spec })).json().status.vips).toEqual([{ ip: "241.0.0.4" }]);
  });

  it("pages lists with total, items and next", async () => {
    for (const name of ["e", "d", "c", "b", "a"]) await put(name, { spec });
    const first = (await g.app.inject({ method: "GET", url: "/meshes/default/meshservices?size=2" })).json();
    expect(first.total).toBe(5);
    expect(first.items.map((s: { name: string }) => s.name)).toEqual(["a", "b"]);
    expect(first.next).toBe("/meshes/default/meshservices?size=2&offset=2");
    const last = (await g.app.inject({ method: "GET", url: "/meshes/default/meshservices?offset=4&size=2" })).json();
    expect(last.items.map((s: { name: string }) => s.name)).toEqual(["e"]);
    expect(last.next).toBeNull();
    const otherMesh = (await g.app.inject({ method: "GET", url: "/meshes/other/meshservices" })).json();
    expect(otherMesh).toEqual({ total: 0, items: [], next: null });
  });

  it("applies a write only at the expected revision when one is given", async () => {
    const created = (await put("web", { spec })).json();
    const stale = await put("web", { spec: { ports: [{ port: 81 }] }, revision: created.revision + 5 });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ code: "REVISION_CONFLICT", details: [{ field: "revision" }] });
    const ok = await put("web", { spec: { ports: [{ port: 81 }] }, revision: created.revision });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().revision).toBe(created.revision + 1);
  });

  it("accepts a GET result PUT back unchanged, and refuses a client-chosen VIP in status", async () => {
    const created = (await put("web", { spec })).json();
    const roundTrip = await put("web", created);
    expect(roundTrip.statusCode).toBe(200);
    expect(roundTrip.json().revision).toBe(created.revision);
    const chosen = await put("web", { ...created, status: { vips: [{ ip: "241.0.0.77" }] } });
    expect(chosen.statusCode).toBe(400);
    expect(chosen.json().details).toEqual([
      {
        field: "status.vips",
        reason: "VIPs are assigned by the global; reserve an address with PUT /vips/{ip} instead",
      },
    ]);
  });

  it("answers DELETE and GET of an unknown service with 404 NOT_FOUND", async () => {
    const missing = await g.app.inject({ method: "DELETE", url: "/meshes/default/meshservices/ghost" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ code: "NOT_FOUND", message: "MeshService default/ghost not found", details: [] });
    expect((await get("ghost")).json().code).toBe("NOT_FOUND");
  });
});
