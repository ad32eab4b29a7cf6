// Fuzzing the global's REST API through app.inject() (issue 4): PUT bodies generated from the
// MeshService schema and then mutated, broken JSON text, query strings on every list route, random
// path segments, pins, zone tokens, and the Authorization header itself. Every refused request is a
// 4xx with the {code, message, details} shape and leaves the stored state byte-identical; every
// accepted one keeps the lease invariants (one VIP per identity, one identity per VIP).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminAuthOf, createLogger } from "@mooring/shared";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { build, type GlobalApp } from "../../global/src/api/app.js";
import { createZoneTokens } from "../../global/src/auth/zone-tokens.js";
import { createManager } from "../../global/src/manager/manager.js";
import { createZoneManager } from "../../global/src/manager/zones.js";
import { createMetrics } from "../../global/src/metrics.js";
import { createSqliteStore, type SqliteStore } from "../../global/src/store/sqlite-store.js";
import { createSyncHub, type SyncHub } from "../../global/src/sync/hub.js";
import { createVipAllocator } from "../../global/src/vip/allocator.js";
import { parseCidrList } from "../../global/src/vip/cidr.js";
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

interface Harness {
  app: GlobalApp;
  store: SqliteStore;
  hub: SyncHub;
  token: string;
  dir: string;
}

/** The global's REST app as main.ts wires it (admin auth, zones, zone tokens), over SQLite in a temp dir. */
async function createHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "mooring-fuzz-global-"));
  const logger = createLogger({ level: "silent", service: "global" });
  const store = createSqliteStore({ path: join(dir, "global.db"), synchronous: "normal" });
  const metrics = createMetrics(store);
  // A /24 so that pins and allocations meet (and exhaustion stays a 507, never a 5xx of another kind).
  const allocator = createVipAllocator(store, { ranges: parseCidrList("241.0.0.0/24"), quarantineMs: 3_600_000 });
  let hub: SyncHub | undefined;
  const manager = createManager(store, allocator, { onChange: () => hub?.notify() });
  const zones = createZoneManager(store, manager, allocator);
  const zoneTokens = await createZoneTokens({ dataDir: dir, store });
  const auth = adminAuthOf({ auth: "on", authReads: "open" }, dir, logger);
  hub = createSyncHub({
    store,
    zones,
    metrics,
    logger,
    heartbeatMs: 5000,
    maxMessageBytes: 4 * 1024 * 1024,
    changelogMaxEntries: 100_000,
    changelogMaxAgeMs: 86_400_000,
  });
  const app = await build({
    manager,
    store,
    metrics,
    hub,
    logger,
    bodyLimit: 1_048_576,
    version: "fuzz",
    zoneTokens,
    ...(auth ? { auth } : {}),
  });
  const token = readFileSync(join(dir, "admin-token"), "utf8").trim();
  return { app, store, hub, token, dir };
}

type Method = "GET" | "PUT" | "DELETE" | "POST" | "PATCH" | "HEAD" | "OPTIONS";

interface Request {
  method: Method;
  url: string;
  payload?: string | Buffer;
  contentType?: string | null;
  authorization?: string | null;
}

let h: Harness;

async function send(request: Request): Promise<RestAnswer & { headers: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (request.authorization !== null) headers.authorization = request.authorization ?? `Bearer ${h.token}`;
  if (request.payload !== undefined && request.contentType !== null) {
    headers["content-type"] = request.contentType ?? "application/json";
  }
  const response = await h.app.inject({
    method: request.method,
    url: request.url,
    headers,
    ...(request.payload === undefined ? {} : { payload: request.payload }),
  });
  return {
    status: response.statusCode,
    contentType: response.headers["content-type"] as string | undefined,
    body: response.body,
    headers: response.headers,
  };
}

/** The stored state, byte for byte: every row a refused request must leave as it was. */
function storeState(): string {
  return JSON.stringify({
    head: h.store.headRevision(),
    resources: h.store.allResources(),
    leases: h.store.listLeases(0, 1_000_000),
    tokens: h.store.listZoneTokens(0, 1_000_000),
    zones: h.store.listZones(0, 1_000_000),
  });
}

