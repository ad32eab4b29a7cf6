// Fuzzing the zone's sync client from a fake global that writes raw frames (issue 4): random bytes,
// valid responses cut short, Changes batches mixing valid and invalid resources, protocol violations
// (batches out of order, a second Welcome, an UpstreamAck for nothing, broken Welcomes), frames over
// the receive limit, and a global that never answers. The zone never crashes: it applies the valid
// part of a batch and Nacks each invalid resource (PROTOCOL.md), or it drops the stream with a logged
// reason and reconnects from its stored cursor, with its local store exactly as before.
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { SyncMode, type SyncRequest, SyncRequestSchema, type SyncResponse, SyncResponseSchema } from "@mooring/proto";
import { createLogger } from "@mooring/shared";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SyncEvents } from "../../zone/src/client/events.js";
import { createSyncClient, type SyncClient } from "../../zone/src/client/sync-client.js";
import { createMetrics } from "../../zone/src/metrics.js";
import { createTempStore, EPOCH, OTHER_EPOCH, type TempStore } from "../../zone/src/test-support.js";
import { fuzz, Tally } from "./fuzz-support.js";

const ZONE = "east";
const MAX_MESSAGE = 256 * 1024;
const BOUND_MS = 4000;
const MAX = 2n ** 53n - 1n;

type Response = NonNullable<MessageInitShape<typeof SyncResponseSchema>["message"]>;

function encode(message: Response | undefined): Buffer {
  return Buffer.from(toBinary(SyncResponseSchema, create(SyncResponseSchema, message ? { message } : {})));
}

// --- a fake global that writes raw frames ----------------------------------------------------------

const passthrough = (bytes: Buffer) => bytes;

class RawStream {
  readonly received: SyncRequest[] = [];
  readonly cancelled: Promise<void>;
  private waiters: Array<() => void> = [];
  private done = false;

  constructor(readonly call: grpc.ServerDuplexStream<Buffer, Buffer>) {
    call.on("data", (bytes: Buffer) => {
      this.received.push(fromBinary(SyncRequestSchema, bytes));
      for (const wake of this.waiters.splice(0)) wake();
    });
    call.on("error", () => {});
    call.on("end", () => {
      if (!call.cancelled && !this.done) {
        this.done = true;
        call.end();
      }
    });
    this.cancelled = new Promise((resolve) => call.on("cancelled", () => resolve()));
  }

  write(bytes: Buffer): void {
    if (!this.done) this.call.write(bytes);
  }

  send(message: Response | undefined): void {
    this.write(encode(message));
  }

  /** Ends the stream with a status, as the global does. */
  fail(code: grpc.status, details: string): void {
    if (this.done) return;
    this.done = true;
    this.call.emit("error", { code, details });
  }

