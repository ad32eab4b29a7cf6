// The sync client against a real grpc-js server on 127.0.0.1:0 playing a scripted global. The real
// global is exercised end to end in test/; here each test drives the peer message by message.
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { SyncMode, SyncRequestSchema } from "@mooring/proto";
import type { ZoneName } from "@mooring/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createManager } from "../manager/manager.js";
import { createMetrics } from "../metrics.js";
import {
  changes,
  createTempStore,
  EPOCH,
  type FakeGlobal,
  type FakeStream,
  key,
  meshService,
  OTHER_EPOCH,
  silentLogger,
  startFakeGlobal,
  type TempStore,
} from "../test-support.js";
import type { SyncEvents } from "./events.js";
import { createSyncClient, type SyncClient, type SyncClientOptions } from "./sync-client.js";

const INSTANCE = "3f9d2c41-8b7a-4e6f-9c1d-0a1b2c3d4e5f";

type Recorded = { [K in keyof SyncEvents]: { name: K } & SyncEvents[K] }[keyof SyncEvents];

function record(client: SyncClient): Recorded[] {
  const events: Recorded[] = [];
  for (const name of ["connecting", "connected", "synced", "disconnected", "reconnecting", "stopped"] as const) {
    client.on(name, (event) => events.push({ name, ...event } as Recorded));
  }
  return events;
}

