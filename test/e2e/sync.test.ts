// Zone sync end to end: a real global and real zone processes, faults injected by killing them and
// by a TCP proxy between zone and global. The promise under test: a reconnect is incremental, and no
// VIP ever changes.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type GlobalProcess, killAllGlobals, removeTempDirs, startGlobalProcess } from "../helpers/global-process.js";
import { requestJson } from "../helpers/http.js";
import { forEachPool } from "../helpers/pool.js";
import { converged, differences, metric, servicesOf, syncOf, waitUntil } from "../helpers/sync.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { killAllZones, startZoneProcess, type ZoneProcess } from "../helpers/zone-process.js";

// Fast reconnects and heartbeats keep the fault tests short; the defaults are for production.
const ZONE_ENV = { MOORING_RECONNECT_MIN: "10ms", MOORING_RECONNECT_MAX: "100ms", MOORING_DB_SYNC: "normal" };
const GLOBAL_ENV = { MOORING_SYNC_HEARTBEAT: "200ms", MOORING_DB_SYNC: "normal" };

const proxies: TcpProxy[] = [];
afterEach(async () => {
  await killAllZones();
  await killAllGlobals();
  for (const proxy of proxies.splice(0)) await proxy.close();
});
afterAll(removeTempDirs);

async function proxyTo(global: GlobalProcess): Promise<TcpProxy> {
  const proxy = await startTcpProxy(global.grpc);
  proxies.push(proxy);
  return proxy;
}

/** The global that issues the zone tokens of the test that is running (authentication is on, as by default). */
let issuer: GlobalProcess | undefined;

async function startGlobal(options: Parameters<typeof startGlobalProcess>[0]): Promise<GlobalProcess> {
  issuer = await startGlobalProcess(options);
  return issuer;
}

async function zone(name: string, global: string, options: { dataDir?: string; env?: Record<string, string> } = {}) {
  const token = await issuer?.zoneToken(name, "24h");
  return startZoneProcess({
    zone: name,
    global,
    dataDir: options.dataDir,
    env: { ...ZONE_ENV, ...options.env },
    ...(token ? { token } : {}),
  });
}

async function put(http: string, name: string, port = 80, mesh = "default"): Promise<number> {
  const response = await requestJson("PUT", `${http}/meshes/${mesh}/meshservices/${name}`, {
    spec: { ports: [{ port }] },
  });
  return response.status;
}

async function createMany(http: string, names: string[], concurrency = 16): Promise<void> {
  await forEachPool(names.length, concurrency, async (i) => {
    const status = await put(http, names[i] as string);
    if (status !== 201 && status !== 200) throw new Error(`PUT ${names[i]} answered ${status}`);
  });
}

async function offline(global: GlobalProcess, name: string): Promise<void> {
  await waitUntil(
    async () => (await requestJson<{ online: boolean }>("GET", `${global.http}/zones/${name}`)).body.online === false,
    () => `${name} still online on the global`,
  );
}

async function waitForSessions(
  z: ZoneProcess,
  mode: "full" | "incremental" | "reconcile",
  count: number,
  pollMs = 50,
): Promise<void> {
  await waitUntil(
    async () => {
      const status = await syncOf(z.http);
      return status.sessions[mode] >= count && status.state === "synced";
    },
    async () => `zone ${z.zone} /sync: ${JSON.stringify(await syncOf(z.http))}`,
    20_000,
    pollMs,
  );
}

describe("convergence", () => {
  it("a global and 3 zones with 5,000 services, global- and zone-owned, agree on content and VIPs", async () => {
    const global = await startGlobal({ env: GLOBAL_ENV });
    const zones = await Promise.all(["zone-1", "zone-2", "zone-3"].map((name) => zone(name, global.grpc)));
    const globalOwned = Array.from({ length: 3500 }, (_, i) => `svc-${i}`);
    await Promise.all([
      createMany(global.http, globalOwned),
      ...zones.map((z) =>
        createMany(
          z.http,
          Array.from({ length: 500 }, (_, i) => `local-${i}`),
          8,
        ),
      ),
    ]);
    for (const z of zones) await converged(global.http, z.http, 60_000);
    const view = await servicesOf(global.http);
    expect(view.size).toBe(5000);
    const vips = [...view.values()].map((s) => s.vips);
    expect(vips.every((v) => v !== "")).toBe(true);
    expect(new Set(vips).size).toBe(5000);

    // A fresh zone's first sync of everything, for the record.
    const started = Date.now();
    const fresh = await zone("zone-4", global.grpc);
    await waitForSessions(fresh, "full", 1);
    const firstSyncMs = Date.now() - started;
    expect(differences(view, await servicesOf(fresh.http))).toEqual([]);
    expect(await metric(fresh.http, "mooring_zone_sync_resources_received_total")).toBe(5000);
    const at = (msg: string) => Date.parse(String(fresh.logLines().find((line) => line.msg === msg)?.time));
    console.log(
      `first sync of 5,000 services to a new zone: ${at("synced") - at("connected")} ms from Welcome to the snapshot committed, ${firstSyncMs} ms from process start`,
    );
  }, 180_000);
});

