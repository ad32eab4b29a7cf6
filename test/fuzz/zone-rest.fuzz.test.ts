// Fuzzing the zone's REST API through app.inject() (issue 4): its own PUT/DELETE with mutated bodies
// and broken JSON, every read route with random path segments and query strings, /sync, and the
// Authorization header. A refused request is a 4xx in the {code, message, details} shape and leaves the
// local store (synced copy, outbox, cursor, zone revision) byte-identical; an accepted write lands in
// the outbox once, and writing the same content again is a no-op.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminAuthOf, type ZoneName } from "@mooring/shared";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { build, type ZoneApp } from "../../zone/src/api/app.js";
import { createSyncClient } from "../../zone/src/client/sync-client.js";
import { createManager } from "../../zone/src/manager/manager.js";
import { createMetrics } from "../../zone/src/metrics.js";
import type { SyncedRow } from "../../zone/src/store/types.js";
import { createZoneStore, type ZoneStore } from "../../zone/src/store/zone-store.js";
import { EPOCH, silentLogger } from "../../zone/src/test-support.js";
import {
  anyJson,
  applyMutations,
  applyTextMutation,
  dnsLabel,
  expectRestError,
  fuzz,
  mutation,
  type RestAnswer,
  serialize,
  Tally,
  textMutation,
  validBody,
} from "./fuzz-support.js";

const ZONE = "east";
let dir = "";
let store: ZoneStore;
let app: ZoneApp;
let token = "";
let nudges = 0;

type Method = "GET" | "PUT" | "DELETE" | "POST" | "PATCH" | "HEAD" | "OPTIONS";

async function send(
  method: Method,
  url: string,
  payload?: string | Buffer,
  options: { contentType?: string | null; authorization?: string | null } = {},
) {
  const headers: Record<string, string> = {};
  if (options.authorization !== null) headers.authorization = options.authorization ?? `Bearer ${token}`;
  if (payload !== undefined && options.contentType !== null)
    headers["content-type"] = options.contentType ?? "application/json";
  const response = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  return {
    status: response.statusCode,
    contentType: response.headers["content-type"] as string | undefined,
    body: response.body,
    headers: response.headers,
  } satisfies RestAnswer & { headers: unknown };
}

/** The zone's local state, byte for byte. */
function storeState(): string {
  return JSON.stringify({
    synced: store.allSynced(),
    owned: store.ownedAbove(0, 1_000_000),
    cursor: store.cursor(),
    zoneRevision: store.zoneRevision(),
    acked: store.upstreamAcked(),
  });
}

async function restState(): Promise<string> {
  const urls = ["/meshes/default/meshservices?size=1000", "/meshes/other/meshservices?size=1000", "/sync"];
  return JSON.stringify(await Promise.all(urls.map(async (url) => (await app.inject({ method: "GET", url })).body)));
}

let state = "";
let rest = "";
let refused = 0;
let nudgesBefore = 0;

async function remember(): Promise<void> {
  state = storeState();
  rest = await restState();
  nudgesBefore = nudges;
}

async function expectUnchanged(context: string): Promise<void> {
  expect(storeState(), `local state changed by a refused ${context}`).toBe(state);
  // A refused write must not wake the sync client either.
  expect(nudges, `the sync client was nudged by a refused ${context}`).toBe(nudgesBefore);
  refused += 1;
  if (refused % 3 === 0) expect(await restState(), `REST views changed by a refused ${context}`).toBe(rest);
}

/** No two services the zone serves share a VIP; every own service is in the outbox. */
function checkInvariants(): void {
  const views = [
    ...store.listMeshServices("default", 0, 10_000).items,
    ...store.listMeshServices("other", 0, 10_000).items,
  ];
  const vips = views.flatMap((view) => view.vips);
  expect(new Set(vips).size).toBe(vips.length);
  const owned = store.ownedAbove(0, 1_000_000);
  expect(new Set(owned.map((row) => row.zoneRevision)).size).toBe(owned.length);
  for (const view of views.filter((v) => v.zone === ZONE)) {
    expect(owned.some((row) => row.mesh === view.mesh && row.name === view.name && !row.deleted)).toBe(true);
  }
}

