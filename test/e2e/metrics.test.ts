// Prometheus metrics end to end: a real global and a real zone (authentication on, as by default),
// a TCP proxy between them cut once, then /metrics scraped on both sides. Each session must be
// counted once under its mode on both sides, and the other series must hold the exact counts of
// what happened: 2 global services and 1 zone service, one first connect, one reconnect.
import { afterAll, describe, expect, it } from "vitest";
import { type GlobalProcess, killAllGlobals, removeTempDirs, startGlobalProcess } from "../helpers/global-process.js";
import { putMeshService, requestJson } from "../helpers/http.js";
import { metric, syncOf, waitUntil } from "../helpers/sync.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { killAllZones, startZoneProcess, type ZoneProcess } from "../helpers/zone-process.js";

// A heartbeat longer than the test: no heartbeat frames, so the bytes each side counts are exactly
// the Hello, Ack and UpstreamChanges messages, and the zone's bytes sent must equal the global's
// bytes received.
const GLOBAL_ENV = { MOORING_SYNC_HEARTBEAT: "60s", MOORING_DB_SYNC: "normal" };
const ZONE_ENV = { MOORING_RECONNECT_MIN: "10ms", MOORING_RECONNECT_MAX: "100ms", MOORING_DB_SYNC: "normal" };
const PORTS = { spec: { ports: [{ port: 80 }] } };
const PUT_ROUTE = { method: "PUT", route: "/meshes/:mesh/meshservices/:name" };

let proxy: TcpProxy | undefined;
afterAll(async () => {
  await killAllZones();
  await killAllGlobals();
  await proxy?.close();
  await removeTempDirs();
});

/** The sum of every series of a metric, whatever its labels. */
async function total(http: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

/** Waits until the global has every revision acknowledged by the zone, and nothing is on its way up. */
async function quiet(global: GlobalProcess, zone: ZoneProcess): Promise<void> {
  await waitUntil(
    async () => {
      const status = await requestJson<{ online: boolean; lag: number }>("GET", `${global.http}/zones/${zone.zone}`);
      const sync = (await syncOf(zone.http)) as unknown as { state: string; upstream: { pending: number } };
      return status.body.online && status.body.lag === 0 && sync.state === "synced" && sync.upstream.pending === 0;
    },
    async () =>
      `global: ${JSON.stringify((await requestJson("GET", `${global.http}/zones/${zone.zone}`)).body)}, zone: ${JSON.stringify(await syncOf(zone.http))}`,
  );
}

describe("metrics after a reconnect", () => {
  it("count the first connect as full and the reconnect as incremental on both sides, with exact totals", async () => {
    const global = await startGlobalProcess({ env: GLOBAL_ENV });
    for (const name of ["web", "api"]) {
      expect((await putMeshService(global.http, "default", name, PORTS)).status).toBe(201);
    }
    proxy = await startTcpProxy(global.grpc);
    const zone = await startZoneProcess({
      zone: "zone-1",
      global: proxy.address,
      token: await global.zoneToken("zone-1"),
      env: ZONE_ENV,
    });
    expect((await putMeshService(zone.http, "default", "db", PORTS)).status).toBe(201);
    await waitUntil(
      async () =>
        (await requestJson("GET", `${global.http}/meshes/default/zones/zone-1/meshservices/db`)).status === 200,
      () => "the zone's service never reached the global",
    );
    await quiet(global, zone);

    proxy.cut();
    await waitUntil(
      async () => (await syncOf(zone.http)).sessions.incremental === 1,
      async () => `no incremental session: ${JSON.stringify(await syncOf(zone.http))}`,
    );
    await quiet(global, zone);
    // The cut stream is closed on the global as soon as grpc-js sees the cancellation.
    await waitUntil(
      async () => (await metric(global.http, "mooring_global_sync_streams")) === 1,
      async () => `open streams: ${await metric(global.http, "mooring_global_sync_streams")}`,
    );

    const z = (name: string, labels?: Record<string, string>) => metric(zone.http, name, labels);
    const g = (name: string, labels?: Record<string, string>) => metric(global.http, name, labels);

    // Sessions, by mode, on both sides.
    expect(await z("mooring_zone_sync_sessions_total", { mode: "full" })).toBe(1);
    expect(await z("mooring_zone_sync_sessions_total", { mode: "incremental" })).toBe(1);
    expect(await z("mooring_zone_sync_sessions_total", { mode: "reconcile" })).toBe(0);
    expect(await g("mooring_global_sync_sessions_total", { mode: "full" })).toBe(1);
    expect(await g("mooring_global_sync_sessions_total", { mode: "incremental" })).toBe(1);
    expect(await g("mooring_global_sync_sessions_total", { mode: "reconcile" })).toBe(0);

    // Resources: web and api in the snapshot, db published back to its owner; nothing on the resume.
    expect(await g("mooring_global_sync_resources_sent_total")).toBe(3);
    expect(await z("mooring_zone_sync_resources_received_total")).toBe(3);
    expect(await z("mooring_zone_sync_resources_sent_total")).toBe(1);
    expect(await g("mooring_global_sync_upstream_resources_total", { outcome: "applied" })).toBe(1);
    expect(await g("mooring_global_sync_upstream_resources_total", { outcome: "rejected" })).toBe(0);
    expect(await z("mooring_zone_upstream_pending")).toBe(0);
    expect(await z("mooring_zone_applied_revision")).toBe(3);
    expect(await g("mooring_global_head_revision")).toBe(3);

    // Bytes: every message the zone wrote reached the global (the cut came when nothing was in flight).
    const zoneSent = await z("mooring_zone_sync_bytes_sent_total");
    expect(zoneSent).toBeGreaterThan(0);
    expect(await g("mooring_global_sync_bytes_received_total")).toBe(zoneSent);
    const globalSent = await g("mooring_global_sync_bytes_sent_total");
    expect(globalSent).toBeGreaterThan(0);
    // The zone also counts Welcome and UpstreamAck, which the global's Changes-only counter does not.
    expect(await z("mooring_zone_sync_bytes_received_total")).toBeGreaterThan(globalSent);

    // The zone, online and caught up.
    expect(await g("mooring_global_zone_online", { zone: "zone-1" })).toBe(1);
    expect(await g("mooring_global_zone_lag_revisions", { zone: "zone-1" })).toBe(0);
    // One stream ended, the cut one (its status code depends on how grpc-js saw the cut).
    expect(await total(global.http, "mooring_global_sync_streams_closed_total")).toBe(1);
    expect(await z("mooring_zone_sync_state", { state: "synced" })).toBe(1);
    expect(await z("mooring_zone_sync_state", { state: "disconnected" })).toBe(0);

    // VIPs and REST.
    expect(await g("mooring_vip_events_total", { event: "allocate", family: "4" })).toBe(3);
    expect(await g("mooring_vip_leases", { state: "bound" })).toBe(3);
    expect(await g("mooring_vip_exhausted_total", { family: "4" })).toBe(0);
    expect(await g("mooring_http_requests_total", { ...PUT_ROUTE, status: "201" })).toBe(2);
    expect(await z("mooring_http_requests_total", { ...PUT_ROUTE, status: "201" })).toBe(1);
    expect(await z("mooring_zone_resources", { type: "MeshService" })).toBe(3);

    // Ready on both sides; /metrics, /readyz and /healthz need no token with authentication on.
    expect((await fetch(`${global.http}/readyz`)).status).toBe(200);
    expect((await fetch(`${zone.http}/readyz`)).status).toBe(200);
  });
});
