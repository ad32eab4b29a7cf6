import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestGlobal, type TestGlobal } from "../test-support.js";

describe("operations endpoints", () => {
  let g: TestGlobal;
  beforeEach(async () => {
    g = await createTestGlobal();
  });
  afterEach(async () => {
    await g.close();
  });

  it("reports liveness, and readiness with the database epoch", async () => {
    expect((await g.app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    const ready = await g.app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready", epoch: g.store.epoch });
    expect(g.store.epoch).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("is not ready once the store is closed, and stays live", async () => {
    g.store.close();
    const ready = await g.app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ code: "NOT_READY", message: "the store is not open", details: [] });
    expect((await g.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
  });

  it("keeps the epoch across restarts of the same database", async () => {
    const epoch = g.store.epoch;
    await g.restart();
    expect(g.store.epoch).toBe(epoch);
  });

  it("exposes lease, resource, revision and HTTP metrics", async () => {
    await g.app.inject({
      method: "PUT",
      url: "/meshes/default/meshservices/web",
      payload: { spec: { ports: [{ port: 80 }] } },
    });
    await g.app.inject({ method: "PUT", url: "/meshes/default/meshservices/web", payload: { spec: {} } });
    const text = (await g.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(text).toContain('mooring_vip_leases{state="bound"} 1');
    expect(text).toContain('mooring_resources{type="MeshService"} 1');
    expect(text).toContain("mooring_global_head_revision 1");
    expect(text).toContain('mooring_vip_events_total{event="allocate",family="4"} 1');
    expect(text).toMatch(
      /mooring_http_requests_total\{method="PUT",route="\/meshes\/:mesh\/meshservices\/:name",status="400"\} 1/,
    );
  });

  it("serves an OpenAPI document generated from the route schemas, and its UI", async () => {
    const doc = (await g.app.inject({ method: "GET", url: "/docs/json" })).json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/meshes/{mesh}/meshservices",
        "/meshes/{mesh}/meshservices/{name}",
        "/vips",
        "/vips/{ip}",
      ]),
    );
    const put = doc.paths["/meshes/{mesh}/meshservices/{name}"].put;
    expect(put.requestBody.content["application/json"].schema.properties.spec.required).toEqual(["ports"]);
    expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(["200", "201", "400", "409", "413", "507"]));
    const ui = await g.app.inject({ method: "GET", url: "/docs/" });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers["content-type"]).toContain("text/html");
  });

  it("answers unknown routes with ROUTE_NOT_FOUND", async () => {
    const response = await g.app.inject({ method: "GET", url: "/meshes/default/gateways" });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      code: "ROUTE_NOT_FOUND",
      message: "no route GET /meshes/default/gateways",
      details: [],
    });
  });
});