const tallies: Tally[] = [];
function tally(name: string): Tally {
  const t = new Tally(`zone REST ${name}`);
  tallies.push(t);
  return t;
}

async function judge(
  method: Method,
  url: string,
  t: Tally,
  payload?: string | Buffer,
  options: { contentType?: string | null; authorization?: string | null } = {},
): Promise<number> {
  const answer = await send(method, url, payload, options);
  const context = `${method} ${url.slice(0, 200)} ${String(payload ?? "").slice(0, 200)}`;
  expect(answer.status, `${context} -> ${answer.body.slice(0, 200)}`).toBeLessThan(500);
  if (answer.status < 300) {
    t.add(`${answer.status}`);
    if (method !== "GET" && method !== "HEAD") {
      checkInvariants();
      await remember();
    }
    return answer.status;
  }
  if (method === "HEAD") {
    t.add(`${answer.status} HEAD`);
  } else {
    const code = expectRestError(answer, context);
    t.add(`${answer.status} ${code}`);
  }
  await expectUnchanged(context);
  return answer.status;
}

function synced(mesh: string, zone: string, name: string, vip: string): SyncedRow {
  return {
    type: "MeshService",
    mesh,
    zone,
    name,
    labels: {},
    spec: { ports: [{ port: 80, appProtocol: "tcp" }] },
    vips: [vip],
    contentHash: "f".repeat(64),
    revision: 3,
    creationTime: 1_767_225_600_000,
    modificationTime: 1_767_225_600_000,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mooring-fuzz-zone-"));
  store = createZoneStore({ path: join(dir, `zone-${ZONE}.db`), synchronous: "normal", zone: ZONE });
  store.transaction(() => {
    store.putSynced(synced("default", "", "web", "241.0.0.1"));
    store.putSynced(synced("default", "west", "api", "241.0.0.2"));
    store.putSynced(synced("default", ZONE, "mine", "241.0.0.3"));
    store.putSynced(synced("other", "", "db", "241.0.0.4"));
    store.setCursor({ epoch: EPOCH, revision: 7 });
  });
  const metrics = createMetrics(store);
  // Never started: /sync reports a disconnected zone, and nothing reaches a global.
  const client = createSyncClient({
    config: {
      global: { host: "127.0.0.1", port: 1 },
      reconnectMin: 10,
      reconnectMax: 10,
      syncMaxMessage: 4 * 1024 * 1024,
    },
    store,
    logger: silentLogger,
    metrics,
    instanceId: "3f9d2c41-8b7a-4e6f-9c1d-0a1b2c3d4e5f",
  });
  const manager = createManager(store, {
    zone: ZONE as ZoneName,
    maxMessageBytes: 4 * 1024 * 1024,
    onLocalWrite: () => {
      nudges += 1;
    },
  });
  const auth = adminAuthOf({ auth: "on", authReads: "open" }, dir, silentLogger);
  app = await build({
    manager,
    store,
    client,
    metrics,
    logger: silentLogger,
    bodyLimit: 1_048_576,
    ...(auth ? { auth } : {}),
  });
  token = readFileSync(join(dir, "admin-token"), "utf8").trim();
  // "mine" is already served (the global published it), so writing it here is an update.
  expect(
    (await send("PUT", "/meshes/default/meshservices/mine", JSON.stringify({ spec: { ports: [{ port: 80 }] } })))
      .status,
  ).toBe(200);
  expect(
    (await send("PUT", "/meshes/default/meshservices/local", JSON.stringify({ spec: { ports: [{ port: 81 }] } })))
      .status,
  ).toBe(201);
  await remember();
});

afterEach(async () => {
  expect(await restState()).toBe(rest);
});

afterAll(async () => {
  for (const t of tallies) t.print();
  console.log(`[fuzz] zone REST total: ${tallies.reduce((n, t) => n + t.inputs, 0)} inputs`);
  await app?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const names = fc.constantFrom("mine", "local", "web", "api", "fresh");
const meshes = fc.constantFrom("default", "other");
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(names, meshes, dnsLabel, fc.constantFrom(ZONE, "west", "")) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.string({ unit: "binary", maxLength: 70 }),
        fc.constantFrom("..", ".", "%", "/", "A", "-a", "a".repeat(64), "\u0000", "é"),
      )
      .map((raw) => [...Buffer.from(raw, "utf8")].map((byte) => `%${byte.toString(16).padStart(2, "0")}`).join("")),
  },
  { weight: 1, arbitrary: fc.constantFrom("%zz", "%", "%C0%AE") },
);

