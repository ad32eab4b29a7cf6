// The global's side of the sync protocol, driven message by message by a scripted zone over a real
// gRPC stream to a real global (SQLite in a temp dir).
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { type Changes, SyncMode, SyncResponseSchema } from "@mooring/proto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { getJson, putService, ScriptedZone, seedServices, startTestGlobal, type TestGlobal } from "./sync-harness.js";

let global: TestGlobal;
const zones: ScriptedZone[] = [];
/** Data dirs a test made itself (to seed them) and handed to a global, which leaves them alone. */
const dirs: string[] = [];

function zone(options?: grpc.ClientOptions): ScriptedZone {
  const z = new ScriptedZone(global.running.grpcAddress, options);
  zones.push(z);
  return z;
}

function welcome(z: ScriptedZone) {
  const first = z.received[0];
  if (first?.message.case !== "welcome") throw new Error(`expected Welcome, got ${first?.message.case}`);
  return first.message.value;
}

const names = (changes: Changes[]) => changes.flatMap((c) => c.upserts.map((u) => u.key?.name ?? "")).sort();

beforeEach(async () => {
  global = await startTestGlobal({ MOORING_SYNC_HEARTBEAT: "200ms" });
});

afterEach(async () => {
  for (const z of zones.splice(0)) z.cancel();
  try {
    await global.close();
  } finally {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
});

describe("session start", () => {
  it("sends a first connect (no cursor) a FULL snapshot with VIPs, then live changes", async () => {
    for (const name of ["a", "b", "c"]) await putService(global.http, "default", name);
    const z = zone();
    z.hello({ zone: "zone-1" });
    const [snapshot] = await z.syncedBatches(1);
    const w = welcome(z);
    expect(w.mode).toBe(SyncMode.FULL);
    expect(w.headRevision).toBe(3n);
    expect(names([snapshot as Changes])).toEqual(["a", "b", "c"]);
    expect(snapshot?.toRevision).toBe(3n);
    expect(snapshot?.upserts.map((u) => u.vips[0]?.ip)).toEqual(["241.0.0.1", "241.0.0.2", "241.0.0.3"]);

    await putService(global.http, "default", "d");
    const all = await z.syncedBatches(2);
    const live = all.at(-1) as Changes;
    expect([live.fromRevision, live.toRevision, live.last]).toEqual([3n, 4n, true]);
    expect(names([live])).toEqual(["d"]);
  });

  it("chunks a snapshot so that no message exceeds MOORING_SYNC_MAX_MESSAGE; only the last one is marked last", async () => {
    await global.close();
    global = await startTestGlobal({ MOORING_HTTP_BODY_LIMIT: "1KiB", MOORING_SYNC_MAX_MESSAGE: "20KiB" });
    for (let i = 0; i < 60; i++) {
      await Promise.all(Array.from({ length: 5 }, (_, j) => putService(global.http, "default", `svc-${i * 5 + j}`)));
    }
    // The zone's own receive limit is the same: a bigger message would fail the stream.
    const z = zone({ "grpc.max_receive_message_length": 20 * 1024 });
    z.hello({ zone: "zone-1" });
    const frames = await z.syncedBatches(1);
    const sizes = frames.map(
      (c) =>
        toBinary(SyncResponseSchema, create(SyncResponseSchema, { message: { case: "changes", value: c } })).byteLength,
    );
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(20 * 1024);
    expect(frames.map((c) => c.last)).toEqual([...Array(frames.length - 1).fill(false), true]);
    expect(frames.every((c) => c.toRevision === 300n)).toBe(true);
    expect(frames.reduce((n, c) => n + c.upserts.length, 0)).toBe(300);
  });

  it("waits for a zone that does not read (write-buffer backpressure) instead of buffering the snapshot", async () => {
    await global.close();
    const dir = mkdtempSync(join(tmpdir(), "mooring-sync-"));
    dirs.push(dir);
    seedServices(dir, 30_000);
    // Small messages: grpc-js counts its write buffer in messages, so this makes the bound visible.
    global = await startTestGlobal({ MOORING_HTTP_BODY_LIMIT: "1KiB", MOORING_SYNC_MAX_MESSAGE: "20KiB" }, dir);
    const sent = async () =>
      Number(
        /^mooring_global_sync_bytes_sent_total (\d+)$/m.exec(await (await fetch(`${global.http}/metrics`)).text())?.[1],
      );
    const z = zone();
    z.pause();
    z.hello({ zone: "zone-1" });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const whilePaused = await sent();
    z.resume();
    const frames = await z.syncedBatches(1, 30_000);
    const total = await sent();
    expect(frames.reduce((n, c) => n + c.upserts.length, 0)).toBe(30_000);
    // Paused, the global handed over only what the stream's buffers hold: well under the snapshot.
    expect(whilePaused).toBeLessThan(total / 2);
  }, 60_000);

  it("resumes a cursor in the same epoch incrementally: only keys changed after it, deletes as tombstones", async () => {
    for (const name of ["a", "b", "c"]) await putService(global.http, "default", name);
    const epoch = welcomeEpoch(await readyz());
    await putService(global.http, "default", "a", 81);
    await fetch(`${global.http}/meshes/default/meshservices/b`, { method: "DELETE" });
    await putService(global.http, "default", "a", 82);
    const z = zone();
    z.hello({ zone: "zone-1", cursor: { globalEpoch: epoch, revision: 3n } });
    const [batch] = await z.syncedBatches(1);
    expect(welcome(z).mode).toBe(SyncMode.INCREMENTAL);
    expect(names([batch as Changes])).toEqual(["a"]);
    expect(batch?.upserts[0]?.spec?.ports[0]?.port).toBe(82);
    expect(batch?.deletes.map((d) => d.name)).toEqual(["b"]);
    expect([batch?.fromRevision, batch?.toRevision]).toEqual([3n, 6n]);
  });

  it("answers a cursor already at the head with one empty batch", async () => {
    await putService(global.http, "default", "a");
    const z = zone();
    z.hello({ zone: "zone-1", cursor: { globalEpoch: welcomeEpoch(await readyz()), revision: 1n } });
    const [batch] = await z.syncedBatches(1);
    expect(welcome(z).mode).toBe(SyncMode.INCREMENTAL);
    expect([batch?.upserts.length, batch?.deletes.length, batch?.last]).toEqual([0, 0, true]);
  });

  it("reconciles a cursor from another epoch: only differing resources move, unknown keys are deleted", async () => {
    const a = await putService(global.http, "default", "a");
    const b = await putService(global.http, "default", "b");
    const vipOf = (s: Record<string, unknown>) =>
      (s.status as { vips: Array<{ ip: string }> }).vips.map((v) => ({ ip: v.ip }));
    const z = zone();
    z.hello({ zone: "zone-1", cursor: { globalEpoch: randomUUID(), revision: 40n } });
    await z.until((r) => r.length >= 1);
    expect(welcome(z).mode).toBe(SyncMode.RECONCILE);
    z.send({
      case: "inventory",
      value: {
        last: true,
        entries: [
          {
            key: { type: "MeshService", mesh: "default", name: "a" },
            contentHash: a.contentHash as string,
            vips: vipOf(a),
          },
          { key: { type: "MeshService", mesh: "default", name: "b" }, contentHash: "stale", vips: vipOf(b) },
          { key: { type: "MeshService", mesh: "default", name: "gone" }, contentHash: "x", vips: [] },
        ],
      },
    });
    const [batch] = await z.syncedBatches(1);
    expect(names([batch as Changes])).toEqual(["b"]);
    expect(batch?.deletes.map((d) => d.name)).toEqual(["gone"]);
  });

  it("re-adopts the VIPs a zone holds when the database was replaced, so re-created services keep them", async () => {
    const z = zone();
    z.hello({ zone: "zone-1", cursor: { globalEpoch: randomUUID(), revision: 7n } });
    await z.until((r) => r.length >= 1);
    z.send({
      case: "inventory",
      value: {
        last: true,
        entries: [
          {
            key: { type: "MeshService", mesh: "default", name: "a" },
            contentHash: "h",
            vips: [{ ip: "241.0.0.9" }],
            revision: 5n,
          },
          // Claims the same address for another identity with an older revision: refused, audited.
          {
            key: { type: "MeshService", mesh: "default", name: "b" },
            contentHash: "h",
            vips: [{ ip: "241.0.0.9" }],
            revision: 2n,
          },
        ],
      },
    });
    await z.syncedBatches(1);
    const created = await putService(global.http, "default", "a");
    expect(created.status).toEqual({ vips: [{ ip: "241.0.0.9" }] });
    const lease = await getJson(`${global.http}/vips/241.0.0.9`);
    const events = (lease.body.events as Array<{ event: string; name: string }>).map((e) => `${e.event}:${e.name}`);
    expect(events).toContain("adopt:a");
    expect(events).toContain("adopt-conflict:b");
    const other = await putService(global.http, "default", "b");
    expect(other.status).not.toEqual({ vips: [{ ip: "241.0.0.9" }] });
  });
});

describe("live fan-out", () => {
  it("encodes a new change once and writes the same batch to every zone at that cursor", async () => {
    const connected = ["zone-1", "zone-2", "zone-3"].map((name) => {
      const z = zone();
      z.hello({ zone: name });
      return z;
    });
    for (const z of connected) await z.syncedBatches(1);
    const metrics = async () => (await fetch(`${global.http}/metrics`)).text();
    const encoded = async () => Number(/^mooring_global_sync_batches_encoded_total (\d+)$/m.exec(await metrics())?.[1]);
    const before = await encoded();
    await putService(global.http, "default", "shared");
    for (const z of connected) expect(names((await z.syncedBatches(2)).slice(1))).toEqual(["shared"]);
    expect((await encoded()) - before).toBe(1);
  });
});

describe("streams that are refused", () => {
  const cases: Array<[string, (z: ScriptedZone) => void, grpc.status, RegExp]> = [
    [
      "a first message that is not Hello",
      (z) => z.send({ case: "ack", value: { revision: 1n } }),
      grpc.status.INVALID_ARGUMENT,
      /first message .* must be Hello, not ack/,
    ],
    [
      "a malformed zone name",
      (z) => z.hello({ zone: "Zone_1" }),
      grpc.status.INVALID_ARGUMENT,
      /hello\.zone: "Zone_1"/,
    ],
    [
      "an instance id that is not a UUID",
      (z) => z.hello({ zone: "zone-1", instanceId: "me" }),
      grpc.status.INVALID_ARGUMENT,
      /hello\.instance_id: must be a UUID/,
    ],
    [
      "an unknown (malformed) epoch",
      (z) => z.hello({ zone: "zone-1", cursor: { globalEpoch: "epoch-9", revision: 1n } }),
      grpc.status.INVALID_ARGUMENT,
      /hello\.cursor\.global_epoch: "epoch-9" is not an epoch/,
    ],
  ];
  for (const [what, send, code, details] of cases) {
    it(`ends the stream on ${what} with ${grpc.status[code]}`, async () => {
      const z = zone();
      send(z);
      const status = await z.status;
      expect(status).not.toBe("ended");
      expect((status as grpc.ServiceError).code).toBe(code);
      expect((status as grpc.ServiceError).details).toMatch(details);
    });
  }

  it("refuses a cursor from the future with OUT_OF_RANGE", async () => {
    const z = zone();
    z.hello({ zone: "zone-1", cursor: { globalEpoch: welcomeEpoch(await readyz()), revision: 99n } });
    const status = (await z.status) as grpc.ServiceError;
    expect(status.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(status.details).toMatch(/cursor revision 99 is ahead of head revision 0/);
  });

  it("ends an oversized frame with RESOURCE_EXHAUSTED and an undecodable one with an error, and keeps serving others", async () => {
    const healthy = zone();
    healthy.hello({ zone: "zone-ok" });
    await healthy.syncedBatches(1);
    const big = zone();
    big.hello({ zone: "zone-1", storeId: randomUUID(), instanceId: randomUUID() });
    await big.syncedBatches(1);
    big.send({ case: "upstream", value: { zoneRevision: 1n, deletes: [{ name: "x".repeat(5 * 1024 * 1024) }] } });
    expect(((await big.status) as grpc.ServiceError).code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    await putService(global.http, "default", "after");
    await healthy.syncedBatches(2);
    expect(names(healthy.changes())).toEqual(["after"]);
  });

  it("ends a stream whose frame does not decode as a SyncRequest, and keeps serving others", async () => {
    const healthy = zone();
    healthy.hello({ zone: "zone-ok" });
    await healthy.syncedBatches(1);
    const Raw = grpc.makeGenericClientConstructor(
      {
        sync: {
          path: "/mooring.v1.ZoneSyncService/Sync",
          requestStream: true,
          responseStream: true,
          requestSerialize: (bytes: Buffer) => bytes,
          requestDeserialize: (bytes: Buffer) => bytes,
          responseSerialize: (bytes: Buffer) => bytes,
          responseDeserialize: (bytes: Buffer) => bytes,
        },
      },
      "mooring.v1.ZoneSyncService",
    );
    const raw = new Raw(global.running.grpcAddress, grpc.credentials.createInsecure()) as unknown as {
      sync(): grpc.ClientDuplexStream<Buffer, Buffer>;
      close(): void;
    };
    const stream = raw.sync();
    const status = new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
    stream.on("data", () => {});
    // Field 1 (hello) as a length-delimited field claiming 100 bytes that never come: truncated.
    stream.write(Buffer.from([0x0a, 0x64, 0x01, 0x02]));
    const error = await status;
    raw.close();
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/does not decode/);

    await putService(global.http, "default", "after-garbage");
    await healthy.syncedBatches(2);
    expect(names(healthy.changes())).toEqual(["after-garbage"]);
  });

  it("ends a stream that acks a revision it was never sent", async () => {
    const z = zone();
    z.hello({ zone: "zone-1" });
    await z.syncedBatches(1);
    z.send({ case: "ack", value: { revision: 5n } });
    const status = (await z.status) as grpc.ServiceError;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toBe("ack.revision 5 is beyond the last revision sent (0)");
  });
});

describe("fencing, heartbeats, zone records", () => {
  it("supersedes a session when another instance claims the zone: final Goodbye, ABORTED", async () => {
    const first = zone();
    first.hello({ zone: "zone-1" });
    await first.syncedBatches(1);
    const second = zone();
    second.hello({ zone: "zone-1" });
    await second.syncedBatches(1);
    const status = (await first.status) as grpc.ServiceError;
    expect(status.code).toBe(grpc.status.ABORTED);
    const goodbye = first.received.find((m) => m.message.case === "goodbye");
    expect(goodbye?.message.value).toMatchObject({ final: true });
    expect(status.details).toMatch(/superseded by instance .* \(generation 2\)/);
    expect(welcome(second).generation).toBe(2n);
  });

  it("marks a silent zone offline after 3 heartbeats without touching its services, and online when it returns", async () => {
    const z = zone();
    const instanceId = randomUUID();
    const storeId = randomUUID();
    z.hello({ zone: "zone-1", instanceId, storeId });
    await z.syncedBatches(1);
    z.upstream("zone-1", 1n, ["own"]);
    await z.syncedBatches(2);
    expect((await getJson(`${global.http}/zones/zone-1`)).body.online).toBe(true);
    // Say nothing: the global stops hearing from the zone.
    const status = (await z.status) as grpc.ServiceError;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    const offline = await getJson(`${global.http}/zones/zone-1`);
    expect(offline.body).toMatchObject({ online: false, upstreamWatermark: 1 });
    const own = await getJson(`${global.http}/meshes/default/zones/zone-1/meshservices/own`);
    expect(own.body.status).toEqual({ vips: [{ ip: "241.0.0.1" }] });

    const back = zone();
    back.hello({ zone: "zone-1", instanceId, storeId, cursor: { globalEpoch: welcome(z).globalEpoch, revision: 1n } });
    await back.syncedBatches(1);
    expect(welcome(back)).toMatchObject({ mode: SyncMode.INCREMENTAL, upstreamWatermark: 1n });
    expect((await getJson(`${global.http}/zones/zone-1`)).body).toMatchObject({
      online: true,
      sessions: { full: 1, incremental: 1, reconcile: 0 },
    });
  });

  it("applies upstream per resource: another zone's service is rejected, the rest applies", async () => {
    const z = zone();
    z.hello({ zone: "zone-1" });
    await z.syncedBatches(1);
    z.send({
      case: "upstream",
      value: {
        zoneRevision: 3n,
        upserts: [
          {
            key: { type: "MeshService", mesh: "default", zone: "zone-1", name: "mine" },
            spec: { ports: [{ port: 80 }] },
          },
          {
            key: { type: "MeshService", mesh: "default", zone: "zone-2", name: "theirs" },
            spec: { ports: [{ port: 80 }] },
          },
          {
            key: { type: "MeshService", mesh: "default", zone: "zone-1", name: "bad" },
            spec: { ports: [{ port: 70000 }] },
          },
        ],
      },
    });
    await z.until((r) => r.some((m) => m.message.case === "upstreamAck"));
    const ack = z.received.find((m) => m.message.case === "upstreamAck")?.message.value as {
      zoneRevision: bigint;
      rejected: Array<{ key?: { name: string }; code: string }>;
    };
    expect(ack.zoneRevision).toBe(3n);
    expect(ack.rejected.map((r) => `${r.key?.name}:${r.code}`)).toEqual(["theirs:ZONE_OWNED", "bad:VALIDATION_FAILED"]);
    await z.syncedBatches(2);
    expect(names(z.changes())).toEqual(["mine"]);
    const refused = await fetch(`${global.http}/meshes/default/zones/zone-1/meshservices/mine`, { method: "DELETE" });
    expect(refused.status).toBe(405);
    expect(((await refused.json()) as { code: string }).code).toBe("ZONE_OWNED");
  });

  it("decommissions a zone: its session ends for good, its services go, their VIPs enter quarantine", async () => {
    const z = zone();
    z.hello({ zone: "zone-1" });
    await z.syncedBatches(1);
    z.upstream("zone-1", 1n, ["own"]);
    await z.syncedBatches(2);
    const response = await fetch(`${global.http}/zones/zone-1`, { method: "DELETE" });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { removedServices: number }).removedServices).toBe(1);
    expect(((await z.status) as grpc.ServiceError).code).toBe(grpc.status.ABORTED);
    expect((await getJson(`${global.http}/vips/241.0.0.1`)).body.state).toBe("quarantined");
    expect((await getJson(`${global.http}/zones/zone-1`)).status).toBe(404);
  });
});

