// Fuzzing zone authentication on the sync stream (issue 4): Hellos carrying random strings, valid
// zone tokens with one character changed, cut short, re-signed with "none", used for another zone, or
// revoked. Every refused Hello ends its stream with UNAUTHENTICATED (PERMISSION_DENIED for another
// zone's valid token) within a bounded time, and the global neither creates nor touches the zone's
// record; a token whose bytes decode unchanged is still accepted.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScriptedZone, startTestGlobal, type TestGlobal } from "../../global/src/sync/sync-harness.js";
import { fuzz, Tally } from "./fuzz-support.js";

const BOUND_MS = 4000;
let g: TestGlobal;
let db: Database.Database;
let admin = "";
const tokens: Record<string, { id: string; token: string }> = {};

async function issue(zone: string): Promise<{ id: string; token: string }> {
  const response = await fetch(`${g.http}/zone-tokens`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
    body: JSON.stringify({ zone, validFor: "1h" }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; token: string };
}

function stored(): string {
  return JSON.stringify({
    zones: db.prepare("SELECT * FROM zones ORDER BY name").all(),
    tokens: db.prepare("SELECT * FROM zone_tokens ORDER BY id").all(),
    resources: db.prepare("SELECT * FROM resources ORDER BY type, mesh, zone, name").all(),
    leases: db.prepare("SELECT * FROM vip_leases ORDER BY ip").all(),
  });
}

/** Says Hello with `token` and returns how the stream went: welcomed, or its status. */
async function hello(zone: string, token: string): Promise<{ welcomed: true } | { code: string; details: string }> {
  const z = new ScriptedZone(g.running.grpcAddress);
  z.hello({ zone, token });
  const timeout = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), BOUND_MS).unref());
  const welcomed = z
    .until((r) => r.some((m) => m.message.case === "welcome"), BOUND_MS)
    .then(
      () => "welcomed" as const,
      () => "no welcome" as const,
    );
  const first = await Promise.race([z.status, welcomed, timeout]);
  if (first === "hung") {
    z.cancel();
    throw new Error(`a Hello with token ${JSON.stringify(token.slice(0, 60))} got neither a Welcome nor a status`);
  }
  if (first === "welcomed") {
    z.close();
    await Promise.race([z.status, timeout]);
    return { welcomed: true };
  }
  const status = await z.status;
  z.cancel();
  if (status === "ended") return { code: "OK", details: "" };
  return { code: grpc.status[status.code] ?? String(status.code), details: status.details };
}

const segmentsOf = (token: string) => token.split(".").map((part) => Buffer.from(part, "base64url").toString("hex"));

beforeAll(async () => {
  g = await startTestGlobal({ MOORING_AUTH: "on", MOORING_SYNC_RECONNECT_BURST: "1000000" });
  admin = readFileSync(join(g.dataDir, "admin-token"), "utf8").trim();
  db = new Database(join(g.dataDir, "global.db"), { readonly: true, fileMustExist: true });
  for (const zone of ["zone-a", "zone-b", "zone-r"]) tokens[zone] = await issue(zone);
  const revoked = await fetch(`${g.http}/zone-tokens/${tokens["zone-r"]?.id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${admin}` },
  });
  expect(revoked.status).toBe(200);
  // zone-a has connected once: a refused Hello must leave its record exactly as it is.
  expect(await hello("zone-a", tokens["zone-a"]?.token ?? "")).toEqual({ welcomed: true });
});

afterAll(async () => {
  db?.close();
  await g?.close();
});

describe("zone tokens on the sync stream", () => {
  it("random, damaged, forged, revoked and misused tokens are refused and touch nothing", async () => {
    const t = new Tally("global gRPC zone tokens");
    const valid = () => tokens["zone-a"]?.token ?? "";
    const forgedNone = () => {
      const [, payload = ""] = valid().split(".");
      return `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
    };
    const token = fc.oneof(
      fc.string({ maxLength: 80 }).map((s) => ({ make: () => s, what: "a random string" })),
      fc
        .stringMatching(/^[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{1,80}\.[A-Za-z0-9_-]{0,90}$/)
        .map((s) => ({ make: () => s, what: "a random JWT-looking string" })),
      fc
        .tuple(fc.nat(), fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."))
        .map(([at, ch]) => ({
          make: () => {
            const v = valid();
            const i = at % v.length;
            return `${v.slice(0, i)}${ch}${v.slice(i + 1)}`;
          },
          what: "a valid token with one character changed",
        })),
      fc.nat().map((cut) => ({ make: () => valid().slice(0, cut % valid().length), what: "a valid token cut short" })),
      fc.constant({ make: forgedNone, what: 'a token re-signed with alg "none"' }),
      fc.constant({ make: () => `${valid()}.${valid()}`, what: "two tokens joined" }),
      fc.constant({ make: () => tokens["zone-r"]?.token ?? "", what: "a revoked token" }),
      fc.constant({ make: () => tokens["zone-b"]?.token ?? "", what: "zone-b's token" }),
      fc.integer({ min: 1000, max: 200_000 }).map((n) => ({ make: () => "e".repeat(n), what: "a huge token" })),
    );
    await fuzz(
      "zone tokens",
      fc.asyncProperty(fc.constantFrom("zone-a", "zone-new"), token, async (zone, { make, what }) => {
        const presented = make();
        const before = stored();
        const outcome = await hello(zone, presented);
        // Whose issued token this is, byte for byte once decoded: a changed character can leave the
        // decoded bytes as they were (the spare low bits of a segment's last base64url character).
        const decoded = presented.split(".").length === 3 ? segmentsOf(presented).join(".") : undefined;
        const holder = Object.keys(tokens).find((name) => {
          const issued = tokens[name]?.token;
          return issued !== undefined && segmentsOf(issued).join(".") === decoded;
        });
        // Accepted only when it is the zone's own token.
        if (holder === zone) {
          expect(outcome, what).toEqual({ welcomed: true });
          t.add("welcomed (decodes to the same token)");
          return;
        }
        // Another zone's valid token is a permission problem; a revoked one, or anything that is no
        // issued token at all, is not a credential.
        const expectedCode = holder !== undefined && holder !== "zone-r" ? "PERMISSION_DENIED" : "UNAUTHENTICATED";
        expect(outcome, `${what} for ${zone}: ${JSON.stringify(presented.slice(0, 80))}`).toEqual({
          code: expectedCode,
          details: expect.any(String),
        });
        // The status never echoes the token back.
        if (presented.length > 8) expect((outcome as { details: string }).details).not.toContain(presented);
        expect(stored(), `${what} for ${zone} changed the stored state`).toBe(before);
        t.add(expectedCode);
      }),
      80,
    );
    t.print();
    expect((await fetch(`${g.http}/readyz`)).status).toBe(200);
  });
});
