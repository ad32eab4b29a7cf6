// Regression tests for the bugs the fuzz suite found (issue 4): each states the correct behaviour,
// is named after the bug it pins, and failed before its fix. The fuzz targets cover these input
// classes too.
import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { MeshServiceSchema } from "@mooring/proto";
import {
  contentHash,
  meshServiceInputFromProto,
  meshServiceToProto,
  normalizeMeshService,
  type ZoneName,
} from "@mooring/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScriptedZone, startTestGlobal, type TestGlobal } from "../../global/src/sync/sync-harness.js";
import { createTestGlobal, type TestGlobal as InjectGlobal } from "../../global/src/test-support.js";
import { build as buildZone } from "../../zone/src/api/app.js";
import { createSyncClient } from "../../zone/src/client/sync-client.js";
import { createManager as createZoneManager } from "../../zone/src/manager/manager.js";
import { createMetrics as createZoneMetrics } from "../../zone/src/metrics.js";
import { decodeMeshService } from "../../zone/src/sync/decode.js";
import { createTempStore, silentLogger } from "../../zone/src/test-support.js";
import { expectRestError } from "./fuzz-support.js";

let g: InjectGlobal;
beforeAll(async () => {
  g = await createTestGlobal();
  const created = await g.app.inject({
    method: "PUT",
    url: "/meshes/default/meshservices/web",
    payload: { spec: { ports: [{ port: 80 }] } },
  });
  expect(created.statusCode).toBe(201);
});
afterAll(async () => {
  await g.close();
});

const answer = (r: { statusCode: number; headers: Record<string, unknown>; body: string }) => ({
  status: r.statusCode,
  contentType: r.headers["content-type"] as string | undefined,
  body: r.body,
});

describe("bug: a list offset of 2^63 or more is a 500 INTERNAL (SQLite: datatype mismatch)", () => {
  // PageQuery's offset has no maximum, and Ajv's integer keyword lets ±Infinity through, so
  // `offset=1e19` reaches `LIMIT ? OFFSET ?` as a number SQLite cannot take as an INTEGER.
  for (const offset of ["1e19", "99999999999999999999", "1e308", "1e400", "Infinity"]) {
    it(`GET /vips?offset=${offset} is 400 VALIDATION_FAILED on offset`, async () => {
      const response = await g.app.inject({ method: "GET", url: `/vips?offset=${offset}` });
      expect(expectRestError(answer(response), `offset=${offset}`)).toBe("VALIDATION_FAILED");
      expect(response.json().details[0].field).toBe("offset");
    });
  }

  it("GET /meshes/default/meshservices?offset=1e19 on the global is 400", async () => {
    const global = await g.app.inject({ method: "GET", url: "/meshes/default/meshservices?offset=1e19" });
    expect(global.statusCode).toBe(400);
  });

  it("GET /meshes/default/meshservices?offset=1e19 on a zone is 400", async () => {
    const t = createTempStore("east");
    const metrics = createZoneMetrics(t.store);
    const client = createSyncClient({
      config: { global: { host: "127.0.0.1", port: 1 }, reconnectMin: 10, reconnectMax: 10, syncMaxMessage: 65536 },
      store: t.store,
      logger: silentLogger,
      metrics,
      instanceId: randomUUID(),
    });
    const manager = createZoneManager(t.store, { zone: "east" as ZoneName, maxMessageBytes: 65536 });
    const zone = await buildZone({
      manager,
      store: t.store,
      client,
      metrics,
      logger: silentLogger,
      bodyLimit: 1_048_576,
    });
    const response = await zone.inject({ method: "GET", url: "/meshes/default/meshservices?offset=1e19" });
    await zone.close();
    t.cleanup();
    expect(response.statusCode).toBe(400);
  });
});

describe("bug: JSON 1e400 (Infinity) passes Type.Integer", () => {
  it('PUT {"revision": 1e400} is 400 VALIDATION_FAILED on revision, not 409 "revision Infinity is stale"', async () => {
    const response = await g.app.inject({
      method: "PUT",
      url: "/meshes/default/meshservices/web",
      headers: { "content-type": "application/json" },
      payload: '{"revision":1e400,"spec":{"ports":[{"port":80}]}}',
    });
    expect({ status: response.statusCode, code: response.json().code }).toEqual({
      status: 400,
      code: "VALIDATION_FAILED",
    });
  });
});