/** The same state as clients read it: the service, lease, zone-token and zone lists. */
async function restState(): Promise<string> {
  const urls = [
    "/meshes/default/meshservices?size=1000",
    "/meshes/other/meshservices?size=1000",
    "/vips?size=1000",
    "/zone-tokens?size=1000",
    "/zones?size=1000",
  ];
  return JSON.stringify(await Promise.all(urls.map(async (url) => (await h.app.inject({ method: "GET", url })).body)));
}

let state = "";
let rest = "";
let refused = 0;

async function remember(): Promise<void> {
  state = storeState();
  rest = await restState();
}

/** The store after every refused request; the REST lists after every third one (they cost 5 requests). */
async function expectUnchanged(context: string): Promise<void> {
  expect(storeState(), `state changed by a refused ${context}`).toBe(state);
  refused += 1;
  if (refused % 3 === 0) expect(await restState(), `REST lists changed by a refused ${context}`).toBe(rest);
}

/** One VIP per identity, one identity per VIP, every bound lease held by a live service. */
function checkLeaseInvariants(): void {
  const services = h.store.allResources();
  const leases = h.store.listLeases(0, 1_000_000).items;
  const id = (x: { mesh: string; zone: string; name: string }) => `${x.mesh}/${x.zone}/${x.name}`;
  const bound = leases.filter((lease) => lease.state === "bound");
  expect(new Set(leases.map((lease) => lease.ip)).size).toBe(leases.length);
  expect(new Set(leases.map((lease) => `${id(lease)}|${lease.family}`)).size).toBe(leases.length);
  expect(new Set(bound.map(id)).size).toBe(bound.length);
  const live = new Set(services.map(id));
  for (const lease of bound) expect(live.has(id(lease)), `bound lease ${lease.ip} of ${id(lease)}`).toBe(true);
  for (const service of services) {
    const vips = h.store.boundIpsOf(service);
    expect(vips, `VIPs of ${id(service)}`).toHaveLength(1);
  }
}

const tallies: Tally[] = [];
function tally(name: string): Tally {
  const t = new Tally(`global REST ${name}`);
  tallies.push(t);
  return t;
}

/**
 * The oracle every target shares: a 2xx is checked against the invariants (and becomes the new
 * reference state); anything else must be a well-formed 4xx that changed nothing.
 */
async function judge(request: Request, t: Tally): Promise<{ status: number; code?: string }> {
  const answer = await send(request);
  const context = `${request.method} ${request.url.slice(0, 200)} ${String(request.payload ?? "").slice(0, 200)}`;
  if (answer.status < 300) {
    t.add(`${answer.status}`);
    if (request.method !== "GET" && request.method !== "HEAD") {
      checkLeaseInvariants();
      await remember();
    }
    return { status: answer.status };
  }
  if (request.method === "HEAD") {
    // A HEAD answer has no body to check: its status alone must be a 4xx.
    expect(answer.status, context).toBeGreaterThanOrEqual(400);
    expect(answer.status, context).toBeLessThan(500);
    t.add(`${answer.status} HEAD`);
    await expectUnchanged(context);
    return { status: answer.status };
  }
  const code = expectRestError(answer, context);
  t.add(`${answer.status} ${code}`);
  await expectUnchanged(context);
  return { status: answer.status, code };
}

const names = fc.constantFrom("web", "api", "db", "cache", "edge");
const meshes = fc.constantFrom("default", "other");

/** Path segments: valid names mostly, then anything, percent-encoded byte by byte or left raw. */
const segment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(names, meshes, dnsLabel) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.string({ unit: "binary", maxLength: 70 }),
        fc.constantFrom("..", ".", "%", "/", "a/b", "a b", "A", "-a", "a-", "a".repeat(64), "\u0000", "é", "💥"),
      )
      .map((raw) => [...Buffer.from(raw, "utf8")].map((byte) => `%${byte.toString(16).padStart(2, "0")}`).join("")),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        "..",
        ".",
        "%2e%2e",
        "%2F",
        "..%2f..%2fvips",
        "%00",
        "a;b",
        "a,b",
        "a+b",
        "~",
        "@",
        "*",
        "%25",
        "%252e",
      )
      .filter((raw) => isDecodable(raw)),
  },
  // Percent-encoding that does not decode.
  { weight: 1, arbitrary: fc.constantFrom("%zz", "%", "%e0%a4%a", "%C0%AE", "%C0%AE%", "%ff") },
);

