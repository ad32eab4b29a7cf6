// Every rejected input gets a precise {code, details: [{field, reason}]} and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestGlobal, type TestGlobal } from "../test-support.js";

interface Case {
  name: string;
  method?: "PUT" | "GET" | "DELETE";
  url?: string;
  body?: unknown;
  raw?: string;
  contentType?: string;
  status: number;
  code: string;
  field: string;
  reason?: string | RegExp;
}

const ok = { ports: [{ port: 80, appProtocol: "http" }] };
const url = "/meshes/default/meshservices/web";

const cases: Case[] = [
  {
    name: "a name that is not a DNS-1123 label",
    url: "/meshes/default/meshservices/Web_1",
    body: { spec: ok },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "name",
    reason: /DNS-1123 label/,
  },
  {
    name: "a name longer than 63 characters",
    url: `/meshes/default/meshservices/${"a".repeat(64)}`,
    body: { spec: ok },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "name",
    reason: "must be at most 63 characters",
  },
  {
    name: "a bad mesh name",
    url: "/meshes/Bad.Mesh/meshservices/web",
    body: { spec: ok },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "mesh",
    reason: /DNS-1123 label/,
  },
  {
    name: "a bad mesh name on a list",
    method: "GET",
    url: "/meshes/-x/meshservices",
    status: 400,
    code: "VALIDATION_FAILED",
    field: "mesh",
  },
  {
    name: "missing spec",
    body: { labels: {} },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec",
    reason: "is required",
  },
  {
    name: "missing ports",
    body: { spec: {} },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports",
    reason: "is required",
  },
  {
    name: "empty ports",
    body: { spec: { ports: [] } },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports",
    reason: /fewer than 1/,
  },
  {
    name: "duplicate port numbers",
    body: {
      spec: {
        ports: [
          { port: 80, name: "a" },
          { port: 80, name: "b" },
        ],
      },
    },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports[1].port",
    reason: "duplicates spec.ports[0].port (80)",
  },
  {
    name: "duplicate port names",
    body: {
      spec: {
        ports: [
          { port: 80, name: "a" },
          { port: 81, name: "a" },
        ],
      },
    },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports[1].name",
    reason: "duplicates spec.ports[0].name (a)",
  },
  {
    name: "unnamed ports in a multi-port service",
    body: { spec: { ports: [{ port: 80 }, { port: 81, name: "b" }] } },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports[0].name",
    reason: "is required when a service has more than one port",
  },
  {
    name: "port 0",
    body: { spec: { ports: [{ port: 0 }] } },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports[0].port",
    reason: "must be >= 1",
  },
  {
    name: "port 65536",
    body: { spec: { ports: [{ port: 65536 }] } },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports[0].port",
    reason: "must be <= 65535",
  },
  {
    name: "a targetPort out of range",
    body: { spec: { ports: [{ port: 80, targetPort: 70000 }] } },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports[0].targetPort",
    reason: "must be <= 65535",
  },
  {
    name: "an unknown appProtocol",
    body: { spec: { ports: [{ port: 80, appProtocol: "udp" }] } },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports[0].appProtocol",
    reason: /must be one of "tcp"/,
  },
  {
    name: "an unknown top-level field",
    body: { spec: ok, extra: 1 },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "extra",
    reason: "is not a known field",
  },
  {
    name: "an unknown nested field",
    body: { spec: { ports: [{ port: 80, protocol: "tcp" }] } },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports[0].protocol",
    reason: "is not a known field",
  },
  {
    name: "a port given as a string",
    body: { spec: { ports: [{ port: "80" }] } },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "spec.ports[0].port",
    reason: "must be integer",
  },
  {
    name: "labels of the wrong type",
    body: { spec: ok, labels: 5 },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "labels",
    reason: "must be object",
  },
  {
    name: "a bad label key",
    body: { spec: ok, labels: { "bad key": "x" } },
    status: 400,
    code: "VALIDATION_FAILED",
    field: 'labels["bad key"]',
    reason: /^key must be/,
  },
  { name: "a body array", body: [ok], status: 400, code: "VALIDATION_FAILED", field: "body", reason: "must be object" },
  {
    name: "a mesh in the body that differs from the path",
    body: { mesh: "other", spec: ok },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "mesh",
    reason: 'must equal the path\'s mesh "default"',
  },
  {
    name: "a wrong type discriminator",
    body: { type: "MeshGateway", spec: ok },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "type",
  },
  { name: "malformed JSON", raw: '{"spec": {', status: 400, code: "MALFORMED_JSON", field: "body" },
  { name: "an empty JSON body", raw: "", status: 400, code: "MALFORMED_JSON", field: "body" },
  {
    name: "a non-JSON content type",
    raw: "spec: {}",
    contentType: "text/plain",
    status: 415,
    code: "UNSUPPORTED_MEDIA_TYPE",
    field: "content-type",
  },
  {
    name: "an oversized body",
    body: { spec: ok, labels: { big: "x".repeat(2 * 1024 * 1024) } },
    status: 413,
    code: "BODY_TOO_LARGE",
    field: "body",
  },
  {
    name: "a page size over 1000",
    method: "GET",
    url: "/meshes/default/meshservices?size=1001",
    status: 400,
    code: "VALIDATION_FAILED",
    field: "size",
    reason: "must be <= 1000",
  },
  {
    name: "a negative offset",
    method: "GET",
    url: "/meshes/default/meshservices?offset=-1",
    status: 400,
    code: "VALIDATION_FAILED",
    field: "offset",
    reason: "must be >= 0",
  },
  {
    name: "a non-numeric size",
    method: "GET",
    url: "/vips?size=ten",
    status: 400,
    code: "VALIDATION_FAILED",
    field: "size",
    reason: "must be integer",
  },
  {
    name: "an unknown query parameter",
    method: "GET",
    url: "/meshes/default/meshservices?limit=5",
    status: 400,
    code: "VALIDATION_FAILED",
    field: "limit",
    reason: "is not a known field",
  },
  {
    name: "a pinned VIP outside the ranges",
    url: "/vips/10.0.0.9",
    body: { mesh: "default", name: "db" },
    status: 400,
    code: "VIP_OUT_OF_RANGE",
    field: "ip",
    reason: "10.0.0.9 is outside the VIP ranges (241.0.0.0/8)",
  },
  {
    name: "a pinned VIP that is not an address",
    url: "/vips/241.0.0.300",
    body: { mesh: "default", name: "db" },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "ip",
  },
  {
    name: "a pinned VIP already leased",
    url: "/vips/241.0.0.1",
    body: { mesh: "default", name: "db" },
    status: 409,
    code: "VIP_CONFLICT",
    field: "ip",
    reason: "241.0.0.1 is leased to default/web (bound)",
  },
  {
    name: "a second address for an identity that holds one",
    url: "/vips/241.0.0.50",
    body: { mesh: "default", name: "web" },
    status: 409,
    code: "VIP_CONFLICT",
    field: "ip",
    reason: /already holds 241.0.0.1/,
  },
  {
    name: "a pin body with a bad identity",
    url: "/vips/241.0.0.51",
    body: { mesh: "default", name: "DB" },
    status: 400,
    code: "VALIDATION_FAILED",
    field: "name",
  },
  {
    name: "deleting the lease of a live service",
    method: "DELETE",
    url: "/vips/241.0.0.1",
    status: 409,
    code: "LEASE_IN_USE",
    field: "",
  },
];