describe("zone REST fuzz", () => {
  it("PUT own service: schema-generated bodies, mutated", async () => {
    const t = tally("PUT (mutated bodies)");
    const zoneField = fc.option(fc.oneof(fc.constant(ZONE), fc.constant("west"), dnsLabel, fc.constant("")), {
      nil: undefined,
    });
    await fuzz(
      "zone PUT mutated",
      fc.asyncProperty(
        meshes,
        names,
        validBody,
        zoneField,
        fc.array(mutation, { maxLength: 3 }),
        async (mesh, name, body, zone, mutations) => {
          const document = applyMutations(zone === undefined ? body : { ...body, zone }, mutations);
          const url = `/meshes/${mesh}/meshservices/${name}`;
          const status = await judge("PUT", url, t, serialize(document));
          if (status < 300) {
            const revision = store.zoneRevision();
            const again = await send("PUT", url, serialize(document));
            expect(again.status).toBe(200);
            expect(store.zoneRevision(), "an identical PUT wrote the outbox").toBe(revision);
            const served = JSON.parse(again.body) as { zone: string; name: string };
            expect({ zone: served.zone, name: served.name }).toEqual({ zone: ZONE, name });
            nudgesBefore = nudges;
          }
        },
      ),
      200,
    );
  });

  it("PUT own service: broken JSON text, content types, raw bytes", async () => {
    const t = tally("PUT (text and content types)");
    await fuzz(
      "zone PUT text",
      fc.asyncProperty(
        names,
        validBody,
        fc.array(textMutation, { minLength: 1, maxLength: 2 }),
        fc.constantFrom<string | null>(
          "application/json",
          "application/json",
          "text/plain",
          "application/x-www-form-urlencoded",
          null,
          "application/jsonx",
        ),
        fc.option(fc.uint8Array({ maxLength: 64 }), { freq: 5 }),
        async (name, body, mutations, contentType, bytes) => {
          const text = mutations.reduce(applyTextMutation, JSON.stringify(body));
          await judge("PUT", `/meshes/default/meshservices/${name}`, t, bytes ? Buffer.from(bytes) : text, {
            contentType,
          });
        },
      ),
      100,
    );
  });

  it("answers the exact cases exactly", async () => {
    const t = tally("exact cases");
    const spec = { ports: [{ port: 80 }] };
    const cases: Array<[string, Method, string, string | undefined, number, string]> = [
      [
        "another zone in the body",
        "PUT",
        "/meshes/default/meshservices/local",
        JSON.stringify({ zone: "west", spec }),
        400,
        "VALIDATION_FAILED",
      ],
      [
        "a global-owned service is not this zone's to delete",
        "DELETE",
        "/meshes/other/meshservices/db",
        undefined,
        404,
        "NOT_FOUND",
      ],
      [
        "a global-owned service is not this zone's to read there",
        "GET",
        "/meshes/other/meshservices/db",
        undefined,
        404,
        "NOT_FOUND",
      ],
      [
        "a service too large for one sync message",
        "PUT",
        "/meshes/default/meshservices/big",
        JSON.stringify({ spec, labels: { a: "x".repeat(1_048_577) } }),
        413,
        "BODY_TOO_LARGE",
      ],
      [
        "__proto__",
        "PUT",
        "/meshes/default/meshservices/local",
        `{"__proto__":{"p":1},"spec":${JSON.stringify(spec)}}`,
        400,
        "MALFORMED_JSON",
      ],
      [
        "a stale revision",
        "PUT",
        "/meshes/default/meshservices/local",
        JSON.stringify({ revision: 5, spec }),
        409,
        "REVISION_CONFLICT",
      ],
      [
        "echoed VIPs it does not have",
        "PUT",
        "/meshes/default/meshservices/local",
        JSON.stringify({ status: { vips: [{ ip: "241.0.0.9" }] }, spec }),
        400,
        "VALIDATION_FAILED",
      ],
      [
        "a write on another zone's route",
        "PUT",
        "/meshes/default/zones/west/meshservices/api",
        JSON.stringify({ spec }),
        404,
        "ROUTE_NOT_FOUND",
      ],
      ["a POST to /sync", "POST", "/sync", "{}", 404, "ROUTE_NOT_FOUND"],
      ["an unknown query parameter on /sync", "GET", "/sync?verbose=1", undefined, 200, ""],
    ];
    for (const [what, method, url, payload, status, code] of cases) {
      const answer = await send(method, url, payload);
      if (answer.status < 300 && method !== "GET") await remember();
      if (status < 300) {
        expect({ what, status: answer.status }).toEqual({ what, status });
      } else {
        expect({ what, status: answer.status, code: expectRestError(answer, what) }).toEqual({ what, status, code });
        await expectUnchanged(what);
      }
      t.add(`${answer.status}`);
    }
  });

  it("read routes and DELETE: random path segments and query strings", async () => {
    const t = tally("paths and queries");
    const query = fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom("offset", "size"), fc.constantFrom("limit", "zone", "offset[]", "__proto__")),
        fc.oneof(
          fc.integer({ min: -3, max: 1500 }).map(String),
          fc.constantFrom("", "1.5", "1e2", "NaN", "-Infinity", "0x10", "9007199254740993"),
          fc.constantFrom("1e19", "1e400", "Infinity"),
        ),
      ),
      { maxLength: 3 },
    );
    const route = fc.oneof(
      fc
        .tuple(segment, query)
        .map(([m, q]) => `/meshes/${m}/meshservices${q.length ? `?${q.map(([k, v]) => `${k}=${v}`).join("&")}` : ""}`),
      fc.tuple(segment, segment).map(([m, n]) => `/meshes/${m}/meshservices/${n}`),
      fc.tuple(segment, segment, segment).map(([m, z, n]) => `/meshes/${m}/zones/${z}/meshservices/${n}`),
      fc.constantFrom("/sync", "/healthz", "/readyz", "/metrics", "/", "/meshes", "/vips", "/zones"),
      fc.array(segment, { maxLength: 4 }).map((parts) => `/${parts.join("/")}`),
    );
    await fuzz(
      "zone paths",
      fc.asyncProperty(
        route,
        fc.constantFrom<Method>("GET", "GET", "DELETE", "HEAD", "POST", "PATCH"),
        fc.option(anyJson, { freq: 3 }),
        async (url, method, body) => {
          const payload = body === null || method === "GET" || method === "HEAD" ? undefined : JSON.stringify(body);
          await judge(method, url, t, payload);
        },
      ),
      200,
    );
  });

  it("Authorization header on writes: always 401, never a change", async () => {
    const t = tally("Authorization header");
    const header = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom(
        "",
        " ",
        "Bearer",
        "Bearer ",
        "Basic YTpi",
        "Bearer TOKENx",
        "TOKEN",
        "Bearer  TOKEN x",
        "Bearer\tTOKEN",
        "Token TOKEN",
      ),
      fc.integer({ min: 1000, max: 100_000 }).map((n) => `Bearer ${"z".repeat(n)}`),
      fc.nat().map((i) => `Bearer ${"TOKEN"}#${i}`),
    );
    const write = fc.oneof(
      validBody.map((b) => ["PUT", "/meshes/default/meshservices/local", JSON.stringify(b)] as const),
      validBody.map((b) => ["PUT", "/meshes/default/meshservices/brand-new", JSON.stringify(b)] as const),
      fc.constant(["DELETE", "/meshes/default/meshservices/mine", undefined] as const),
    );
    await fuzz(
      "zone authorization",
      fc.asyncProperty(write, header, async ([method, url, payload], raw) => {
        const value = raw.replace("TOKEN", token).replace(/#\d+$/, (m) => m.slice(1));
        fc.pre(/^Bearer +(\S+) *$/i.exec(value)?.[1] !== token);
        const answer = await send(method, url, payload, { authorization: value });
        expect({
          status: answer.status,
          code: expectRestError(answer, `${method} ${url} with ${JSON.stringify(value.slice(0, 40))}`),
        }).toEqual({ status: 401, code: "UNAUTHENTICATED" });
        await expectUnchanged(`${method} ${url}`);
        t.add("401 UNAUTHENTICATED");
      }),
      120,
    );
  });
});