describe("reconnects", () => {
  it("a zone killed with -9 resumes incrementally and receives exactly the 15 changes made meanwhile", async () => {
    const global = await startGlobal({ env: GLOBAL_ENV });
    const proxy = await proxyTo(global);
    const names = Array.from({ length: 200 }, (_, i) => `svc-${i}`);
    await createMany(global.http, names);
    const first = await zone("zone-1", proxy.address);
    await converged(global.http, first.http);
    const before = await servicesOf(first.http);
    await first.kill9();
    await offline(global, "zone-1");

    for (const name of names.slice(0, 10)) expect(await put(global.http, name, 8080)).toBe(200);
    for (const name of names.slice(10, 15)) {
      expect((await requestJson("DELETE", `${global.http}/meshes/default/meshservices/${name}`)).status).toBe(200);
    }
    const sentBefore = await metric(global.http, "mooring_global_sync_resources_sent_total");
    const bytesBefore = await metric(global.http, "mooring_global_sync_bytes_sent_total");

    const wireBefore = proxy.bytes().fromTarget;
    const restarted = await zone("zone-1", proxy.address, { dataDir: first.dataDir });
    const listeningAt = Date.now();
    await waitForSessions(restarted, "incremental", 1, 5);
    const resumeMs = Date.now() - listeningAt;
    const status = await syncOf(restarted.http);
    expect(status.mode).toBe("incremental");
    expect(status.sessions).toEqual({ full: 0, incremental: 1, reconcile: 0 });
    expect(await metric(restarted.http, "mooring_zone_sync_resources_received_total")).toBe(15);
    expect(await metric(global.http, "mooring_global_sync_resources_sent_total")).toBe(sentBefore + 15);
    const after = await servicesOf(restarted.http);
    expect(after.size).toBe(195);
    for (const name of names.slice(10, 15)) expect(after.has(`/${name}`)).toBe(false);
    for (const [key, state] of after) expect(state.vips).toBe(before.get(key)?.vips);
    const changesBytes = (await metric(global.http, "mooring_global_sync_bytes_sent_total")) - bytesBefore;
    console.log(
      `reconnect with 15 changes: ${changesBytes} bytes of Changes, ${proxy.bytes().fromTarget - wireBefore} bytes on the wire from the global (HTTP/2 and TCP payload, heartbeats included), synced ${resumeMs} ms after the restarted zone was listening`,
    );
  }, 60_000);

  it("100 stream cuts without a process dying: 100 incremental resumes, 0 full resyncs, 0 VIP changes", async () => {
    // 100 reconnects in a few seconds is far beyond the default reconnect rate limit, on purpose.
    const global = await startGlobal({ env: { ...GLOBAL_ENV, MOORING_SYNC_RECONNECT_BURST: "200" } });
    const proxy = await proxyTo(global);
    await createMany(
      global.http,
      Array.from({ length: 100 }, (_, i) => `svc-${i}`),
    );
    const z = await zone("zone-1", proxy.address);
    await converged(global.http, z.http);
    const before = await servicesOf(z.http);
    const bytesBefore = await metric(global.http, "mooring_global_sync_bytes_sent_total");
    const wireBefore = proxy.bytes().fromTarget;
    const resumeMs: number[] = [];
    for (let cut = 1; cut <= 100; cut++) {
      const started = Date.now();
      proxy.cut();
      await waitUntil(
        async () => {
          const s = await syncOf(z.http);
          return s.sessions.incremental === cut && s.state === "synced";
        },
        async () => `cut ${cut}: ${JSON.stringify(await syncOf(z.http))}`,
        20_000,
        5,
      );
      resumeMs.push(Date.now() - started);
    }
    resumeMs.sort((a, b) => a - b);
    const wire = proxy.bytes().fromTarget - wireBefore;
    const status = await syncOf(z.http);
    expect(status.sessions).toEqual({ full: 1, incremental: 100, reconcile: 0 });
    expect(await metric(global.http, "mooring_global_sync_sessions_total", { mode: "full" })).toBe(1);
    expect(await metric(global.http, "mooring_global_sync_sessions_total", { mode: "incremental" })).toBe(100);
    expect(differences(before, await servicesOf(z.http))).toEqual([]);
    expect(differences(before, await servicesOf(global.http))).toEqual([]);
    const bytes = (await metric(global.http, "mooring_global_sync_bytes_sent_total")) - bytesBefore;
    console.log(
      `100 reconnects with 0 changes: ${bytes / 100} bytes of Changes and ${Math.round(wire / 100)} bytes on the wire from the global per reconnect; cut to synced p50 ${resumeMs[49]} ms, max ${resumeMs[99]} ms (reconnect backoff 10-100 ms included)`,
    );
  }, 120_000);

  it("a global killed with -9 is resumed incrementally; a replaced (empty) database is reconciled and no VIP changes", async () => {
    let global = await startGlobal({ env: GLOBAL_ENV });
    const proxy = await proxyTo(global);
    await createMany(
      global.http,
      Array.from({ length: 50 }, (_, i) => `svc-${i}`),
    );
    const z1 = await zone("zone-1", proxy.address);
    const z2 = await zone("zone-2", proxy.address);
    await createMany(
      z1.http,
      Array.from({ length: 20 }, (_, i) => `own-${i}`),
    );
    for (const z of [z1, z2]) await converged(global.http, z.http);
    const original = await servicesOf(global.http);

    await global.kill9();
    global = await startGlobal({ env: GLOBAL_ENV, dataDir: global.dataDir });
    proxy.setTarget(global.grpc);
    proxy.cut();
    for (const z of [z1, z2]) await waitForSessions(z, "incremental", 1);
    for (const z of [z1, z2])
      expect((await syncOf(z.http)).sessions).toEqual({ full: 1, incremental: 1, reconcile: 0 });
    expect(differences(original, await servicesOf(z2.http))).toEqual([]);

    // The database is lost: a new, empty one (a new epoch) takes its place.
    await global.stop();
    for (const file of ["global.db", "global.db-wal", "global.db-shm"])
      await rm(join(global.dataDir, file), { force: true });
    global = await startGlobal({ env: GLOBAL_ENV, dataDir: global.dataDir });
    proxy.setTarget(global.grpc);
    proxy.cut();
    for (const z of [z1, z2]) await waitForSessions(z, "reconcile", 1);
    // zone-1's own services come back from zone-1, with the VIPs the zones held.
    await waitUntil(
      async () => (await servicesOf(global.http)).size === 20,
      async () => `global has ${(await servicesOf(global.http)).size} services`,
    );
    // The operator re-applies the global-owned services: the re-adopted leases give the same VIPs.
    await createMany(
      global.http,
      Array.from({ length: 50 }, (_, i) => `svc-${i}`),
    );
    for (const z of [z1, z2]) await converged(global.http, z.http);
    expect(differences(original, await servicesOf(global.http))).toEqual([]);
    expect(differences(original, await servicesOf(z2.http))).toEqual([]);
  }, 120_000);

  it("a zone offline past the compaction horizon reconciles: only differing resources move, deletions apply", async () => {
    const global = await startGlobal({ env: { ...GLOBAL_ENV, MOORING_CHANGELOG_MAX_ENTRIES: "20" } });
    const names = Array.from({ length: 100 }, (_, i) => `svc-${i}`);
    await createMany(global.http, names);
    const first = await zone("zone-1", global.grpc);
    await converged(global.http, first.http);
    const before = await servicesOf(first.http);
    await first.kill9();
    for (const name of names.slice(0, 25)) expect(await put(global.http, name, 9090)).toBe(200);
    for (const name of names.slice(25, 30)) {
      expect((await requestJson("DELETE", `${global.http}/meshes/default/meshservices/${name}`)).status).toBe(200);
    }
    const restarted = await zone("zone-1", global.grpc, { dataDir: first.dataDir });
    await waitForSessions(restarted, "reconcile", 1);
    expect((await syncOf(restarted.http)).sessions).toEqual({ full: 0, incremental: 0, reconcile: 1 });
    await converged(global.http, restarted.http);
    // 25 edited + 5 deleted: nothing else was sent.
    expect(await metric(restarted.http, "mooring_zone_sync_resources_received_total")).toBe(30);
    const after = await servicesOf(restarted.http);
    expect(after.size).toBe(95);
    for (const [key, state] of after) expect(state.vips).toBe(before.get(key)?.vips);
  }, 60_000);

  it("zone-owned services created, edited and deleted while disconnected reach the global on reconnect", async () => {
    const global = await startGlobal({ env: GLOBAL_ENV });
    const proxy = await proxyTo(global);
    const z = await zone("zone-1", proxy.address);
    for (const name of ["kept", "edited", "removed"]) expect(await put(z.http, name)).toBe(201);
    await converged(global.http, z.http);
    const before = await servicesOf(global.http);

    proxy.setMode("refuse");
    proxy.cut();
    await waitUntil(
      async () => (await syncOf(z.http)).state !== "synced",
      async () => JSON.stringify(await syncOf(z.http)),
    );
    expect(await put(z.http, "created")).toBe(201);
    expect(await put(z.http, "edited", 8443)).toBe(200);
    expect((await requestJson("DELETE", `${z.http}/meshes/default/meshservices/removed`)).status).toBe(200);
    proxy.setMode("pass");

    await converged(global.http, z.http);
    const after = await servicesOf(global.http);
    expect([...after.keys()].sort()).toEqual(["zone-1/created", "zone-1/edited", "zone-1/kept"]);
    expect(after.get("zone-1/edited")?.vips).toBe(before.get("zone-1/edited")?.vips);
    expect(after.get("zone-1/kept")).toEqual(before.get("zone-1/kept"));
    expect(after.get("zone-1/created")?.vips).toMatch(/^241\./);
    const lease = await requestJson<{ state: string; name: string }>(
      "GET",
      `${global.http}/vips/${before.get("zone-1/removed")?.vips}`,
    );
    expect(lease.body).toMatchObject({ state: "quarantined", name: "removed" });
  }, 60_000);
});