describe("bad input", () => {
  let g: TestGlobal;
  let before: { service: unknown; vips: unknown; head: number };
  beforeAll(async () => {
    g = await createTestGlobal();
    const created = await g.app.inject({ method: "PUT", url, payload: { labels: { app: "web" }, spec: ok } });
    expect(created.statusCode).toBe(201);
    before = {
      service: created.json(),
      vips: (await g.app.inject({ method: "GET", url: "/vips" })).json(),
      head: g.store.headRevision(),
    };
  });
  afterAll(async () => {
    await g.close();
  });

  it.each(cases)("rejects $name", async (c) => {
    const method = c.method ?? "PUT";
    const payload = c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
    const response = await g.app.inject({
      method,
      url: c.url ?? url,
      payload,
      headers: payload === undefined ? {} : { "content-type": c.contentType ?? "application/json" },
    });
    expect(response.statusCode).toBe(c.status);
    const body = response.json();
    expect(body.code).toBe(c.code);
    expect(typeof body.message).toBe("string");
    if (c.field !== "") {
      const detail = body.details.find((d: { field: string }) => d.field === c.field);
      expect(detail, JSON.stringify(body.details)).toBeDefined();
      if (c.reason instanceof RegExp) expect(detail.reason).toMatch(c.reason);
      else if (c.reason !== undefined) expect(detail.reason).toBe(c.reason);
    }
    // Nothing changed: same head revision, same stored service, same leases.
    expect(g.store.headRevision()).toBe(before.head);
    expect((await g.app.inject({ method: "GET", url })).json()).toEqual(before.service);
    expect((await g.app.inject({ method: "GET", url: "/vips" })).json()).toEqual(before.vips);
  });
});
