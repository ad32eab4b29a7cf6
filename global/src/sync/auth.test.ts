// Authentication of zones (signed zone tokens in Hello) and of the admin REST API, against a real
// global in this process: SQLite in a temp dir, gRPC and REST on 127.0.0.1:0.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { createLogger } from "@mooring/shared";
import { generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { SIGNING_KEY_FILE } from "../auth/zone-tokens.js";
import { ScriptedZone, startTestGlobal, type TestGlobal } from "./sync-harness.js";

const AUTH = { MOORING_AUTH: "on" };

let global: TestGlobal | undefined;
const zones: ScriptedZone[] = [];
afterEach(async () => {
  for (const zone of zones.splice(0)) zone.cancel();
  await global?.close();
  global = undefined;
});

function adminToken(g: TestGlobal): string {
  return readFileSync(join(g.dataDir, "admin-token"), "utf8").trim();
}

async function call(
  g: TestGlobal,
  method: string,
  path: string,
  options: { body?: unknown; token?: string | null; header?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.header !== undefined) headers.authorization = options.header;
  else if (options.token !== null && (options.token !== undefined || existsSync(join(g.dataDir, "admin-token")))) {
    headers.authorization = `Bearer ${options.token ?? adminToken(g)}`;
  }
  const response = await fetch(`${g.http}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    headers: response.headers,
  };
}

async function issue(g: TestGlobal, zone: string, validFor = "1h"): Promise<{ id: string; token: string }> {
  const issued = await call(g, "POST", "/zone-tokens", { body: { zone, validFor } });
  expect(issued.status).toBe(201);
  return issued.body as { id: string; token: string };
}

/** Opens a stream, says Hello with `token`, and returns how the stream went: welcomed or its status. */
async function connect(g: TestGlobal, zone: string, token?: string): Promise<ScriptedZone> {
  const scripted = new ScriptedZone(g.running.grpcAddress);
  zones.push(scripted);
  scripted.hello({ zone, ...(token === undefined ? {} : { token }) });
  return scripted;
}

async function refusal(zone: ScriptedZone): Promise<{ code: string; details: string }> {
  const status = await zone.status;
  if (status === "ended") throw new Error("the stream ended OK instead of being refused");
  expect(zone.received.map((m) => m.message.case)).toEqual([]);
  return { code: grpc.status[status.code] ?? String(status.code), details: status.details };
}

async function welcomed(zone: ScriptedZone): Promise<void> {
  await zone.until((received) => received.some((m) => m.message.case === "welcome"));
}

async function metricValue(g: TestGlobal, series: string): Promise<number> {
  const text = await (await fetch(`${g.http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

/** A token with the right shape and claims, signed by a key this global never saw. */
async function forgedToken(zone: string): Promise<string> {
  const { privateKey } = await generateKeyPair("ES256");
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", typ: "JWT" })
    .setIssuer("mooring-global")
    .setAudience("mooring-zone-sync")
    .setSubject(zone)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(privateKey);
}

describe("zone authentication", () => {
  it("accepts a zone presenting a token issued for it", async () => {
    global = await startTestGlobal(AUTH);
    const { token } = await issue(global, "east");
    await welcomed(await connect(global, "east", token));
    const zone = await call(global, "GET", "/zones/east");
    expect(zone.body.online).toBe(true);
  });

  it("refuses a Hello without a token: UNAUTHENTICATED, nothing recorded, logged and counted", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({
      level: "info",
      service: "global",
      destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    global = await startTestGlobal(AUTH, undefined, logger);
    const refused = await refusal(await connect(global, "east"));
    expect(refused).toEqual({
      code: "UNAUTHENTICATED",
      details:
        "zone east sent no token; this global requires one (set MOORING_ZONE_TOKEN_FILE on the zone, issued by POST /zone-tokens)",
    });
    // The zone was not admitted: no record, no generation taken.
    expect((await call(global, "GET", "/zones/east")).status).toBe(404);
    expect(lines.find((line) => line.msg === "zone authentication failed")).toMatchObject({
      level: 40,
      zone: "east",
      code: "UNAUTHENTICATED",
    });
    expect(await metricValue(global, 'mooring_global_auth_refused_total{kind="zone",reason="unauthenticated"}')).toBe(
      1,
    );
  });

  it.each([
    ["malformed", async () => "not-a-jwt", "zone east's token is malformed; it is not a zone token of this global"],
    [
      "signed by another key",
      () => forgedToken("east"),
      "zone east's token is not signed by this global (another global's, or its signing key was replaced)",
    ],
    [
      "unsigned (alg none)",
      async () =>
        `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(
          JSON.stringify({ sub: "east", jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 3600 }),
        ).toString("base64url")}.`,
      "zone east's token is signed with an algorithm other than ES256",
    ],
  ])("refuses a token that is %s: UNAUTHENTICATED", async (_, token, details) => {
    global = await startTestGlobal(AUTH);
    expect(await refusal(await connect(global, "east", await token()))).toEqual({ code: "UNAUTHENTICATED", details });
  });

  it("refuses a token whose payload was edited (zone changed): the signature no longer matches", async () => {
    global = await startTestGlobal(AUTH);
    const { token } = await issue(global, "east");
    const [header, payload, signature] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as Record<string, unknown>;
    const edited = Buffer.from(JSON.stringify({ ...claims, sub: "west" })).toString("base64url");
    expect(await refusal(await connect(global, "west", `${header}.${edited}.${signature}`))).toEqual({
      code: "UNAUTHENTICATED",
      details: "zone west's token is not signed by this global (another global's, or its signing key was replaced)",
    });
  });

  it("refuses an expired token: UNAUTHENTICATED naming when it expired", async () => {
    global = await startTestGlobal(AUTH);
    const { token } = await issue(global, "east", "1s");
    await welcomed(await connect(global, "east", token));
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const refused = await refusal(await connect(global, "east", token));
    expect(refused.code).toBe("UNAUTHENTICATED");
    expect(refused.details).toMatch(
      /^zone east's token expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z; issue a new one with POST \/zone-tokens$/,
    );
  });

  it("a token for zone A cannot be used as zone B: PERMISSION_DENIED", async () => {
    global = await startTestGlobal(AUTH);
    const { id, token } = await issue(global, "zone-a");
    expect(await refusal(await connect(global, "zone-b", token))).toEqual({
      code: "PERMISSION_DENIED",
      details: `zone token ${id} was issued for zone "zone-a"; it cannot be used as zone "zone-b"`,
    });
    expect((await call(global, "GET", "/zones/zone-b")).status).toBe(404);
    await welcomed(await connect(global, "zone-a", token));
  });

  it("a revoked token ends the live session and cannot reconnect; other tokens of the zone still work", async () => {
    global = await startTestGlobal(AUTH);
    const first = await issue(global, "east");
    const second = await issue(global, "east");
    const live = await connect(global, "east", first.token);
    await welcomed(live);

    const revoked = await call(global, "DELETE", `/zone-tokens/${first.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: first.id, zone: "east" });
    expect(typeof revoked.body.revokedAt).toBe("string");
    const ended = await live.status;
    expect(ended).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: `zone token ${first.id} was revoked` });

    const again = await refusal(await connect(global, "east", first.token));
    expect(again.code).toBe("UNAUTHENTICATED");
    expect(again.details).toMatch(new RegExp(`^zone token ${first.id} was revoked at `));
    await welcomed(await connect(global, "east", second.token));

    // Revoking twice keeps the first revocation time; an unknown id is 404.
    expect((await call(global, "DELETE", `/zone-tokens/${first.id}`)).body.revokedAt).toBe(revoked.body.revokedAt);
    const unknown = await call(global, "DELETE", `/zone-tokens/${randomUUID()}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("NOT_FOUND");
  });

  it("tokens survive a restart: the signing key is kept in the data dir, owner-only", async () => {
    global = await startTestGlobal(AUTH);
    const { token } = await issue(global, "east");
    global = await global.restart();
    await welcomed(await connect(global, "east", token));
    expect(statSync(join(global.dataDir, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(join(global.dataDir, "admin-token")).mode & 0o777).toBe(0o600);
  });

  it("with MOORING_AUTH=off any zone connects without a token", async () => {
    global = await startTestGlobal({ MOORING_AUTH: "off" });
    await welcomed(await connect(global, "east"));
  });

  it("refuses a zone reconnecting faster than the limit with RESOURCE_EXHAUSTED, other zones unaffected", async () => {
    global = await startTestGlobal({
      MOORING_AUTH: "off",
      MOORING_SYNC_RECONNECT_BURST: "2",
      MOORING_SYNC_RECONNECT_INTERVAL: "10s",
    });
    for (let i = 0; i < 2; i++) {
      const zone = await connect(global, "east");
      await welcomed(zone);
      zone.cancel();
    }
    const limited = await refusal(await connect(global, "east"));
    expect(limited.code).toBe("RESOURCE_EXHAUSTED");
    expect(limited.details).toMatch(
      /^zone east opened sync sessions faster than MOORING_SYNC_RECONNECT_BURST\/INTERVAL allow; retry in (9|10)s$/,
    );
    await welcomed(await connect(global, "west"));
    expect(await metricValue(global, 'mooring_global_sync_rate_limited_total{zone="east"}')).toBe(1);
  });
});

describe("zone tokens API", () => {
  it("issues {id, token, zone, issuedAt, expiresAt}, lists them without the token, and needs the admin token", async () => {
    global = await startTestGlobal(AUTH);
    const issued = await call(global, "POST", "/zone-tokens", { body: { zone: "east", validFor: "30d" } });
    expect(issued.status).toBe(201);
    expect(Object.keys(issued.body).sort()).toEqual(["expiresAt", "id", "issuedAt", "revokedAt", "token", "zone"]);
    const { issuedAt, expiresAt } = issued.body as { issuedAt: string; expiresAt: string };
    const lifetime = Date.parse(expiresAt) - Date.parse(issuedAt);
    expect(lifetime).toBeGreaterThanOrEqual(30 * 86_400_000);
    expect(lifetime).toBeLessThan(30 * 86_400_000 + 1000);

    const list = await call(global, "GET", "/zone-tokens");
    expect(list.body.total).toBe(1);
    expect(JSON.stringify(list.body)).not.toContain(issued.body.token as string);

    const anonymous = await call(global, "POST", "/zone-tokens", {
      body: { zone: "east", validFor: "1h" },
      token: null,
    });
    expect(anonymous.status).toBe(401);
    expect((await call(global, "GET", "/zone-tokens")).body.total).toBe(1);
  });

  it.each([
    [{ zone: "east" }, "validFor", "is required"],
    [{ zone: "East_1", validFor: "1h" }, "zone", undefined],
    [{ zone: "east", validFor: "forever" }, "validFor", undefined],
    [{ zone: "east", validFor: "500ms" }, "validFor", "must be at least 1s"],
    [{ zone: "east", validFor: "2000d" }, "validFor", "must be at most 5 years (1830d)"],
    [{ zone: "east", validFor: "1h", scope: "admin" }, "scope", undefined],
  ])("rejects %j with 400 naming %s, issuing nothing", async (body, field, reason) => {
    global = await startTestGlobal(AUTH);
    const answer = await call(global, "POST", "/zone-tokens", { body });
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe("VALIDATION_FAILED");
    const details = answer.body.details as Array<{ field: string; reason: string }>;
    expect(details.map((d) => d.field)).toContain(field);
    if (reason) expect(details.find((d) => d.field === field)?.reason).toBe(reason);
    expect((await call(global, "GET", "/zone-tokens")).body.total).toBe(0);
  });
});

describe("admin authentication", () => {
  const service = { spec: { ports: [{ port: 80 }] } };

  it("writes need the admin token; 401 says how, and a refused write changes nothing", async () => {
    global = await startTestGlobal(AUTH);
    const path = "/meshes/default/meshservices/web";
    const missing = await call(global, "PUT", path, { body: service, token: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="mooring"');
    expect(missing.body).toEqual({
      code: "UNAUTHENTICATED",
      message:
        'PUT /meshes/default/meshservices/web needs an admin token: send "Authorization: Bearer <token>"; the control plane keeps it in the file admin-token of its data directory',
      details: [],
    });
    const wrong = await call(global, "PUT", path, { body: service, token: "mooring-admin-not-the-right-one-at-all" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.message).toBe(
      "the admin token is not valid; the control plane keeps it in the file admin-token of its data directory",
    );
    const basic = await call(global, "PUT", path, { body: service, header: "Basic YWRtaW46YWRtaW4=" });
    expect(basic.status).toBe(401);
    expect(basic.body.message).toBe('the Authorization header must be "Bearer <admin token>"');
    for (const [method, url] of [
      ["DELETE", path],
      ["PUT", "/vips/241.0.0.9"],
      ["DELETE", "/zones/east"],
      ["DELETE", `/zone-tokens/${randomUUID()}`],
    ] as const) {
      expect((await call(global, method, url, { token: null })).status).toBe(401);
    }
    expect((await call(global, "GET", path)).status).toBe(404);
    expect((await call(global, "GET", "/vips")).body.total).toBe(0);

    expect((await call(global, "PUT", path, { body: service })).status).toBe(201);
    expect(await metricValue(global, 'mooring_global_auth_refused_total{kind="admin",reason="missing"}')).toBe(5);
    expect(await metricValue(global, 'mooring_global_auth_refused_total{kind="admin",reason="invalid"}')).toBe(1);
    expect(await metricValue(global, 'mooring_global_auth_refused_total{kind="admin",reason="malformed"}')).toBe(1);
  });

  it("reads are open by default and need the token with MOORING_AUTH_READS=token; probes and metrics stay open", async () => {
    global = await startTestGlobal(AUTH);
    expect((await call(global, "GET", "/meshes/default/meshservices", { token: null })).status).toBe(200);
    global = await global.restart({ ...AUTH, MOORING_AUTH_READS: "token" });
    expect((await call(global, "GET", "/meshes/default/meshservices", { token: null })).status).toBe(401);
    expect((await call(global, "GET", "/zones", { token: null })).status).toBe(401);
    expect((await call(global, "GET", "/meshes/default/meshservices")).status).toBe(200);
    for (const open of ["/healthz", "/readyz", "/metrics"]) {
      const response = await fetch(`${global.http}${open}`);
      expect(response.status).toBe(200);
    }
  });

  it("creates the token once, logs its path and never the token", async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: "debug",
      service: "global",
      destination: { write: (l: string) => lines.push(l) },
    });
    global = await startTestGlobal(AUTH, undefined, logger);
    const token = adminToken(global);
    expect(token).toMatch(/^mooring-admin-[A-Za-z0-9_-]{43}$/);
    await call(global, "PUT", "/meshes/default/meshservices/web", { body: service });
    global = await global.restart();
    expect(adminToken(global)).toBe(token);
    const notes = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.path !== undefined);
    expect(notes.map((n) => [n.msg, n.created])).toEqual([
      ["REST writes need the admin token kept in this file", true],
      ["REST writes need the admin token kept in this file", false],
    ]);
    expect(notes[0]?.path).toBe(join(global.dataDir, "admin-token"));
    expect(lines.join("\n")).not.toContain(token);
  });

  it("with MOORING_AUTH=off writes need no token and no admin-token file is made", async () => {
    global = await startTestGlobal({ MOORING_AUTH: "off" });
    expect((await call(global, "PUT", "/meshes/default/meshservices/web", { body: service, token: null })).status).toBe(
      201,
    );
    expect(() => statSync(join(global?.dataDir ?? "", "admin-token"))).toThrow(/ENOENT/);
  });
});

describe("signing key", () => {
  it("is a private ES256 JWK the global can reload", async () => {
    global = await startTestGlobal(AUTH);
    const jwk = JSON.parse(readFileSync(join(global.dataDir, SIGNING_KEY_FILE), "utf8")) as Record<string, unknown>;
    expect(jwk).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(typeof jwk.d).toBe("string");
  });
});

describe("zone isolation and limits", () => {
  it("rejects, per resource, upstream writes to another zone's or the global's services and creates beyond MOORING_ZONE_MAX_SERVICES", async () => {
    global = await startTestGlobal({ MOORING_AUTH: "off", MOORING_ZONE_MAX_SERVICES: "2" });
    const web = await call(global, "PUT", "/meshes/default/meshservices/web", {
      body: { spec: { ports: [{ port: 80 }] } },
      token: null,
    });
    expect(web.status).toBe(201);
    const zone = await connect(global, "zone-1");
    await zone.syncedBatches(1);
    const key = (zoneName: string, name: string) => ({ type: "MeshService", mesh: "default", zone: zoneName, name });
    const upsert = (zoneName: string, name: string, port = 81) => ({
      key: key(zoneName, name),
      spec: { ports: [{ port }] },
    });
    zone.send({
      case: "upstream",
      value: {
        zoneRevision: 1n,
        upserts: [
          upsert("zone-1", "mine-1"),
          upsert("zone-2", "theirs"),
          upsert("", "web", 9999),
          upsert("zone-1", "mine-2"),
          upsert("zone-1", "mine-3"),
        ],
        deletes: [key("", "web")],
      },
    });
    await zone.until((r) => r.some((m) => m.message.case === "upstreamAck"));
    const ack = zone.received.find((m) => m.message.case === "upstreamAck")?.message.value as {
      rejected: Array<{ key?: { zone: string; name: string }; code: string; message: string }>;
    };
    expect(ack.rejected.map((r) => `${r.key?.zone}/${r.key?.name}:${r.code}`)).toEqual([
      "zone-2/theirs:ZONE_OWNED",
      "/web:ZONE_OWNED",
      "zone-1/mine-3:ZONE_SERVICE_LIMIT",
      "/web:ZONE_OWNED",
    ]);
    expect(ack.rejected[2]?.message).toBe(
      "zone zone-1 already owns 2 services, the limit (MOORING_ZONE_MAX_SERVICES); delete some first",
    );
    const after = await call(global, "GET", "/meshes/default/meshservices/web");
    expect(after.body).toEqual(web.body);
    const all = await call(global, "GET", "/meshes/default/meshservices");
    expect((all.body.items as Array<{ zone?: string; name: string }>).map((s) => `${s.zone ?? ""}/${s.name}`)).toEqual([
      "/web",
      "zone-1/mine-1",
      "zone-1/mine-2",
    ]);
    expect(
      await metricValue(global, 'mooring_global_sync_upstream_rejected_total{zone="zone-1",code="ZONE_OWNED"}'),
    ).toBe(3);
    expect(
      await metricValue(global, 'mooring_global_sync_upstream_rejected_total{zone="zone-1",code="ZONE_SERVICE_LIMIT"}'),
    ).toBe(1);

    // At the limit, an edit of an owned service still applies: only creates count against it.
    zone.send({ case: "upstream", value: { zoneRevision: 2n, upserts: [upsert("zone-1", "mine-1", 82)] } });
    await zone.until((r) => r.filter((m) => m.message.case === "upstreamAck").length === 2);
    const edited = await call(global, "GET", "/meshes/default/zones/zone-1/meshservices/mine-1");
    expect(edited.body.spec).toMatchObject({ ports: [{ port: 82 }] });
  });
});