describe("zone records over REST", () => {
  it("lists zones with paging, answers 404 for an unknown zone and 400 for a bad name or page", async () => {
    for (const name of ["zone-a", "zone-b", "zone-c"]) {
      const z = zone();
      z.hello({ zone: name });
      await z.syncedBatches(1);
    }
    const page = await getJson(`${global.http}/zones?size=2`);
    expect(page.body).toMatchObject({ total: 3, next: "/zones?size=2&offset=2" });
    expect((page.body.items as Array<{ name: string }>).map((z) => z.name)).toEqual(["zone-a", "zone-b"]);
    expect((await getJson(`${global.http}/zones/zone-z`)).body).toMatchObject({ code: "NOT_FOUND" });
    const bad = await getJson(`${global.http}/zones/Zone_A`);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: "VALIDATION_FAILED", details: [{ field: "name" }] });
    expect((await getJson(`${global.http}/zones?size=0`)).body).toMatchObject({ details: [{ field: "size" }] });
  });
});

describe("compaction", () => {
  it("sends a zone behind the horizon to RECONCILE and a zone within it to INCREMENTAL", async () => {
    await global.close();
    global = await startTestGlobal({ MOORING_CHANGELOG_MAX_ENTRIES: "5" });
    for (let i = 0; i < 12; i++) await putService(global.http, "default", `s${i}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const epoch = welcomeEpoch(await readyz());
    const behind = zone();
    behind.hello({ zone: "zone-1", cursor: { globalEpoch: epoch, revision: 2n } });
    await behind.until((r) => r.length >= 1);
    expect(welcome(behind).mode).toBe(SyncMode.RECONCILE);
    const within = zone();
    within.hello({ zone: "zone-2", cursor: { globalEpoch: epoch, revision: 8n } });
    const [batch] = await within.syncedBatches(1);
    expect(welcome(within).mode).toBe(SyncMode.INCREMENTAL);
    expect(names([batch as Changes])).toEqual(["s10", "s11", "s8", "s9"]);
  });

  it("sends a zone behind the horizon a resource changed and changed back, so it takes the global's revision", async () => {
    await global.close();
    global = await startTestGlobal({ MOORING_CHANGELOG_MAX_ENTRIES: "5" });
    const first = await putService(global.http, "default", "back");
    await putService(global.http, "default", "back", 81);
    const again = await putService(global.http, "default", "back");
    const kept = await putService(global.http, "default", "kept");
    for (let i = 0; i < 8; i++) await putService(global.http, "default", `s${i}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(again.contentHash).toBe(first.contentHash);
    const revisionOf = (s: Record<string, unknown>) => BigInt(s.revision as number);
    const vipOf = (s: Record<string, unknown>) =>
      (s.status as { vips: Array<{ ip: string }> }).vips.map((v) => ({ ip: v.ip }));
    const entry = (s: Record<string, unknown>, name: string, revision: bigint) => ({
      key: { type: "MeshService", mesh: "default", name },
      contentHash: s.contentHash as string,
      vips: vipOf(s),
      revision,
    });
    const epoch = welcomeEpoch(await readyz());

    // The zone's copy of "back" is from before the change and the change back; "kept" is current.
    const z = zone();
    z.hello({ zone: "zone-1", cursor: { globalEpoch: epoch, revision: 1n } });
    await z.until((r) => r.length >= 1);
    expect(welcome(z).mode).toBe(SyncMode.RECONCILE);
    const inventory = [entry(first, "back", revisionOf(first)), entry(kept, "kept", revisionOf(kept))];
    z.send({ case: "inventory", value: { last: true, entries: inventory } });
    const [batch] = await z.syncedBatches(1);
    expect(names([batch as Changes]).filter((name) => !name.startsWith("s"))).toEqual(["back"]);
    expect(batch?.upserts.find((u) => u.key?.name === "back")?.revision).toBe(revisionOf(again));

    // After a replaced database the zone's revisions mean nothing here: content and VIPs decide.
    const other = zone();
    other.hello({ zone: "zone-2", cursor: { globalEpoch: randomUUID(), revision: 1n } });
    await other.until((r) => r.length >= 1);
    other.send({ case: "inventory", value: { last: true, entries: inventory } });
    const [replaced] = await other.syncedBatches(1);
    expect(names([replaced as Changes]).filter((name) => !name.startsWith("s"))).toEqual([]);
  });
});

async function readyz(): Promise<Record<string, unknown>> {
  return (await getJson(`${global.http}/readyz`)).body;
}

function welcomeEpoch(body: Record<string, unknown>): string {
  return body.epoch as string;
}