function isDecodable(raw: string): boolean {
  try {
    decodeURIComponent(raw);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  h = await createHarness();
  // A little of everything, so that refused writes have something to leave alone.
  for (const [mesh, name, port] of [
    ["default", "web", 80],
    ["default", "api", 8080],
    ["other", "db", 5432],
  ] as const) {
    const answer = await send({
      method: "PUT",
      url: `/meshes/${mesh}/meshservices/${name}`,
      payload: JSON.stringify({ spec: { ports: [{ port }] } }),
    });
    expect(answer.status).toBe(201);
  }
  expect(
    (
      await send({
        method: "PUT",
        url: "/vips/241.0.0.200",
        payload: JSON.stringify({ mesh: "default", name: "later" }),
      })
    ).status,
  ).toBe(201);
  expect(
    (await send({ method: "POST", url: "/zone-tokens", payload: JSON.stringify({ zone: "east", validFor: "1h" }) }))
      .status,
  ).toBe(201);
  await remember();
});

afterEach(async () => {
  // Whatever the sampling skipped: the lists as clients read them are those of the last accepted write.
  expect(await restState()).toBe(rest);
});

afterAll(async () => {
  for (const t of tallies) t.print();
  console.log(`[fuzz] global REST total: ${tallies.reduce((n, t) => n + t.inputs, 0)} inputs`);
  h.hub.close();
  await h.app.close();
  h.store.close();
  rmSync(h.dir, { recursive: true, force: true });
});

