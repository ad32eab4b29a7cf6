import type { ZoneName } from "@mooring/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSyncClient, type SyncClient } from "../client/sync-client.js";
import { createManager } from "../manager/manager.js";
import { createMetrics } from "../metrics.js";
import { createTempStore, EPOCH, silentLogger, type TempStore } from "../test-support.js";
import { build, type ZoneApp } from "./app.js";

const INSTANCE = "3f9d2c41-8b7a-4e6f-9c1d-0a1b2c3d4e5f";

describe("zone operations endpoints", () => {
  let t: TempStore;
  let app: ZoneApp;
  let client: SyncClient;

  beforeEach(async () => {
    t = createTempStore("east");
    const metrics = createMetrics(t.store);
    client = createSyncClient({
      config: { global: { host: "127.0.0.1", port: 1 }, reconnectMin: 10, reconnectMax: 10, syncMaxMessage: 65536 },
      store: t.store,
      logger: silentLogger,
      metrics,
      instanceId: INSTANCE,
    });
    const manager = createManager(t.store, { zone: "east" as ZoneName, maxMessageBytes: 65536 });
    app = await build({ manager, store: t.store, client, metrics, logger: silentLogger, bodyLimit: 1_048_576 });
  });
  afterEach(async () => {
    await app.close();
    t.cleanup();
  });

  it("reports a zone that has never synced on /sync", async () => {
    const response = await app.inject({ method: "GET", url: "/sync" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      state: "disconnected",
      mode: null,
      globalEpoch: null,
      appliedRevision: 0,
      sessions: { full: 0, incremental: 0, reconcile: 0 },
      connectedAt: null,
      lastError: null,
      upstream: { pending: 0, acked: 0 },
      instanceId: INSTANCE,
      storeId: t.store.storeId,
    });
  });

  it("reports the stored cursor and the outbox on /sync while disconnected", async () => {
    t.store.setCursor({ epoch: EPOCH, revision: 41 });
    await app.inject({
      method: "PUT",
      url: "/meshes/default/meshservices/web",
      payload: { spec: { ports: [{ port: 80 }] } },
    });
    expect((await app.inject({ method: "GET", url: "/sync" })).json()).toMatchObject({
      state: "disconnected",
      globalEpoch: EPOCH,
      appliedRevision: 41,
      upstream: { pending: 1, acked: 0 },
    });
  });

  it("is ready while disconnected (stale but available), and not once the store is closed", async () => {
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready", sync: "disconnected", storeId: t.store.storeId });
    expect((await app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    t.store.close();
    const closed = await app.inject({ method: "GET", url: "/readyz" });
    expect(closed.statusCode).toBe(503);
    expect(closed.json()).toEqual({ code: "NOT_READY", message: "the store is not open", details: [] });
  });

  it("exposes the zone's metrics", async () => {
    t.store.putSynced({
      type: "MeshService",
      mesh: "default",
      zone: "",
      name: "web",
      labels: {},
      spec: { ports: [{ port: 80, appProtocol: "tcp" }] },
      vips: [],
      contentHash: "a".repeat(64),
      revision: 1,
      creationTime: 0,
      modificationTime: 0,
    });
    t.store.setCursor({ epoch: EPOCH, revision: 7 });
    await app.inject({
      method: "PUT",
      url: "/meshes/default/meshservices/api",
      payload: { spec: { ports: [{ port: 80 }] } },
    });
    const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
    for (const line of [
      'mooring_zone_sync_sessions_total{mode="full"} 0',
      'mooring_zone_sync_sessions_total{mode="reconcile"} 0',
      "mooring_zone_sync_resources_received_total 0",
      'mooring_zone_sync_state{state="disconnected"} 1',
      'mooring_zone_sync_state{state="synced"} 0',
      "mooring_zone_upstream_pending 1",
      'mooring_zone_resources{type="MeshService"} 1',
      "mooring_zone_applied_revision 7",
      'mooring_http_requests_total{method="PUT",route="/meshes/:mesh/meshservices/:name",status="201"} 1',
    ]) {
      expect(text.split("\n")).toContain(line);
    }
    expect(text).toMatch(/^mooring_zone_process_cpu_user_seconds_total /m);
  });

  it("answers an unknown route with ROUTE_NOT_FOUND", async () => {
    const response = await app.inject({ method: "GET", url: "/zones" });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: "ROUTE_NOT_FOUND", message: "no route GET /zones" });
  });

  it("keeps answering /sync once the client has stopped", async () => {
    await client.close();
    expect((await app.inject({ method: "GET", url: "/sync" })).json().state).toBe("stopped");
  });
});
