import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestGlobal, type TestGlobal } from "../test-support.js";

const spec = { ports: [{ port: 80 }] };

describe("VIP REST", () => {
  let g: TestGlobal;
  beforeEach(async () => {
    g = await createTestGlobal({ cidrs: "241.0.0.0/8,fd00:241::/64" });
  });
  afterEach(async () => {
    await g.close();
  });

  const inject = (method: "GET" | "PUT" | "DELETE", url: string, payload?: object) =>
    g.app.inject({ method, url, ...(payload ? { payload } : {}) });

  it("leases one IPv4 and one IPv6 VIP per service when both families are configured", async () => {
    const created = (await inject("PUT", "/meshes/default/meshservices/web", { spec })).json();
    expect(created.status.vips).toEqual([{ ip: "241.0.0.1" }, { ip: "fd00:241::1" }]);
    const v6 = (await inject("GET", "/vips/fd00:241:0:0::1")).json();
    expect(v6).toMatchObject({ ip: "fd00:241::1", family: 6, state: "bound", name: "web" });
  });

  it("lets an operator reserve an address before the service exists, then binds it", async () => {
    const pinned = await inject("PUT", "/vips/241.0.0.42", { mesh: "default", name: "db" });
    expect(pinned.statusCode).toBe(201);
    expect(pinned.json()).toMatchObject({ ip: "241.0.0.42", state: "reserved", pinned: true });
    expect((await inject("PUT", "/vips/241.0.0.42", { mesh: "default", name: "db" })).statusCode).toBe(200);

    const db = (await inject("PUT", "/meshes/default/meshservices/db", { spec })).json();
    expect(db.status.vips).toEqual([{ ip: "241.0.0.42" }, { ip: "fd00:241::1" }]);
    // The cursor did not jump to the pinned address: the next service gets the first free one.
    const web = (await inject("PUT", "/meshes/default/meshservices/web", { spec })).json();
    expect(web.status.vips[0]).toEqual({ ip: "241.0.0.1" });

    // A pinned lease survives its service's deletion as a reservation, and comes back.
    await inject("DELETE", "/meshes/default/meshservices/db");
    expect((await inject("GET", "/vips/241.0.0.42")).json().state).toBe("reserved");
    expect((await inject("PUT", "/meshes/default/meshservices/db", { spec })).json().status.vips[0]).toEqual({
      ip: "241.0.0.42",
    });
    const events = (await inject("GET", "/vips/241.0.0.42")).json().events.map((e: { event: string }) => e.event);
    expect(events).toEqual(["rebind", "release", "rebind", "pin"]);
  });

  it("deletes a lease no live service holds, after which the identity gets a new address", async () => {
    await inject("PUT", "/meshes/default/meshservices/web", { spec });
    await inject("DELETE", "/meshes/default/meshservices/web");
    expect((await inject("DELETE", "/vips/241.0.0.1")).statusCode).toBe(204);
    expect((await inject("GET", "/vips/241.0.0.1")).statusCode).toBe(404);
    expect((await inject("DELETE", "/vips/241.0.0.1")).json().code).toBe("NOT_FOUND");
    const again = (await inject("PUT", "/meshes/default/meshservices/web", { spec })).json();
    expect(again.status.vips[0]).toEqual({ ip: "241.0.0.2" });
  });

  it("lists leases with their state, paged", async () => {
    for (const name of ["a", "b", "c"]) await inject("PUT", `/meshes/default/meshservices/${name}`, { spec });
    await inject("DELETE", "/meshes/default/meshservices/b");
    const page = (await inject("GET", "/vips?size=2")).json();
    expect(page.total).toBe(6);
    expect(page.items.map((l: { ip: string; state: string }) => `${l.ip} ${l.state}`)).toEqual([
      "241.0.0.1 bound",
      "241.0.0.2 quarantined",
    ]);
    expect(page.next).toBe("/vips?size=2&offset=2");
  });
});
