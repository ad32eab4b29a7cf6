// TLS between real processes: the global serves HTTPS and gRPC over TLS (mutual TLS when a client CA
// is set); zones verify it against a CA file and present a client certificate. Certificates are
// made for the test with openssl.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeCertificates, type TestCertificates } from "../helpers/certs.js";
import {
  type GlobalProcess,
  killAllGlobals,
  makeTempDir,
  removeTempDirs,
  startGlobalProcess,
} from "../helpers/global-process.js";
import { syncOf, waitUntil } from "../helpers/sync.js";
import { killAllZones, startZoneProcess, type ZoneProcess } from "../helpers/zone-process.js";

let certs: TestCertificates;
beforeAll(async () => {
  certs = makeCertificates(await makeTempDir("mooring-e2e-certs-"));
});
afterEach(async () => {
  await killAllZones();
  await killAllGlobals();
});
afterAll(removeTempDirs);

/** JSON over HTTPS, trusting `ca` only. */
function httpsJson(
  url: string,
  options: { ca: string; method?: string; body?: unknown; token?: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      url,
      {
        method: options.method ?? "GET",
        ca: readFileSync(options.ca),
        headers: {
          ...(payload ? { "content-type": "application/json" } : {}),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

async function startTlsGlobal(mutual: boolean): Promise<GlobalProcess & { https: string }> {
  const global = await startGlobalProcess({
    env: {
      MOORING_TLS_CERT: certs.serverCert,
      MOORING_TLS_KEY: certs.serverKey,
      ...(mutual ? { MOORING_SYNC_CLIENT_CA: certs.ca } : {}),
    },
  });
  return { ...global, https: global.http.replace(/^http:/, "https:") };
}

async function tokenFor(global: GlobalProcess & { https: string }, zone: string): Promise<string> {
  const issued = await httpsJson(`${global.https}/zone-tokens`, {
    ca: certs.ca,
    method: "POST",
    body: { zone, validFor: "1h" },
    token: global.adminToken ?? "",
  });
  expect(issued.status).toBe(201);
  return issued.body.token as string;
}

async function lastErrorOf(zone: ZoneProcess): Promise<string> {
  let error = "";
  await waitUntil(
    async () => {
      const status = (await syncOf(zone.http)) as unknown as { lastError: string | null; sessions: { full: number } };
      error = status.lastError ?? "";
      expect(status.sessions.full).toBe(0);
      return error !== "";
    },
    () => `zone ${zone.zone} never reported an error`,
  );
  return error;
}

describe("TLS", () => {
  it("serves REST over HTTPS and sync over TLS; a zone that trusts the CA syncs", async () => {
    const global = await startTlsGlobal(false);
    expect((await httpsJson(`${global.https}/readyz`, { ca: certs.ca })).status).toBe(200);
    const put = await httpsJson(`${global.https}/meshes/default/meshservices/web`, {
      ca: certs.ca,
      method: "PUT",
      body: { spec: { ports: [{ port: 80 }] } },
      token: global.adminToken ?? "",
    });
    expect(put.status).toBe(201);
    const vip = (put.body.status as { vips: Array<{ ip: string }> }).vips[0]?.ip;

    const zone = await startZoneProcess({
      zone: "zone-1",
      global: global.grpc,
      token: await tokenFor(global, "zone-1"),
      env: { MOORING_GLOBAL_CA: certs.ca },
    });
    await waitUntil(
      async () => (await syncOf(zone.http)).state === "synced",
      async () => JSON.stringify(await syncOf(zone.http)),
    );
    const list = (await (await fetch(`${zone.http}/meshes/default/meshservices`)).json()) as {
      items: Array<{ name: string; status: { vips: Array<{ ip: string }> } }>;
    };
    const seen = list.items.find((item) => item.name === "web");
    expect(seen?.status.vips.map((v) => v.ip)).toEqual([vip]);

    // A zone that trusts another CA, or speaks plaintext, gets no session.
    const distrustful = await startZoneProcess({
      zone: "zone-2",
      global: global.grpc,
      token: await tokenFor(global, "zone-2"),
      env: { MOORING_GLOBAL_CA: certs.otherCa },
    });
    expect(await lastErrorOf(distrustful)).toMatch(/^UNAVAILABLE: /);
    const plaintext = await startZoneProcess({
      zone: "zone-3",
      global: global.grpc,
      token: await tokenFor(global, "zone-3"),
    });
    expect(await lastErrorOf(plaintext)).toMatch(/^UNAVAILABLE: /);
  }, 60_000);

  it("with MOORING_SYNC_CLIENT_CA only zones presenting a certificate that CA signed get a session", async () => {
    const global = await startTlsGlobal(true);
    const token = await tokenFor(global, "zone-1");
    const withoutCert = await startZoneProcess({
      zone: "zone-1",
      global: global.grpc,
      token,
      env: { MOORING_GLOBAL_CA: certs.ca },
    });
    expect(await lastErrorOf(withoutCert)).toMatch(/^UNAVAILABLE: /);
    await withoutCert.kill9();

    const stranger = await startZoneProcess({
      zone: "zone-1",
      global: global.grpc,
      token,
      env: { MOORING_GLOBAL_CA: certs.ca, MOORING_TLS_CERT: certs.strangerCert, MOORING_TLS_KEY: certs.strangerKey },
    });
    expect(await lastErrorOf(stranger)).toMatch(/^UNAVAILABLE: /);
    await stranger.kill9();

    const trusted = await startZoneProcess({
      zone: "zone-1",
      global: global.grpc,
      token,
      env: { MOORING_GLOBAL_CA: certs.ca, MOORING_TLS_CERT: certs.clientCert, MOORING_TLS_KEY: certs.clientKey },
    });
    await waitUntil(
      async () => (await syncOf(trusted.http)).state === "synced",
      async () => JSON.stringify(await syncOf(trusted.http)),
    );
    const zone = await httpsJson(`${global.https}/zones/zone-1`, { ca: certs.ca });
    expect(zone.body).toMatchObject({ online: true, sessions: { full: 1, incremental: 0, reconcile: 0 } });
  }, 60_000);
});