describe("global REST fuzz", () => {
  it("PUT MeshService: schema-generated bodies, mutated", async () => {
    const t = tally("PUT meshservice (mutated bodies)");
    await fuzz(
      "PUT meshservice mutated",
      fc.asyncProperty(
        meshes,
        names,
        validBody,
        fc.array(mutation, { minLength: 0, maxLength: 3 }),
        async (mesh, name, body, mutations) => {
          const document = applyMutations(body, mutations);
          const url = `/meshes/${mesh}/meshservices/${name}`;
          const { status } = await judge({ method: "PUT", url, payload: serialize(document) }, t);
          if (status < 300) {
            // Accepted: the same body again is a no-op (same revision, nothing written).
            const head = h.store.headRevision();
            const again = await send({ method: "PUT", url, payload: serialize(document) });
            expect(again.status).toBe(200);
            expect(h.store.headRevision()).toBe(head);
            const stored = JSON.parse(again.body) as { status: { vips: unknown[] } };
            expect(stored.status.vips).toHaveLength(1);
          }
        },
      ),
      250,
    );
  });

  it("PUT MeshService: broken JSON text, odd content types, raw bytes", async () => {
    const t = tally("PUT meshservice (text and content types)");
    const contentType = fc.oneof(
      { weight: 6, arbitrary: fc.constant("application/json") },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          "application/json; charset=utf-8",
          "APPLICATION/JSON",
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
          "application/json-patch+json",
          "application/jsonx",
          "application/octet-stream",
          ";;;==",
          "*/*",
        ),
      },
      { weight: 1, arbitrary: fc.constant(null) },
    );
    await fuzz(
      "PUT meshservice text",
      fc.asyncProperty(
        names,
        validBody,
        fc.array(textMutation, { minLength: 1, maxLength: 2 }),
        contentType,
        fc.option(fc.uint8Array({ maxLength: 64 }), { freq: 5 }),
        async (name, body, textMutations, type, bytes) => {
          const text = textMutations.reduce(applyTextMutation, JSON.stringify(body));
          const payload = bytes ? Buffer.from(bytes) : text;
          await judge({ method: "PUT", url: `/meshes/default/meshservices/${name}`, payload, contentType: type }, t);
        },
      ),
      120,
    );
  });

  it("answers the oversized, the polluted and the deeply nested exactly", async () => {
    const t = tally("PUT meshservice (exact cases)");
    const url = "/meshes/default/meshservices/web";
    const spec = { ports: [{ port: 80 }] };
    const exact: Array<[string, string, number, string]> = [
      ["over the body limit", JSON.stringify({ spec, labels: { a: "x".repeat(1_048_577) } }), 413, "BODY_TOO_LARGE"],
      ["__proto__ at the top", `{"__proto__":{"polluted":true},"spec":${JSON.stringify(spec)}}`, 400, "MALFORMED_JSON"],
      ["__proto__ in labels", `{"labels":{"__proto__":"x"},"spec":${JSON.stringify(spec)}}`, 400, "MALFORMED_JSON"],
      [
        "constructor.prototype",
        `{"constructor":{"prototype":{"p":1}},"spec":${JSON.stringify(spec)}}`,
        400,
        "MALFORMED_JSON",
      ],
      ["a port of 1e400 (Infinity)", '{"spec":{"ports":[{"port":1e400}]}}', 400, "VALIDATION_FAILED"],
      ["a revision of 1e400 (Infinity)", `{"revision":1e400,"spec":${JSON.stringify(spec)}}`, 400, "VALIDATION_FAILED"],
      ["100k nested arrays", `{"spec":${"[".repeat(100_000)}${"]".repeat(100_000)}}`, 400, "VALIDATION_FAILED"],
      [
        "100k nested objects in labels",
        `{"spec":${JSON.stringify(spec)},"labels":${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}}`,
        400,
        "VALIDATION_FAILED",
      ],
      ["an empty body", "", 400, "MALFORMED_JSON"],
      ["null", "null", 400, "VALIDATION_FAILED"],
      ["a string", '"spec"', 400, "VALIDATION_FAILED"],
      [
        "65 ports",
        JSON.stringify({ spec: { ports: Array.from({ length: 65 }, (_, i) => ({ name: `p${i}`, port: i + 1 })) } }),
        400,
        "VALIDATION_FAILED",
      ],
      [
        "33 identities",
        JSON.stringify({
          spec: { ...spec, identities: Array.from({ length: 33 }, () => ({ type: "ServiceTag", value: "x" })) },
        }),
        400,
        "VALIDATION_FAILED",
      ],
      [
        "an identity value of 254 characters",
        JSON.stringify({ spec: { ...spec, identities: [{ type: "ServiceTag", value: "x".repeat(254) }] } }),
        400,
        "VALIDATION_FAILED",
      ],
      [
        "a dataplaneRef that is not a DNS label",
        JSON.stringify({ spec: { ...spec, selector: { dataplaneRef: { name: "Not A Label" } } } }),
        400,
        "VALIDATION_FAILED",
      ],
      [
        "a tag value of 254 characters",
        JSON.stringify({ spec: { ...spec, selector: { dataplaneTags: { app: "x".repeat(254) } } } }),
        400,
        "VALIDATION_FAILED",
      ],
      ["a stale revision", JSON.stringify({ revision: 99, spec }), 409, "REVISION_CONFLICT"],
      [
        "echoed VIPs that are not its own",
        JSON.stringify({ spec, status: { vips: [{ ip: "241.0.0.99" }] } }),
        400,
        "VALIDATION_FAILED",
      ],
    ];
    for (const [what, payload, status, code] of exact) {
      const result = await judge({ method: "PUT", url, payload }, t);
      expect({ what, ...result }).toEqual({ what, status, code });
    }
  });

  it("list routes: offset, size, unknown and repeated parameters", async () => {
    const t = tally("list query strings");
    const routes = ["/meshes/default/meshservices", "/meshes/other/meshservices", "/vips", "/zones", "/zone-tokens"];
    const numberText = fc.oneof(
      fc.integer({ min: -5, max: 2000 }).map(String),
      fc.constantFrom(
        "",
        "-0",
        "0.5",
        "1.0",
        "1e2",
        "1e3",
        "0x10",
        " 1",
        "1 ",
        "NaN",
        "-Infinity",
        "true",
        "null",
        "[]",
        "{}",
        "%00",
        "1%00",
      ),
      fc.constantFrom("9007199254740991", "9007199254740993", "99999999999", "1e15"),
      // Offsets beyond what SQLite can take.
      fc.constantFrom("1e19", "99999999999999999999", "1e308", "1e400", "Infinity"),
      fc.string({ maxLength: 8 }).map(encodeURIComponentSafe),
    );
    const param = fc.oneof(
      fc.tuple(fc.constantFrom("offset", "size"), numberText),
      fc.tuple(
        fc.oneof(
          fc.constantFrom("limit", "page", "Offset", "SIZE", "offset[]", "size[0]", "__proto__", "constructor"),
          fc.string({ maxLength: 6 }).map(encodeURIComponentSafe),
        ),
        numberText,
      ),
    );
    await fuzz(
      "list query",
      fc.asyncProperty(fc.constantFrom(...routes), fc.array(param, { maxLength: 4 }), async (route, params) => {
        const query = params.map(([k, v]) => `${k}=${v}`).join("&");
        const url = query ? `${route}?${query}` : route;
        const { status } = await judge({ method: "GET", url, authorization: null }, t);
        if (status === 200) {
          const body = JSON.parse((await send({ method: "GET", url, authorization: null })).body) as {
            total: number;
            items: unknown[];
            next: string | null;
          };
          expect(Number.isSafeInteger(body.total)).toBe(true);
          expect(body.items.length).toBeLessThanOrEqual(1000);
          if (body.next !== null) expect(body.next.startsWith(`${route}?`)).toBe(true);
        }
      }),
      200,
    );
  });

  it("path segments: mesh, name, zone, ip, token id, on every route and method", async () => {
    const t = tally("path segments");
    const route = fc.oneof(
      fc.tuple(segment).map(([m]) => `/meshes/${m}/meshservices`),
      fc.tuple(segment, segment).map(([m, n]) => `/meshes/${m}/meshservices/${n}`),
      fc.tuple(segment, segment, segment).map(([m, z, n]) => `/meshes/${m}/zones/${z}/meshservices/${n}`),
      fc
        .tuple(
          fc.oneof(
            segment,
            fc.constantFrom(
              "241.0.0.1",
              "241.0.0.200",
              "241.0.0.0",
              "241.0.0.255",
              "241.0.1.1",
              "::ffff:241.0.0.1",
              "fe80::1%25eth0",
              "241.0.0.01",
              "241.0.0.1.1",
              "0x7f.1",
            ),
          ),
        )
        .map(([ip]) => `/vips/${ip}`),
      fc.tuple(segment).map(([z]) => `/zones/${z}`),
      fc
        .tuple(
          fc.oneof(
            segment,
            fc.uuid().map((u) => u.toUpperCase()),
          ),
        )
        .map(([id]) => `/zone-tokens/${id}`),
      fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join("/")}`),
    );
    const method = fc.constantFrom<Method>("GET", "PUT", "DELETE", "POST", "PATCH", "OPTIONS", "HEAD");
    await fuzz(
      "path segments",
      fc.asyncProperty(route, method, fc.option(fc.oneof(validBody, anyJson), { freq: 2 }), async (url, m, body) => {
        const payload = body === null || m === "GET" || m === "HEAD" ? undefined : JSON.stringify(body);
        await judge({ method: m, url, ...(payload === undefined ? {} : { payload }) }, t);
      }),
      200,
    );
  });

  it("VIP pins: random addresses and identities", async () => {
    const t = tally("PUT/DELETE /vips/{ip}");
    const ip = fc.oneof(
      fc.integer({ min: 0, max: 256 }).map((n) => `241.0.0.${n}`),
      fc.ipV4().map((a) => a),
      fc.ipV6(),
      fc.constantFrom(
        "::ffff:241.0.0.7",
        "241.0.0.7%25eth0",
        "241.000.0.7",
        "241.0.0",
        "0",
        "::",
        "241.0.0.1/32",
        "fd00::1",
      ),
      fc.string({ maxLength: 70 }).map(encodeURIComponentSafe),
    );
    const body = fc.oneof(
      fc.record(
        {
          mesh: fc.oneof(meshes, dnsLabel),
          name: fc.oneof(names, dnsLabel),
          zone: fc.option(fc.oneof(dnsLabel, fc.constant("east")), { nil: undefined }),
        },
        { requiredKeys: ["mesh", "name"] },
      ),
      fc
        .tuple(fc.record({ mesh: meshes, name: names }), fc.array(mutation, { minLength: 1, maxLength: 2 }))
        .map(([b, m]) => applyMutations(b, m)),
    );
    await fuzz(
      "vip pins",
      fc.asyncProperty(ip, fc.constantFrom<Method>("PUT", "PUT", "DELETE", "GET"), body, async (address, m, pin) => {
        const url = `/vips/${address.replace(/\//g, "%2F")}`;
        await judge({ method: m, url, ...(m === "PUT" ? { payload: serialize(pin) } : {}) }, t);
      }),
      150,
    );
  });

  it("zone tokens and zones: random bodies and ids", async () => {
    const t = tally("zone tokens and zones");
    const issue = fc.oneof(
      fc.record({
        zone: fc.oneof(dnsLabel, fc.string({ maxLength: 70 })),
        validFor: fc.oneof(
          fc.constantFrom(
            "1h",
            "30d",
            "90m",
            "1830d",
            "1831d",
            "0s",
            "999ms",
            "1s",
            "1h30m",
            "",
            " ",
            "1",
            "h",
            "-1h",
            "1.5h",
            "1e3s",
            "99999999999999999999d",
            "1h 30m",
            "1H",
          ),
          fc.string({ maxLength: 40 }),
        ),
      }),
      fc
        .tuple(
          fc.record({ zone: dnsLabel, validFor: fc.constant("1h") }),
          fc.array(mutation, { minLength: 1, maxLength: 2 }),
        )
        .map(([b, m]) => applyMutations(b, m)),
    );
    const action = fc.oneof(
      issue.map((body) => ({ method: "POST" as Method, url: "/zone-tokens", payload: serialize(body) })),
      fc.oneof(fc.uuid(), segment).map((id) => ({ method: "DELETE" as Method, url: `/zone-tokens/${id}` })),
      segment.map((zone) => ({ method: "DELETE" as Method, url: `/zones/${zone}` })),
    );
    await fuzz(
      "zone tokens",
      fc.asyncProperty(action, async (request) => {
        await judge(request, t);
      }),
      100,
    );
  });

  it("Authorization header: garbage, wrong schemes, near misses, huge values are 401 and change nothing", async () => {
    const t = tally("Authorization header");
    const nearMiss = fc.oneof(
      fc.constantFrom(
        (k: string) => `Bearer ${k.slice(0, -1)}`,
        (k: string) => `Bearer ${k}x`,
        (k: string) => `Bearer ${k.toUpperCase()}`,
        (k: string) => `Basic ${Buffer.from(`admin:${k}`).toString("base64")}`,
        (k: string) => `Bearer${k}`,
        (k: string) => `Token ${k}`,
        (k: string) => `Bearer ${k} ${k}`,
        (k: string) => `Bearer "${k}"`,
        (k: string) => ` Bearer ${k}`,
        (k: string) => `Bearer\t${k}`,
        (k: string) => `Bearer ${k}\u0000`,
        (k: string) => `${k}`,
        (k: string) => `Bearer ${k.replace(/.$/, "é")}`,
      ),
      fc
        .nat()
        .map(
          (i) => (k: string) =>
            `Bearer ${k.slice(0, i % k.length)}${String.fromCharCode(((k.charCodeAt(i % k.length) + 1) % 94) + 33)}${k.slice((i % k.length) + 1)}`,
        ),
    );
    const header = fc.oneof(
      fc.string({ maxLength: 80 }).map((s) => () => s),
      fc.string({ unit: "binary-ascii", maxLength: 80 }).map((s) => () => s),
      fc.integer({ min: 1000, max: 200_000 }).map((n) => () => `Bearer ${"a".repeat(n)}`),
      fc.constantFrom(
        () => "Bearer",
        () => "Bearer ",
        () => "",
        () => "   ",
        () => "Bearer null",
        () => "Bearer undefined",
      ),
      nearMiss,
    );
    const write = fc.oneof(
      validBody.map((b) => ({
        method: "PUT" as Method,
        url: "/meshes/default/meshservices/web",
        payload: JSON.stringify(b),
      })),
      validBody.map((b) => ({
        method: "PUT" as Method,
        url: "/meshes/default/meshservices/fresh",
        payload: JSON.stringify(b),
      })),
      fc.constant({ method: "DELETE" as Method, url: "/meshes/default/meshservices/api" }),
      fc.constant({
        method: "PUT" as Method,
        url: "/vips/241.0.0.201",
        payload: JSON.stringify({ mesh: "default", name: "pinned" }),
      }),
      fc.constant({ method: "DELETE" as Method, url: "/vips/241.0.0.200" }),
      fc.constant({
        method: "POST" as Method,
        url: "/zone-tokens",
        payload: JSON.stringify({ zone: "west", validFor: "1h" }),
      }),
      fc.constant({ method: "DELETE" as Method, url: "/zones/east" }),
    );
    const bearer = /^Bearer +(\S+) *$/i;
    await fuzz(
      "authorization",
      fc.asyncProperty(write, header, async (request, make) => {
        const value = make(h.token);
        const presented = bearer.exec(value)?.[1];
        fc.pre(presented !== h.token);
        const answer = await send({ ...request, authorization: value });
        const code = expectRestError(
          answer,
          `${request.method} ${request.url} with Authorization ${JSON.stringify(value.slice(0, 60))}`,
        );
        expect(answer.status).toBe(401);
        expect(code).toBe("UNAUTHENTICATED");
        expect(answer.headers["www-authenticate"]).toBe('Bearer realm="mooring"');
        await expectUnchanged(`${request.method} ${request.url}`);
        t.add("401 UNAUTHENTICATED");
      }),
      150,
    );
  });

  it("random methods and paths never answer 5xx", async () => {
    const t = tally("random requests");
    const path = fc.oneof(
      fc.webPath(),
      fc.constantFrom(
        "/",
        "/docs",
        "/docs/json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/meshes",
        "/meshes/",
        "/vips/",
        "/zones/",
        "//",
        "/meshes//meshservices",
        "/meshes/default/meshservices/",
      ),
    );
    await fuzz(
      "random requests",
      fc.asyncProperty(
        fc.constantFrom<Method>("GET", "PUT", "DELETE", "POST", "PATCH", "OPTIONS", "HEAD"),
        path,
        fc.option(anyJson, { freq: 2 }),
        async (m, url, body) => {
          const answer = await send({
            method: m,
            url: url || "/",
            ...(body === null || m === "GET" || m === "HEAD" ? {} : { payload: JSON.stringify(body) }),
          });
          expect(answer.status, `${m} ${url} -> ${answer.body.slice(0, 200)}`).toBeLessThan(500);
          if (answer.status >= 400 && m !== "HEAD") expectRestError(answer, `${m} ${url}`);
          t.add(`${answer.status}`);
          if (answer.status >= 300) await expectUnchanged(`${m} ${url}`);
          else if (m !== "GET" && m !== "HEAD") {
            checkLeaseInvariants();
            await remember();
          }
        },
      ),
      100,
    );
  });
});

/** Percent-encodes the UTF-8 bytes of any string, lone surrogates included (encodeURIComponent throws on them). */
function encodeURIComponentSafe(raw: string): string {
  return [...Buffer.from(raw, "utf8")]
    .map((byte) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, "0")}`,
    )
    .join("");
}