describe("bug: a path with malformed percent-encoding is answered in fastify's shape, not Mooring's", () => {
  for (const url of ["/meshes/%zz/meshservices", "/meshes/default/meshservices/%C0%AE", "/vips/%"]) {
    it(`GET ${url} is a 400 {code, message, details}`, async () => {
      const response = await g.app.inject({ method: "GET", url });
      // Today: {"error":"Bad Request","code":"FST_ERR_BAD_URL","message":"...","statusCode":400}.
      expect(expectRestError(answer(response), url)).toBe("VALIDATION_FAILED");
    });
  }
});

describe("bug: a request Node cannot parse is answered in fastify's client-error shape", () => {
  let running: TestGlobal;
  beforeAll(async () => {
    running = await startTestGlobal();
  });
  afterAll(async () => {
    await running.close();
  });

  function raw(bytes: string): Promise<{ status: number; contentType: string | undefined; body: string }> {
    const [host = "", port = ""] = running.running.httpAddress.split(":");
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), host);
      const chunks: Buffer[] = [];
      socket.setTimeout(3000, () => reject(new Error("no answer")));
      socket.on("data", (c) => chunks.push(c));
      socket.on("error", reject);
      socket.on("close", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const [head = "", body = ""] = text.split("\r\n\r\n");
        resolve({
          status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]),
          contentType: /content-type: *([^\r\n]+)/i.exec(head)?.[1],
          body,
        });
      });
      socket.write(bytes);
    });
  }

  /** The Mooring error shape; which code a request Node cannot parse gets is the fix's to choose. */
  function expectShape(body: string): void {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(["code", "details", "message"]);
    expect(typeof parsed.code).toBe("string");
    expect(Array.isArray(parsed.details)).toBe(true);
  }

  it("a header block over 16 KiB is a 431 {code, message, details}", async () => {
    const response = await raw(
      `GET /vips HTTP/1.1\r\nHost: m\r\nX-Big: ${"a".repeat(20_000)}\r\nConnection: close\r\n\r\n`,
    );
    // Today: {"error":"Request Header Fields Too Large","message":"Exceeded maximum allowed HTTP header size","statusCode":431}.
    expect(response.status).toBe(431);
    expectShape(response.body);
  });

  it("a broken request line is a 400 {code, message, details}", async () => {
    const response = await raw("BREW /vips HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n");
    // Today: {"error":"Bad Request","message":"Client Error","statusCode":400}.
    expect(response.status).toBe(400);
    expectShape(response.body);
  });
});

describe("bug: a targetPort of digits in a string changes on the wire", () => {
  // REST accepts "8080" (it matches the port-name pattern) and stores a string; the protobuf form has
  // one string field, and the receiving side reads digits as a number. The zone's copy then differs
  // from the global's, and the hash the global computes for a zone's own service differs from the
  // zone's.
  it('a global service with targetPort "8080" reaches the zone with the same spec', async () => {
    const put = await g.app.inject({
      method: "PUT",
      url: "/meshes/default/meshservices/digits",
      payload: { spec: { ports: [{ port: 80, targetPort: "8080" }] } },
    });
    expect(put.statusCode).toBe(201);
    const stored = g.manager.getMeshService({ mesh: "default", zone: "", name: "digits" });
    const onTheWire = fromBinary(MeshServiceSchema, toBinary(MeshServiceSchema, meshServiceToProto(stored)));
    const decoded = decodeMeshService(onTheWire);
    expect(decoded.ok && decoded.value.spec).toEqual(stored.spec);
  });

  it('a zone\'s own service with targetPort "8080" hashes the same on the global', () => {
    const id = { mesh: "default", zone: "east", name: "digits" };
    const onZone = normalizeMeshService(id, { spec: { ports: [{ port: 80, targetPort: "8080" }] } });
    if (!onZone.ok) throw new Error("the zone refused it");
    const message = meshServiceToProto({
      ...onZone.value,
      vips: [],
      revision: 0,
      creationTime: 0,
      modificationTime: 0,
    });
    const input = meshServiceInputFromProto(message);
    if (!input.ok) throw new Error("the global refused it");
    const onGlobal = normalizeMeshService(id, input.input);
    expect(onGlobal.ok && onGlobal.value.contentHash).toBe(onZone.value.contentHash);
  });
});