function waitFor<K extends keyof SyncEvents>(
  client: SyncClient,
  name: K,
  predicate: (event: SyncEvents[K]) => boolean = () => true,
  timeoutMs = 3000,
): Promise<SyncEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${name} event within ${timeoutMs}ms`));
    }, timeoutMs);
    const off = client.on(name, (event) => {
      if (!predicate(event)) return;
      off();
      clearTimeout(timer);
      resolve(event);
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("sync client", () => {
  let global: FakeGlobal;
  let t: TempStore;
  const clients: SyncClient[] = [];

  beforeEach(async () => {
    global = await startFakeGlobal();
    t = createTempStore("east");
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    global.close();
    t.cleanup();
  });

  function startClient(options: Partial<SyncClientOptions> = {}): { client: SyncClient; events: Recorded[] } {
    const client = createSyncClient({
      config: {
        global: global.address,
        reconnectMin: 20,
        reconnectMax: 80,
        syncMaxMessage: 4 * 1024 * 1024,
      },
      store: t.store,
      logger: silentLogger,
      metrics: createMetrics(t.store),
      instanceId: INSTANCE,
      version: "1.2.3",
      random: () => 0.5,
      closeGraceMs: 500,
      ...options,
    });
    clients.push(client);
    const events = record(client);
    client.start();
    return { client, events };
  }

  /** Connects as a first connect and completes a FULL sync of `web` (zone "") and `api` (zone west). */
  async function fullSync(client: SyncClient, stream: FakeStream): Promise<void> {
    await stream.take("hello");
    stream.welcome({ mode: SyncMode.FULL, headRevision: 5n });
    stream.changes(
      changes(0, 5, { upserts: [meshService("web", { vips: ["241.0.0.1"] }), meshService("api", { zone: "west" })] }),
    );
    expect(await stream.take("ack")).toMatchObject({ revision: 5n });
    expect(client.status().state).toBe("synced");
  }

  it("sends a first connect without a cursor, applies the FULL snapshot and acks it", async () => {
    const { client, events } = startClient();
    const stream = await global.nextStream();
    const hello = await stream.take("hello");
    expect(hello).toMatchObject({
      zone: "east",
      instanceId: INSTANCE,
      storeId: t.store.storeId,
      version: "1.2.3",
      reconcile: false,
    });
    expect(hello.cursor).toBeUndefined();

    stream.welcome({ mode: SyncMode.FULL, headRevision: 5n, generation: 4n, sessionId: "s-4" });
    const synced = waitFor(client, "synced");
    stream.changes(changes(0, 5, { upserts: [meshService("web"), meshService("api", { zone: "west" })], last: false }));
    stream.changes(changes(0, 5, { upserts: [meshService("db")], last: true }));
    expect(await stream.take("ack")).toMatchObject({ revision: 5n });
    expect(await synced).toEqual({ mode: "full", revision: 5, received: 3 });
    expect(t.store.cursor()).toEqual({ epoch: EPOCH, revision: 5 });
    expect(events.slice(0, 3)).toEqual([
      { name: "connecting", attempt: 1 },
      { name: "connected", sessionId: "s-4", mode: "full", generation: 4, globalEpoch: EPOCH },
      { name: "synced", mode: "full", revision: 5, received: 3 },
    ]);
    expect(client.status()).toMatchObject({
      state: "synced",
      mode: "full",
      globalEpoch: EPOCH,
      appliedRevision: 5,
      sessions: { full: 1, incremental: 0, reconcile: 0 },
      lastError: null,
      upstream: { pending: 0, acked: 0 },
      instanceId: INSTANCE,
      storeId: t.store.storeId,
    });
    expect(client.status().connectedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("says Goodbye (not final) and half-closes on close(), then stops without reconnecting", async () => {
    const { client, events } = startClient();
    const stream = await global.nextStream();
    await fullSync(client, stream);
    const closing = client.close();
    expect(await stream.take("goodbye")).toMatchObject({ reason: "zone shutting down", final: false });
    await stream.halfClosed;
    await closing;
    expect(events.at(-1)).toEqual({ name: "stopped", reason: "closed by the zone", final: false });
    expect(client.status().state).toBe("stopped");
    await sleep(100);
    expect(global.streams).toHaveLength(1);
  });

  it("sends the stored cursor after a restart and resumes INCREMENTAL", async () => {
    const first = startClient();
    await fullSync(first.client, await global.nextStream());
    await first.client.close();
    t.reopen();

    const { client } = startClient({ instanceId: "5a6b7c8d-1111-4222-8333-944455556666" });
    const stream = await global.nextStream();
    const hello = await stream.take("hello");
    expect(hello.cursor).toMatchObject({ globalEpoch: EPOCH, revision: 5n });
    expect(hello.reconcile).toBe(false);
    expect(hello.storeId).toBe(t.store.storeId);
    stream.welcome({ mode: SyncMode.INCREMENTAL, headRevision: 6n });
    stream.changes(changes(5, 6, { deletes: [key("web")] }));
    expect(await stream.take("ack")).toMatchObject({ revision: 6n });
    expect(t.store.syncedKeys().map((k) => k.name)).toEqual(["api"]);
    expect(client.status().sessions).toEqual({ full: 0, incremental: 1, reconcile: 0 });
  });

  it("asks for RECONCILE after OUT_OF_RANGE and sends its inventory", async () => {
    const { client, events } = startClient();
    const first = await global.nextStream();
    await fullSync(client, first);
    // The global restarts from an older backup of the same database.
    first.fail(grpc.status.UNAVAILABLE, "global shutting down");

    const refused = await global.nextStream();
    expect((await refused.take("hello")).reconcile).toBe(false);
    refused.fail(grpc.status.OUT_OF_RANGE, "cursor revision 5 is ahead of head 3");
    await waitFor(client, "disconnected", (event) => event.code === "OUT_OF_RANGE");

    const stream = await global.nextStream();
    const hello = await stream.take("hello");
    expect(hello.reconcile).toBe(true);
    expect(hello.cursor).toMatchObject({ globalEpoch: EPOCH, revision: 5n });
    stream.welcome({ mode: SyncMode.RECONCILE, headRevision: 3n, globalEpoch: EPOCH, sessionId: "s-3" });
    const inventory = await stream.take("inventory");
    expect(inventory.last).toBe(true);
    expect(
      inventory.entries.map((entry) => [entry.key?.zone, entry.key?.name, entry.vips.map((v) => v.ip), entry.revision]),
    ).toEqual([
      ["", "web", ["241.0.0.1"], 1n],
      ["west", "api", [], 1n],
    ]);
    expect(inventory.entries[0]?.contentHash).toBe(meshService("web").contentHash);

    stream.changes(changes(0, 3, { upserts: [meshService("api", { zone: "west", port: 81 })], deletes: [key("web")] }));
    expect(await stream.take("ack")).toMatchObject({ revision: 3n });
    expect(t.store.cursor()).toEqual({ epoch: EPOCH, revision: 3 });
    expect(t.store.syncedKeys().map((k) => k.name)).toEqual(["api"]);
    expect(events.filter((e) => e.name === "disconnected")).toEqual([
      { name: "disconnected", code: "UNAVAILABLE", reason: "global shutting down" },
      { name: "disconnected", code: "OUT_OF_RANGE", reason: "cursor revision 5 is ahead of head 3" },
    ]);

    // Synced again: the next Hello no longer asks to reconcile.
    stream.fail(grpc.status.UNAVAILABLE, "again");
    const next = await global.nextStream();
    expect((await next.take("hello")).reconcile).toBe(false);
  });

  it("splits a large inventory into messages under the size limit", async () => {
    const limit = 64 * 1024;
    t.store.transaction(() => {
      for (let i = 0; i < 1500; i += 1) {
        const name = `service-${String(i).padStart(4, "0")}`;
        t.store.putSynced({
          type: "MeshService",
          mesh: "default",
          zone: "",
          name,
          labels: {},
          spec: { ports: [{ port: 80, appProtocol: "http" }] },
          vips: [`241.0.${Math.floor(i / 250)}.${(i % 250) + 1}`],
          contentHash: "a".repeat(64),
          revision: i + 1,
          creationTime: 0,
          modificationTime: 0,
        });
      }
      t.store.setCursor({ epoch: OTHER_EPOCH, revision: 1500 });
    });
    startClient({
      config: { global: global.address, reconnectMin: 20, reconnectMax: 80, syncMaxMessage: limit },
    });
    const stream = await global.nextStream();
    await stream.take("hello");
    stream.welcome({ mode: SyncMode.RECONCILE, headRevision: 10n });
    const chunks = [];
    for (;;) {
      const inventory = await stream.take("inventory");
      chunks.push(inventory);
      if (inventory.last) break;
    }
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    expect(chunks.map((chunk) => chunk.last)).toEqual([...chunks.slice(1).map(() => false), true]);
    expect(chunks.flatMap((chunk) => chunk.entries.map((entry) => entry.key?.name))).toEqual(
      Array.from({ length: 1500 }, (_, i) => `service-${String(i).padStart(4, "0")}`),
    );
    for (const chunk of chunks) {
      const size = toBinary(
        SyncRequestSchema,
        create(SyncRequestSchema, { message: { case: "inventory", value: chunk } }),
      ).length;
      expect(size).toBeLessThanOrEqual(limit);
      // Full messages: a chunk is cut only when the next entry would not fit.
      if (!chunk.last) expect(size).toBeGreaterThan(limit - 200);
    }
  });

  it("sends the outbox from the Welcome's watermark, one UpstreamChanges at a time, and records rejections", async () => {
    const manager = createManager(t.store, { zone: "east" as ZoneName, maxMessageBytes: 4 * 1024 * 1024 });
    const spec = { ports: [{ port: 80 }] };
    manager.putMeshService("default", "a", { spec }); // zone revision 1
    manager.putMeshService("default", "b", { spec }); // 2
    manager.putMeshService("default", "c", { spec }); // 3
    manager.deleteMeshService("default", "a"); // 4: a tombstone

    const { client } = startClient();
    const stream = await global.nextStream();
    await stream.take("hello");
    stream.welcome({ mode: SyncMode.FULL, upstreamWatermark: 1n });
    const first = await stream.take("upstream");
    expect(first.zoneRevision).toBe(4n);
    expect(first.upserts.map((s) => [s.key?.zone, s.key?.name, s.vips.length, s.revision])).toEqual([
      ["east", "b", 0, 0n],
      ["east", "c", 0, 0n],
    ]);
    expect(first.deletes.map((k) => [k.zone, k.name])).toEqual([["east", "a"]]);
    stream.changes(changes(0, 1, {}));
    await stream.take("ack");

    // Local writes while one message is in flight wait for its ack.
    const nudged = createManager(t.store, {
      zone: "east" as ZoneName,
      maxMessageBytes: 4 * 1024 * 1024,
      onLocalWrite: () => client.nudge(),
    });
    nudged.putMeshService("default", "d", { spec }); // 5
    await sleep(100);
    expect(stream.all("upstream")).toHaveLength(1);
    expect(client.status().upstream).toEqual({ pending: 4, acked: 1 });

    stream.send({
      case: "upstreamAck",
      value: {
        zoneRevision: 4n,
        rejected: [{ key: key("c", { zone: "east" }), code: "VALIDATION_FAILED", message: "no" }],
      },
    });
    const second = await stream.take("upstream");
    expect(second.zoneRevision).toBe(5n);
    expect(second.upserts.map((s) => s.key?.name)).toEqual(["d"]);
    expect(t.store.upstreamAcked()).toBe(4);
    expect(t.store.getOwned("default", "a")).toBeUndefined();
    expect(t.store.getOwned("default", "c")?.rejection).toBe("VALIDATION_FAILED: no");
    expect(t.store.getOwned("default", "b")?.rejection).toBeNull();

    stream.send({ case: "upstreamAck", value: { zoneRevision: 5n } });
    await sleep(50);
    expect(client.status().upstream).toEqual({ pending: 0, acked: 5 });
    nudged.putMeshService("default", "e", { spec });
    expect((await stream.take("upstream")).zoneRevision).toBe(6n);
  });

  it("sends its outbox before the inventory in RECONCILE, so the global applies it before diffing", async () => {
    const manager = createManager(t.store, { zone: "east" as ZoneName, maxMessageBytes: 4 * 1024 * 1024 });
    manager.putMeshService("default", "own", { spec: { ports: [{ port: 80 }] } });
    t.store.setCursor({ epoch: OTHER_EPOCH, revision: 4 });
    startClient();
    const stream = await global.nextStream();
    await stream.take("hello");
    stream.welcome({ mode: SyncMode.RECONCILE });
    await stream.take("inventory");
    expect(stream.received.map((m) => m.message.case)).toEqual(["hello", "upstream", "inventory"]);
  });

  it("cuts a large outbox into UpstreamChanges of at most 500 resources", async () => {
    const manager = createManager(t.store, { zone: "east" as ZoneName, maxMessageBytes: 4 * 1024 * 1024 });
    for (let i = 0; i < 1100; i += 1) manager.putMeshService("default", `s${i}`, { spec: { ports: [{ port: 80 }] } });
    startClient();
    const stream = await global.nextStream();
    await stream.take("hello");
    stream.welcome();
    const sizes: Array<[number, bigint]> = [];
    for (const zoneRevision of [500n, 1000n, 1100n]) {
      const message = await stream.take("upstream");
      sizes.push([message.upserts.length, message.zoneRevision]);
      stream.send({ case: "upstreamAck", value: { zoneRevision } });
    }
    expect(sizes).toEqual([
      [500, 500n],
      [500, 1000n],
      [100, 1100n],
    ]);
  });

  it("resends everything when the watermark is ahead of this store (a restored zone database)", async () => {
    const manager = createManager(t.store, { zone: "east" as ZoneName, maxMessageBytes: 4 * 1024 * 1024 });
    manager.putMeshService("default", "a", { spec: { ports: [{ port: 80 }] } });
    manager.putMeshService("default", "b", { spec: { ports: [{ port: 80 }] } });
    startClient();
    const stream = await global.nextStream();
    await stream.take("hello");
    stream.welcome({ upstreamWatermark: 7n });
    const message = await stream.take("upstream");
    expect(message.zoneRevision).toBe(9n);
    expect(message.upserts.map((s) => s.key?.name)).toEqual(["a", "b"]);
    expect(t.store.zoneRevision()).toBe(9);
  });

  it("acks a batch with refused resources with a Nack, and still advances the cursor", async () => {
    startClient();
    const stream = await global.nextStream();
    await stream.take("hello");
    stream.welcome();
    stream.changes(changes(0, 2, { upserts: [meshService("ok"), meshService("Not_OK")] }));
    const nack = await stream.take("nack");
    expect(nack.revision).toBe(2n);
    expect(nack.errors.map((e) => [e.key?.name, e.code])).toEqual([["Not_OK", "VALIDATION_FAILED"]]);
    expect(stream.all("ack")).toEqual([]);
    expect(t.store.cursor()).toEqual({ epoch: EPOCH, revision: 2 });
  });

  it("stops for good on a final Goodbye and does not reconnect", async () => {
    const { client, events } = startClient();
    const stream = await global.nextStream();
    await fullSync(client, stream);
    const stopped = waitFor(client, "stopped");
    stream.send({ case: "goodbye", value: { reason: "superseded by instance 7e57", final: true } });
    stream.fail(grpc.status.ABORTED, "superseded");
    expect(await stopped).toEqual({ reason: "superseded by instance 7e57", final: true });
    expect(events.slice(-2)).toEqual([
      { name: "disconnected", code: "ABORTED", reason: "superseded" },
      { name: "stopped", reason: "superseded by instance 7e57", final: true },
    ]);
    await sleep(150);
    expect(global.streams).toHaveLength(1);
    expect(client.status().state).toBe("stopped");
  });

  it("reconnects after a non-final Goodbye", async () => {
    const { client } = startClient();
    const stream = await global.nextStream();
    await fullSync(client, stream);
    stream.send({ case: "goodbye", value: { reason: "global shutting down", final: false } });
    stream.fail(grpc.status.UNAVAILABLE, "global shutting down");
    const next = await global.nextStream();
    expect((await next.take("hello")).cursor?.revision).toBe(5n);
  });

  it("sends heartbeats and takes 3 silent intervals as a dead stream", async () => {
    const { client, events } = startClient();
    const stream = await global.nextStream();
    await stream.take("hello");
    stream.welcome({ heartbeatIntervalMs: 40 });
    stream.changes(changes(0, 1, {}));
    await stream.take("ack");
    await stream.take("heartbeat", 500);
    const disconnected = await waitFor(client, "disconnected", () => true, 2000);
    expect(disconnected.code).toBe("UNAVAILABLE");
    expect(disconnected.reason).toMatch(/^no message from the global for (1[2-9]\d|[2-9]\d\d)ms \(heartbeat 40ms\)$/);
    await stream.cancelled;
    const next = await global.nextStream();
    expect((await next.take("hello")).cursor?.revision).toBe(1n);
    expect(events.filter((e) => e.name === "reconnecting")).toEqual([
      { name: "reconnecting", delayMs: 15, attempt: 1 },
    ]);
  });

  it("keeps a stream alive while the global's heartbeats arrive", async () => {
    const { client } = startClient();
    const stream = await global.nextStream();
    await stream.take("hello");
    stream.welcome({ heartbeatIntervalMs: 60 });
    const beat = setInterval(() => stream.send({ case: "heartbeat", value: { sentAtUnixMs: 1n } }), 15);
    await sleep(500);
    clearInterval(beat);
    expect(global.streams).toHaveLength(1);
    expect(client.status().state).toBe("syncing");
  });

  it("drops a live batch that does not start at its cursor and resumes from the cursor", async () => {
    const { client } = startClient();
    const stream = await global.nextStream();
    await fullSync(client, stream);
    const disconnected = waitFor(client, "disconnected");
    stream.changes(changes(6, 7, { upserts: [meshService("late")] }));
    expect(await disconnected).toEqual({
      code: "INTERNAL",
      reason: "protocol error: a live batch starts at revision 6, but the zone's cursor is at 5",
    });
    expect(t.store.getSynced({ type: "MeshService", mesh: "default", zone: "", name: "late" })).toBeUndefined();
    const next = await global.nextStream();
    expect((await next.take("hello")).cursor?.revision).toBe(5n);
  });

  it("drops a stream whose first message is not a Welcome", async () => {
    const { client } = startClient();
    const stream = await global.nextStream();
    await stream.take("hello");
    const disconnected = waitFor(client, "disconnected");
    stream.changes(changes(0, 1, {}));
    expect(await disconnected).toEqual({
      code: "INTERNAL",
      reason: "protocol error: the first message was changes, not Welcome",
    });
  });

  it("refuses INCREMENTAL for a cursor of another epoch", async () => {
    t.store.setCursor({ epoch: OTHER_EPOCH, revision: 3 });
    const { client } = startClient();
    const stream = await global.nextStream();
    await stream.take("hello");
    const disconnected = waitFor(client, "disconnected");
    stream.welcome({ mode: SyncMode.INCREMENTAL });
    expect((await disconnected).reason).toBe(
      `protocol error: INCREMENTAL offered for a cursor of epoch ${OTHER_EPOCH}`,
    );
    expect(t.store.cursor()).toEqual({ epoch: OTHER_EPOCH, revision: 3 });
  });

  it("grows the backoff while attempts fail and starts again from the minimum after a synced session", async () => {
    const { client, events } = startClient();
    for (let i = 0; i < 4; i += 1) {
      const stream = await global.nextStream();
      await stream.take("hello");
      stream.fail(grpc.status.UNAVAILABLE, "global starting");
    }
    const stream = await global.nextStream();
    await fullSync(client, stream);
    stream.fail(grpc.status.UNAVAILABLE, "global restarting");
    await (await global.nextStream()).take("hello");

    const trail = events
      .filter((e) => e.name === "connecting" || e.name === "reconnecting")
      .map((e) =>
        e.name === "connecting" ? `connecting ${e.attempt}` : `reconnecting ${e.attempt} after ${e.delayMs}`,
      );
    // reconnectMin 20, reconnectMax 80, random 0.5: each delay is 3/4 of min(80, 20 * 2^n).
    expect(trail).toEqual([
      "connecting 1",
      "reconnecting 2 after 15",
      "connecting 2",
      "reconnecting 3 after 30",
      "connecting 3",
      "reconnecting 4 after 60",
      "connecting 4",
      "reconnecting 5 after 60",
      "connecting 5",
      "reconnecting 1 after 15",
      "connecting 1",
    ]);
    expect(client.status().lastError).toBe("UNAVAILABLE: global restarting");
  });

  it("retries with backoff while no global listens", async () => {
    const port = global.address.port;
    global.close();
    const { client } = startClient({
      config: { global: { host: "127.0.0.1", port }, reconnectMin: 20, reconnectMax: 80, syncMaxMessage: 4194304 },
    });
    const first = await waitFor(client, "disconnected");
    expect(first.code).toBe("UNAVAILABLE");
    expect((await waitFor(client, "reconnecting", (e) => e.attempt === 3)).delayMs).toBe(30);
    expect(client.status()).toMatchObject({ state: "disconnected", mode: null, connectedAt: null });
  });
});