describe("zone identity and liveness", () => {
  it("a second process claiming the same zone supersedes the first, which is told why and stops", async () => {
    const global = await startGlobal({ env: GLOBAL_ENV });
    const first = await zone("zone-1", global.grpc);
    await waitForSessions(first, "full", 1);
    const second = await zone("zone-1", global.grpc);
    await waitForSessions(second, "full", 1);
    const exit = await first.exited;
    expect(exit.code).toBe(3);
    const why = await first.waitForLog((line) => /superseded/.test(String(line.reason ?? line.msg ?? "")));
    expect(String(why.reason ?? why.msg)).toMatch(/superseded by instance/);
    const record = await requestJson<{ online: boolean; generation: number }>("GET", `${global.http}/zones/zone-1`);
    expect(record.body).toMatchObject({ online: true, generation: 2 });
    // Only the survivor writes: its service lands, and nothing from the stopped one can.
    expect(await put(second.http, "from-second")).toBe(201);
    await converged(global.http, second.http);
  }, 60_000);

  it("a zone silent past the heartbeat timeout shows offline, keeps its services and VIPs, and returns in sync", async () => {
    const global = await startGlobal({ env: GLOBAL_ENV });
    const proxy = await proxyTo(global);
    const z = await zone("zone-1", proxy.address);
    expect(await put(z.http, "own")).toBe(201);
    await converged(global.http, z.http);
    const before = await servicesOf(global.http);

    proxy.setMode("blackhole");
    await waitUntil(
      async () => (await requestJson<{ online: boolean }>("GET", `${global.http}/zones/zone-1`)).body.online === false,
      () => "zone-1 still online",
      5000,
    );
    expect(differences(before, await servicesOf(global.http))).toEqual([]);
    await put(global.http, "while-away");

    proxy.setMode("pass");
    proxy.cut();
    await waitUntil(
      async () => (await requestJson<{ online: boolean }>("GET", `${global.http}/zones/zone-1`)).body.online === true,
      () => "zone-1 not back online",
    );
    await converged(global.http, z.http);
    expect((await servicesOf(z.http)).get("/while-away")?.vips).toMatch(/^241\./);
    expect((await servicesOf(z.http)).get("zone-1/own")).toEqual(before.get("zone-1/own"));
  }, 60_000);
});