describe("bug: a lone UTF-16 surrogate is stored, then changes on the wire", () => {
  // JSON "\ud800" is valid JSON; the global stores it and hashes its escaped form, but protobuf
  // encodes strings as UTF-8, where it becomes U+FFFD: every zone gets other content than the global
  // holds, under the global's hash.
  it("PUT with an identity value holding a lone surrogate is 400, or arrives unchanged", async () => {
    const put = await g.app.inject({
      method: "PUT",
      url: "/meshes/default/meshservices/surrogate",
      headers: { "content-type": "application/json" },
      payload: '{"spec":{"ports":[{"port":80}],"identities":[{"type":"ServiceTag","value":"a\\ud800"}]}}',
    });
    if (put.statusCode === 400) return;
    expect(put.statusCode).toBe(201);
    const stored = g.manager.getMeshService({ mesh: "default", zone: "", name: "surrogate" });
    const onTheWire = fromBinary(MeshServiceSchema, toBinary(MeshServiceSchema, meshServiceToProto(stored)));
    expect(onTheWire.spec?.identities[0]?.value).toBe(stored.spec.identities?.[0]?.value);
    expect(
      contentHash({
        ...stored,
        spec: {
          ...stored.spec,
          identities: [{ type: "ServiceTag", value: onTheWire.spec?.identities[0]?.value ?? "" }],
        },
      }),
    ).toBe(stored.contentHash);
  });
});

describe("bug: upstream accepts zone services the REST API refuses", () => {
  // meshServiceInputFromProto + normalizeMeshService check less than the REST schema: identities
  // (count, value length), dataplaneRef's name and tag values are not checked, so a zone can make the
  // global store and publish content that its own REST schema (and /docs) says cannot exist.
  let running: TestGlobal;
  beforeAll(async () => {
    running = await startTestGlobal();
  });
  afterAll(async () => {
    await running.close();
  });

  const ports = [{ port: 80 }];
  const cases: Array<[string, Record<string, unknown>]> = [
    ["an identity value of 300 characters", { ports, identities: [{ type: "ServiceTag", value: "x".repeat(300) }] }],
    [
      "33 identities",
      { ports, identities: Array.from({ length: 33 }, (_, i) => ({ type: "ServiceTag", value: `v${i}` })) },
    ],
    ["a dataplaneRef name that is not a DNS label", { ports, selector: { dataplaneRefName: "Not A Label" } }],
    ["a dataplane tag value of 300 characters", { ports, selector: { dataplaneTags: { app: "x".repeat(300) } } }],
  ];

  it("each is named in the UpstreamAck as VALIDATION_FAILED, as the REST API refuses it", async () => {
    const zone = new ScriptedZone(running.running.grpcAddress);
    zone.hello({ zone: "zone-1" });
    await zone.syncedBatches(1);
    zone.send({
      case: "upstream",
      value: {
        zoneRevision: 1n,
        upserts: cases.map(([, spec], i) => ({
          key: { type: "MeshService", mesh: "default", zone: "zone-1", name: `lax-${i}` },
          spec: spec as never,
        })),
      },
    });
    await zone.until((received) => received.some((m) => m.message.case === "upstreamAck"));
    const ack = zone.received.find((m) => m.message.case === "upstreamAck")?.message.value as {
      rejected: Array<{ key?: { name: string }; code: string }>;
    };
    zone.close();
    expect(ack.rejected.map((r) => ({ name: r.key?.name, code: r.code }))).toEqual(
      cases.map((_, i) => ({ name: `lax-${i}`, code: "VALIDATION_FAILED" })),
    );
    // The REST API refuses every one of them (the same content written through PUT).
    for (const [what, spec] of cases) {
      const rest = {
        ports,
        ...(spec.identities ? { identities: spec.identities } : {}),
        ...((spec.selector as { dataplaneRefName?: string } | undefined)?.dataplaneRefName
          ? { selector: { dataplaneRef: { name: "Not A Label" } } }
          : {}),
        ...((spec.selector as { dataplaneTags?: object } | undefined)?.dataplaneTags
          ? { selector: { dataplaneTags: (spec.selector as { dataplaneTags: object }).dataplaneTags } }
          : {}),
      };
      const response = await g.app.inject({
        method: "PUT",
        url: `/meshes/default/meshservices/rest-${randomUUID().slice(0, 8)}`,
        payload: { spec: rest },
      });
      expect({ what, status: response.statusCode }).toEqual({ what, status: 400 });
    }
  });
});