  /** The next message of `kind` after the first `skip` of that kind; undefined after BOUND_MS. */
  async take<K extends SyncRequest["message"]["case"]>(
    kind: K,
    index: number,
  ): Promise<Extract<SyncRequest["message"], { case: K }>["value"] | undefined> {
    const deadline = Date.now() + BOUND_MS;
    for (;;) {
      const found = this.received.filter((m) => m.message.case === kind)[index];
      if (found) return found.message.value as never;
      if (Date.now() >= deadline) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

class RawGlobal {
  readonly streams: RawStream[] = [];
  private taken = 0;
  private readonly server = new grpc.Server();
  port = 0;

  async start(): Promise<void> {
    this.server.addService(
      {
        sync: {
          path: "/mooring.v1.ZoneSyncService/Sync",
          requestStream: true,
          responseStream: true,
          requestSerialize: passthrough,
          requestDeserialize: passthrough,
          responseSerialize: passthrough,
          responseDeserialize: passthrough,
        },
      },
      { sync: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => void this.streams.push(new RawStream(call)) },
    );
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
  }

  /** The next stream the zone opens, or a failure after BOUND_MS: the zone must always come back. */
  async next(): Promise<RawStream> {
    const deadline = Date.now() + BOUND_MS;
    while (this.streams.length <= this.taken) {
      if (Date.now() >= deadline) throw new Error(`the zone did not reconnect within ${BOUND_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const stream = this.streams[this.taken] as RawStream;
    this.taken += 1;
    return stream;
  }

  close(): void {
    this.server.forceShutdown();
  }
}

// --- the zone ----------------------------------------------------------------------------------------

let fake: RawGlobal;
let t: TempStore;
let client: SyncClient;
const logs: Array<{ level: number; msg: string; code?: string; reason?: string }> = [];
const disconnects: Array<SyncEvents["disconnected"]> = [];

/** What the zone's store holds, by key: the oracle the store is compared with after every input. */
type Row = { contentHash: string; vips: string[]; revision: number };
let expected = new Map<string, Row>();
let cursor = 0;

function keyOf(k: { type?: string; mesh?: string; zone?: string; name?: string }): string {
  return `${k.type ?? ""}/${k.mesh ?? ""}/${k.zone ?? ""}/${k.name ?? ""}`;
}

function actual(): Map<string, Row> {
  return new Map(
    t.store
      .allSynced()
      .map(
        (row) => [keyOf(row), { contentHash: row.contentHash, vips: [...row.vips], revision: row.revision }] as const,
      ),
  );
}

function expectStore(context: string): void {
  expect(Object.fromEntries(actual()), `the zone's store after ${context}`).toEqual(Object.fromEntries(expected));
  expect(t.store.cursor(), `the zone's cursor after ${context}`).toEqual({ epoch: EPOCH, revision: cursor });
  expect(t.store.ownedAbove(0, 1000), `the zone's outbox after ${context}`).toEqual([]);
}

const hex = fc.stringMatching(/^[0-9a-f]{64}$/);

/** A service the global could publish, with its row as the zone must store it. */
const validService = fc
  .record({
    mesh: fc.constantFrom("default", "other"),
    zone: fc.constantFrom("", "west", ZONE),
    name: fc.constantFrom("web", "api", "db", "cache", "edge", "mq"),
    port: fc.integer({ min: 1, max: 65535 }),
    vip: fc.option(
      fc.tuple(fc.nat({ max: 255 }), fc.nat({ max: 255 })).map(([a, b]) => `241.0.${a}.${b}`),
      { nil: undefined },
    ),
    hash: hex,
    revision: fc.nat({ max: 1000 }),
  })
  .map((s) => ({
    valid: true as const,
    message: {
      key: { type: "MeshService", mesh: s.mesh, zone: s.zone, name: s.name },
      labels: { app: s.name },
      spec: { ports: [{ port: s.port, appProtocol: "http" }] },
      vips: s.vip ? [{ ip: s.vip }] : [],
      contentHash: s.hash,
      revision: BigInt(s.revision),
      creationTimeUnixMs: 1_767_225_600_000n,
      modificationTimeUnixMs: 1_767_225_600_000n,
    },
    row: { contentHash: s.hash, vips: s.vip ? [s.vip] : [], revision: s.revision },
  }));

type Upsert =
  | { valid: true; message: Record<string, unknown>; row: Row }
  | { valid: false; message: Record<string, unknown> };

/** A published service broken in one way the zone must refuse (and Nack) without refusing the batch. */
const invalidService: fc.Arbitrary<Upsert> = fc
  .tuple(
    validService,
    fc.constantFrom(
      (m: Record<string, unknown>) => ({ ...m, key: undefined }),
      (m: Record<string, unknown>) => ({ ...m, key: { ...(m.key as object), type: "Mesh" } }),
      (m: Record<string, unknown>) => ({ ...m, key: { ...(m.key as object), name: "Bad_Name" } }),
      (m: Record<string, unknown>) => ({ ...m, key: { ...(m.key as object), name: "" } }),
      (m: Record<string, unknown>) => ({ ...m, key: { ...(m.key as object), mesh: "a".repeat(64) } }),
      (m: Record<string, unknown>) => ({ ...m, key: { ...(m.key as object), zone: "Zone" } }),
      (m: Record<string, unknown>) => ({ ...m, spec: undefined }),
      (m: Record<string, unknown>) => ({ ...m, spec: { ports: [] } }),
      (m: Record<string, unknown>) => ({ ...m, spec: { ports: [{ port: 0 }] } }),
      (m: Record<string, unknown>) => ({ ...m, spec: { ports: [{ port: 80, appProtocol: "udp" }] } }),
      (m: Record<string, unknown>) => ({ ...m, spec: { ports: [{ port: 80 }, { port: 80 }] } }),
      (m: Record<string, unknown>) => ({ ...m, labels: { "bad key": "x" } }),
      (m: Record<string, unknown>) => ({ ...m, vips: [{ ip: "241.0.0.300" }] }),
      (m: Record<string, unknown>) => ({ ...m, vips: [{ ip: "" }] }),
      (m: Record<string, unknown>) => ({ ...m, vips: [{ ip: "not-an-ip" }] }),
      (m: Record<string, unknown>) => ({ ...m, contentHash: "" }),
      (m: Record<string, unknown>) => ({ ...m, contentHash: "A".repeat(64) }),
      (m: Record<string, unknown>) => ({ ...m, contentHash: "f".repeat(63) }),
      (m: Record<string, unknown>) => ({ ...m, revision: MAX + 1n }),
      (m: Record<string, unknown>) => ({ ...m, creationTimeUnixMs: -1n }),
      (m: Record<string, unknown>) => ({ ...m, modificationTimeUnixMs: 2n ** 63n - 1n }),
    ),
  )
  .map(([s, breakIt]) => ({ valid: false as const, message: breakIt(s.message) }));

type Delete = { valid: boolean; key: { type: string; mesh: string; zone: string; name: string } };
const deleteKey: fc.Arbitrary<Delete> = fc.oneof(
  fc
    .record({
      mesh: fc.constantFrom("default", "other"),
      zone: fc.constantFrom("", "west", ZONE),
      name: fc.constantFrom("web", "api", "db", "gone"),
    })
    .map((k) => ({ valid: true, key: { type: "MeshService", ...k } })),
  fc.constantFrom(
    { valid: false, key: { type: "MeshService", mesh: "default", zone: "", name: "Bad" } },
    { valid: false, key: { type: "", mesh: "", zone: "", name: "" } },
    { valid: false, key: { type: "Other", mesh: "default", zone: "", name: "web" } },
  ),
);

// --- the session driver -----------------------------------------------------------------------------

const tallies: Tally[] = [];
function tally(name: string): Tally {
  const each = new Tally(`zone sync client ${name}`);
  tallies.push(each);
  return each;
}

/**
 * Takes the zone's next stream and brings it to the live phase: its Hello must carry the stored
 * cursor; it is welcomed INCREMENTAL and sent an empty batch, which it must ack.
 */
async function live(): Promise<RawStream> {
  const s = await fake.next();
  const hello = await s.take("hello", 0);
  expect(hello?.cursor, "the zone reconnected without its cursor").toMatchObject({
    globalEpoch: EPOCH,
    revision: BigInt(cursor),
  });
  welcome(s, { mode: SyncMode.INCREMENTAL });
  s.send({ case: "changes", value: { fromRevision: BigInt(cursor), toRevision: BigInt(cursor), last: true } });
  expect((await s.take("ack", 0))?.revision).toBe(BigInt(cursor));
  return s;
}

function welcome(s: RawStream, fields: Record<string, unknown> = {}): void {
  s.send({
    case: "welcome",
    value: {
      sessionId: "fuzz",
      generation: 1n,
      mode: SyncMode.INCREMENTAL,
      globalEpoch: EPOCH,
      headRevision: BigInt(cursor),
      upstreamWatermark: 0n,
      heartbeatIntervalMs: 10_000,
      ...fields,
    },
  });
}

/** Ends a stream that is still alive from the global's side, so that the next input gets a fresh one. */
function retire(s: RawStream): void {
  s.fail(grpc.status.UNAVAILABLE, "fuzz: next input");
}

/** The zone must drop the stream itself, say why (event and log line), and come back with its cursor. */
async function expectDrop(s: RawStream, code: string, reason: RegExp, context: string): Promise<void> {
  const seen = disconnects.length;
  const logged = logs.length;
  const cancelled = await Promise.race([
    s.cancelled.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), BOUND_MS).unref()),
  ]);
  expect(cancelled, `${context}: the zone did not drop the stream`).toBe(true);
  const deadline = Date.now() + BOUND_MS;
  while (disconnects.length <= seen && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  const event = disconnects[seen];
  expect(event, `${context}: no disconnected event`).toBeDefined();
  expect({ code: event?.code, reason: event?.reason }, context).toEqual({
    code,
    reason: expect.stringMatching(reason),
  });
  const line = logs.slice(logged).find((l) => l.msg === "disconnected");
  expect(line, `${context}: no "disconnected" log line`).toBeDefined();
  expect({ code: line?.code, level: (line?.level ?? 0) >= 40 }, context).toEqual({ code, level: true });
  expect(client.status().lastError, context).toBe(`${code}: ${event?.reason}`);
  expectStore(context);
}

/** A live session must still work: a one-resource batch is applied and acked. */
let sentinels = 0;
async function expectAlive(s: RawStream, acksBefore: number, context: string): Promise<void> {
  sentinels += 1;
  const name = `sentinel-${sentinels}`;
  const hash = sentinels.toString(16).padStart(64, "0");
  s.send({
    case: "changes",
    value: {
      fromRevision: BigInt(cursor),
      toRevision: BigInt(cursor + 1),
      upserts: [
        {
          key: { type: "MeshService", mesh: "default", zone: "", name },
          spec: { ports: [{ port: 80 }] },
          contentHash: hash,
        },
      ],
      last: true,
    },
  });
  const ack = await s.take("ack", acksBefore);
  expect(ack?.revision, `${context}: the session stopped working`).toBe(BigInt(cursor + 1));
  cursor += 1;
  expected.set(`MeshService/default//${name}`, { contentHash: hash, vips: [], revision: 0 });
  expectStore(context);
}

type Outcome = { kind: "drop"; code: string; reason: RegExp } | { kind: "alive" } | { kind: "skip" };

/**
 * What the zone must do with one frame received in the live phase (PROTOCOL.md; the zone's
 * session.ts): decoded by the same protobuf library the zone uses.
 */
function predictLive(bytes: Buffer): Outcome {
  if (bytes.length > MAX_MESSAGE) return { kind: "drop", code: "RESOURCE_EXHAUSTED", reason: /./ };
  let response: SyncResponse;
  try {
    response = fromBinary(SyncResponseSchema, bytes);
  } catch {
    return { kind: "drop", code: "INTERNAL", reason: /pars|deserializ|decod/i };
  }
  const m = response.message;
  switch (m.case) {
    case undefined:
    case "heartbeat":
    case "inventory":
      return { kind: "alive" };
    case "goodbye":
      // Final: the zone stops for good (tested on its own below).
      return m.value.final ? { kind: "skip" } : { kind: "alive" };
    case "welcome":
      return { kind: "drop", code: "INTERNAL", reason: /^protocol error: a second Welcome on one stream$/ };
    case "upstreamAck":
      return {
        kind: "drop",
        code: "INTERNAL",
        reason: /^protocol error: UpstreamAck for zone revision \d+, but nothing is in flight$/,
      };
    case "changes":
      // Structured batches are their own target below; a random one is skipped.
      return { kind: "skip" };
  }
}

async function judgeLive(bytes: Buffer, tl: Tally, context: string): Promise<void> {
  const outcome = predictLive(bytes);
  fc.pre(outcome.kind !== "skip");
  const s = await live();
  const acks = s.received.filter((m) => m.message.case === "ack").length;
  s.write(bytes);
  if (outcome.kind === "drop") {
    await expectDrop(s, outcome.code, outcome.reason, context);
    tl.add(`dropped ${outcome.code}`);
  } else {
    await expectAlive(s, acks, context);
    retire(s);
    tl.add("ignored, session alive");
  }
}

// --- setup ------------------------------------------------------------------------------------------

beforeAll(async () => {
  fake = new RawGlobal();
  await fake.start();
  t = createTempStore(ZONE);
  const logger = createLogger({
    level: "info",
    service: "zone",
    destination: { write: (line: string) => void logs.push(JSON.parse(line)) },
  });
  client = createSyncClient({
    config: {
      global: { host: "127.0.0.1", port: fake.port },
      reconnectMin: 5,
      reconnectMax: 20,
      syncMaxMessage: MAX_MESSAGE,
    },
    store: t.store,
    logger,
    metrics: createMetrics(t.store),
    instanceId: "3f9d2c41-8b7a-4e6f-9c1d-0a1b2c3d4e5f",
    random: () => 0.5,
    helloTimeoutMs: 500,
    closeGraceMs: 200,
  });
  client.on("disconnected", (event) => disconnects.push(event));
  client.start();
  // The first connect: a FULL snapshot the rest of the inputs must leave alone.
  const s = await fake.next();
  expect((await s.take("hello", 0))?.cursor).toBeUndefined();
  welcome(s, { mode: SyncMode.FULL, headRevision: 10n });
  const baseline = [
    { key: { type: "MeshService", mesh: "default", zone: "", name: "web" }, vip: "241.0.0.1" },
    { key: { type: "MeshService", mesh: "default", zone: "west", name: "api" }, vip: "241.0.0.2" },
    { key: { type: "MeshService", mesh: "default", zone: ZONE, name: "db" }, vip: "241.0.0.3" },
  ];
  s.send({
    case: "changes",
    value: {
      fromRevision: 0n,
      toRevision: 10n,
      upserts: baseline.map((b, i) => ({
        key: b.key,
        spec: { ports: [{ port: 80 }] },
        vips: [{ ip: b.vip }],
        contentHash: String(i).repeat(64),
        revision: 5n,
      })),
      last: true,
    },
  });
  expect((await s.take("ack", 0))?.revision).toBe(10n);
  cursor = 10;
  expected = new Map(
    baseline.map((b, i) => [keyOf(b.key), { contentHash: String(i).repeat(64), vips: [b.vip], revision: 5 }]),
  );
  expectStore("the first FULL sync");
  retire(s);
});

afterAll(async () => {
  for (const each of tallies) each.print();
  console.log(`[fuzz] zone sync client total: ${tallies.reduce((n, each) => n + each.inputs, 0)} inputs`);
  await client?.close();
  fake?.close();
  t?.cleanup();
});

describe("zone sync client fuzz", () => {
  it("random bytes from the global", async () => {
    const tl = tally("random frames");
    await fuzz(
      "zone random frames",
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
        await judgeLive(Buffer.from(bytes), tl, `random frame ${Buffer.from(bytes).toString("hex").slice(0, 100)}`);
      }),
      70,
    );
  });

  it("valid responses cut at random points", async () => {
    const tl = tally("truncated frames");
    const message: fc.Arbitrary<Response> = fc.oneof(
      fc.constant<Response>({
        case: "welcome",
        value: {
          sessionId: "s",
          generation: 2n,
          mode: SyncMode.INCREMENTAL,
          globalEpoch: EPOCH,
          headRevision: 10n,
          heartbeatIntervalMs: 5000,
        },
      }),
      validService.map(
        (s) =>
          ({
            case: "changes",
            value: { fromRevision: 10n, toRevision: 11n, upserts: [s.message as never], last: true },
          }) as Response,
      ),
      fc.constant<Response>({
        case: "upstreamAck",
        value: { zoneRevision: 3n, rejected: [{ code: "VALIDATION_FAILED", message: "x" }] },
      }),
      fc.constant<Response>({ case: "heartbeat", value: { sentAtUnixMs: 1_767_225_600_000n } }),
      fc.constant<Response>({ case: "goodbye", value: { reason: "restarting", final: false } }),
      fc.constant<Response>({
        case: "inventory",
        value: {
          entries: [{ key: { type: "MeshService", mesh: "default", name: "web" }, contentHash: "a".repeat(64) }],
          last: true,
        },
      }),
    );
    await fuzz(
      "zone truncated frames",
      fc.asyncProperty(message, fc.nat(), async (m, cut) => {
        const bytes = encode(m);
        const truncated = bytes.subarray(0, cut % bytes.length);
        await judgeLive(truncated, tl, `${m.case} cut at ${cut % bytes.length}/${bytes.length}`);
      }),
      70,
    );
  });

  it("Changes batches mixing valid and invalid resources: applied in part, each invalid one Nacked", async () => {
    const tl = tally("batches with invalid resources");
    await fuzz(
      "zone mixed batches",
      fc.asyncProperty(
        fc.array(fc.oneof(validService as fc.Arbitrary<Upsert>, invalidService), { maxLength: 6 }),
        fc.array(deleteKey, { maxLength: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.nat({ max: 5 }),
        async (upserts, deletes, parts, advance) => {
          const s = await live();
          const from = cursor;
          const to = cursor + advance;
          // The batch in `parts` messages; upserts and deletes dealt out in order.
          const messages = Array.from({ length: parts }, () => ({ upserts: [] as Upsert[], deletes: [] as Delete[] }));
          for (const [i, u] of upserts.entries()) messages[i % parts]?.upserts.push(u);
          for (const [i, d] of deletes.entries()) messages[i % parts]?.deletes.push(d);
          for (const [i, m] of messages.entries()) {
            s.send({
              case: "changes",
              value: {
                fromRevision: BigInt(from),
                toRevision: BigInt(to),
                upserts: m.upserts.map((u) => u.message) as never,
                deletes: m.deletes.map((d) => d.key),
                last: i === parts - 1,
              },
            });
          }
          const errors: Array<{ key: string | undefined; code: string }> = [];
          for (const m of messages) {
            for (const u of m.upserts) {
              const key = u.message.key as Parameters<typeof keyOf>[0] | undefined;
              if (u.valid) expected.set(keyOf(key ?? {}), u.row);
              else errors.push({ key: key && keyOf(key), code: "VALIDATION_FAILED" });
            }
            for (const d of m.deletes) {
              if (d.valid) expected.delete(keyOf(d.key));
              else errors.push({ key: keyOf(d.key), code: "VALIDATION_FAILED" });
            }
          }
          cursor = to;
          const context = `a batch of ${upserts.length} upserts and ${deletes.length} deletes in ${parts} messages`;
          if (errors.length === 0) {
            expect((await s.take("ack", 1))?.revision, context).toBe(BigInt(to));
            tl.add("acked");
          } else {
            const nack = await s.take("nack", 0);
            expect(nack?.revision, context).toBe(BigInt(to));
            expect(
              nack?.errors.map((e) => ({ key: e.key && keyOf(e.key), code: e.code })),
              context,
            ).toEqual(errors);
            tl.add("nacked");
            tl.add("resources nacked", errors.length);
          }
          expectStore(context);
          retire(s);
        },
      ),
      50,
    );
  });

  it("protocol violations in the live phase: the stream is dropped and nothing of the batch applies", async () => {
    const tl = tally("live protocol violations");
    const violation = fc.oneof(
      fc.integer({ min: 1, max: 5 }).map((off) => ({
        name: "a batch that does not start at the cursor",
        frames: (c: number) => [
          encode({
            case: "changes",
            value: { fromRevision: BigInt(c + off), toRevision: BigInt(c + off + 1), last: true },
          }),
        ],
        reason: /^protocol error: a live batch starts at revision \d+, but the zone's cursor is at \d+$/,
      })),
      fc.constant({
        name: "a batch that ends before it starts",
        frames: (c: number) => [
          encode({
            case: "changes",
            value: { fromRevision: BigInt(c), toRevision: BigInt(Math.max(0, c - 1)), last: true },
          }),
        ],
        reason: /^protocol error: a batch cannot end \(\d+\) before it starts \(\d+\)$/,
      }),
      fc.constantFrom(MAX + 1n, 2n ** 64n - 1n).map((big) => ({
        name: "a revision past 2^53-1",
        frames: (c: number) => [
          encode({ case: "changes", value: { fromRevision: BigInt(c), toRevision: big, last: true } }),
        ],
        reason: /^protocol error: a batch revision does not fit in 2\^53-1$/,
      })),
      validService.map((svc) => ({
        name: "a batch whose second message names another range",
        frames: (c: number) => [
          encode({
            case: "changes",
            value: { fromRevision: BigInt(c), toRevision: BigInt(c + 2), upserts: [svc.message as never], last: false },
          }),
          encode({ case: "changes", value: { fromRevision: BigInt(c), toRevision: BigInt(c + 3), last: true } }),
        ],
        reason: /^protocol error: a message of batch \(\d+, \d+\] carried \(\d+, \d+\]$/,
      })),
      fc.constant({
        name: "a second Welcome",
        frames: () => [
          encode({
            case: "welcome",
            value: { sessionId: "again", mode: SyncMode.FULL, globalEpoch: EPOCH, heartbeatIntervalMs: 1000 },
          }),
        ],
        reason: /^protocol error: a second Welcome on one stream$/,
      }),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((r) => ({
        name: "an UpstreamAck with nothing in flight",
        frames: () => [encode({ case: "upstreamAck", value: { zoneRevision: r } })],
        reason: /^protocol error: UpstreamAck for zone revision \d+, but nothing is in flight$/,
      })),
    );
    await fuzz(
      "zone live violations",
      fc.asyncProperty(violation, async (v) => {
        const s = await live();
        for (const bytes of v.frames(cursor)) s.write(bytes);
        await expectDrop(s, "INTERNAL", v.reason, v.name);
        tl.add(v.name);
      }),
      40,
    );
  });

  it("a broken first answer: anything but a good Welcome is dropped, and the zone comes back", async () => {
    const tl = tally("broken Welcomes");
    const first = fc.oneof(
      fc.constant({
        name: "Changes before Welcome",
        response: { case: "changes", value: { fromRevision: 10n, toRevision: 11n, last: true } } as Response,
        reason: /^protocol error: the first message was changes, not Welcome$/,
      }),
      fc.constant({
        name: "an UpstreamAck before Welcome",
        response: { case: "upstreamAck", value: { zoneRevision: 1n } } as Response,
        reason: /^protocol error: the first message was upstreamAck, not Welcome$/,
      }),
      fc.constant({
        name: "an empty first message",
        response: undefined,
        reason: /^protocol error: the first message was empty, not Welcome$/,
      }),
      fc.constantFrom(0, 4, 99, -1).map((mode) => ({
        name: `a Welcome of mode ${mode}`,
        welcome: { mode },
        reason: /^protocol error: Welcome names mode -?\d+, which this zone does not know$/,
      })),
      fc.constant({
        name: "a Welcome without a session id",
        welcome: { sessionId: "" },
        reason: /^protocol error: Welcome has no session_id$/,
      }),
      fc.constantFrom("", "epoch", EPOCH.toUpperCase(), `${EPOCH}x`).map((e) => ({
        name: `a Welcome with epoch ${JSON.stringify(e)}`,
        welcome: { globalEpoch: e },
        reason: /^protocol error: Welcome's global_epoch is not a lower-case UUID$/,
      })),
      fc.constant({
        name: "a Welcome with a 0 heartbeat",
        welcome: { heartbeatIntervalMs: 0 },
        reason: /^protocol error: Welcome's heartbeat_interval_ms is 0$/,
      }),
      fc.constantFrom("generation", "upstreamWatermark", "headRevision").map((field) => ({
        name: `a Welcome whose ${field} is past 2^53-1`,
        welcome: { [field]: MAX + 1n },
        reason: /^protocol error: a Welcome number does not fit in 2\^53-1$/,
      })),
      fc.constant({
        name: "INCREMENTAL for another database's cursor",
        welcome: { globalEpoch: OTHER_EPOCH },
        reason: /^protocol error: INCREMENTAL offered for a cursor of epoch [0-9a-f-]+$/,
      }),
    );
    await fuzz(
      "zone broken welcomes",
      fc.asyncProperty(first, async (f) => {
        const s = await fake.next();
        expect((await s.take("hello", 0))?.cursor).toMatchObject({ revision: BigInt(cursor) });
        if ("welcome" in f) welcome(s, f.welcome);
        else s.send(f.response);
        await expectDrop(s, "INTERNAL", f.reason, f.name);
        tl.add(f.name.replace(/ -?\d+$| ".*"$| \w+ is past/, ""));
      }),
      40,
    );
  });

  it("a frame over the receive limit, and a global that never answers the Hello", async () => {
    const tl = tally("oversized and silent");
    for (const size of [MAX_MESSAGE + 1, 2 * MAX_MESSAGE]) {
      const s = await live();
      s.send({ case: "inventory", value: { entries: [{ contentHash: "x".repeat(size) }], last: true } });
      await expectDrop(s, "RESOURCE_EXHAUSTED", /./, `a ${size}-byte frame`);
      tl.add("RESOURCE_EXHAUSTED");
    }
    const silent = await fake.next();
    expect(await silent.take("hello", 0)).toBeDefined();
    await expectDrop(silent, "DEADLINE_EXCEEDED", /^no Welcome within 500ms$/, "a global that never answers");
    tl.add("DEADLINE_EXCEEDED");
  });

  it("a final Goodbye stops the zone for good, with its store as it was", async () => {
    const s = await live();
    const stopped = client.once("stopped");
    s.send({ case: "goodbye", value: { reason: "fuzz: decommissioned", final: true } });
    s.fail(grpc.status.ABORTED, "fuzz: decommissioned");
    expect(await stopped).toEqual({ reason: "fuzz: decommissioned", final: true });
    expect(client.status().state).toBe("stopped");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fake.streams.length, "the zone came back after a final Goodbye").toBe(fake.streams.indexOf(s) + 1);
    expectStore("a final Goodbye");
  });
});
