// Fuzzing the global's sync stream (issue 4): random bytes and truncated valid frames, Hellos with
// mutated fields, messages out of order, upstream batches mixing valid and invalid resources, frames
// over the size limit, and broken gRPC framing under HTTP/2. Every stream the global refuses ends with
// a gRPC status within a bounded time; a refused resource is named in an UpstreamAck; nothing refused
// changes what the global stores; and afterwards a well-behaved zone still syncs.
import { randomUUID } from "node:crypto";
import { connect as connectHttp2, constants as h2 } from "node:http2";
import { join } from "node:path";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  HelloSchema,
  type MeshService,
  type MeshServiceSchema,
  SyncMode,
  type SyncRequest,
  SyncRequestSchema,
  type SyncResponse,
  SyncResponseSchema,
} from "@mooring/proto";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putService, ScriptedZone, startTestGlobal, type TestGlobal } from "../../global/src/sync/sync-harness.js";
import { dnsLabel, fuzz, Tally } from "./fuzz-support.js";

const MAX_MESSAGE = 256 * 1024;
/** How long any stream may take to end once it should: the bound on every wait here. */
const BOUND_MS = 4000;

type Request = NonNullable<MessageInitShape<typeof SyncRequestSchema>["message"]>;

function frame(message: Request | undefined): Buffer {
  return Buffer.from(toBinary(SyncRequestSchema, create(SyncRequestSchema, message ? { message } : {})));
}

// --- a client that writes raw frames --------------------------------------------------------------

const RawClient = grpc.makeGenericClientConstructor(
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

interface Ended {
  readonly code: grpc.status;
  readonly details: string;
}

class RawStream {
  readonly received: SyncResponse[] = [];
  readonly ended: Promise<Ended>;
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private waiters: Array<() => void> = [];
  private status: Ended | undefined;

  constructor(client: { sync(): grpc.ClientDuplexStream<Buffer, Buffer> }) {
    this.call = client.sync();
    this.call.on("data", (bytes: Buffer) => {
      this.received.push(fromBinary(SyncResponseSchema, bytes));
      this.wake();
    });
    this.call.on("error", () => {});
    this.ended = new Promise((resolve) =>
      this.call.on("status", (status: grpc.StatusObject) => {
        this.status = { code: status.code, details: status.details };
        resolve(this.status);
        this.wake();
      }),
    );
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  write(bytes: Buffer): void {
    this.call.write(bytes);
  }

  end(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }

  /** Waits until `predicate` holds or the stream ends; false after BOUND_MS or if it ended first. */
  async until(predicate: (received: SyncResponse[]) => boolean): Promise<boolean> {
    const deadline = Date.now() + BOUND_MS;
    while (!predicate(this.received)) {
      if (this.status || Date.now() >= deadline) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  /** The status the stream ended with, or a failure naming what was received after BOUND_MS. */
  async status_(): Promise<Ended> {
    const timeout = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), BOUND_MS).unref());
    const result = await Promise.race([this.ended, timeout]);
    if (result === "hung") {
      this.cancel();
      throw new Error(
        `the stream did not end within ${BOUND_MS} ms; received ${this.received.map((m) => m.message.case).join(",")}`,
      );
    }
    return result;
  }
}

// --- the global and its stored state ----------------------------------------------------------------

let g: TestGlobal;
let db: Database.Database;
let client: grpc.Client & { sync(): grpc.ClientDuplexStream<Buffer, Buffer> };
const open: RawStream[] = [];

function stream(): RawStream {
  const s = new RawStream(client);
  open.push(s);
  return s;
}

const epoch = () => db.prepare("SELECT value FROM meta WHERE key = 'epoch'").pluck().get() as string;
const head = () =>
  (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").pluck().get() as number | undefined) ?? 0;

interface Stored {
  head: number;
  resources: unknown[];
  leases: unknown[];
  tokens: unknown[];
  zones: Array<Record<string, unknown>>;
}

function stored(): Stored {
  return {
    head: head(),
    resources: db.prepare("SELECT * FROM resources ORDER BY type, mesh, zone, name").all(),
    leases: db.prepare("SELECT * FROM vip_leases ORDER BY ip").all(),
    tokens: db.prepare("SELECT * FROM zone_tokens ORDER BY id").all(),
    zones: db.prepare("SELECT * FROM zones ORDER BY name").all() as Array<Record<string, unknown>>,
  };
}

/** A zone record without its session bookkeeping (generation, instance, times, counters, last error). */
function durable(zone: Record<string, unknown>): Record<string, unknown> {
  return { name: zone.name, zone_id: zone.zone_id, created_at: zone.created_at };
}

/**
 * Nothing stored changed. `helloZone` names the zone whose Hello was accepted on the stream: its
 * record may be new, and its bookkeeping moves.
 */
function expectUnchanged(before: Stored, context: string, helloZone?: string): void {
  const after = stored();
  expect(
    { head: after.head, resources: after.resources, leases: after.leases, tokens: after.tokens },
    `state changed by ${context}`,
  ).toEqual({ head: before.head, resources: before.resources, leases: before.leases, tokens: before.tokens });
  if (helloZone === undefined) {
    expect(after.zones, `zone records changed by ${context}`).toEqual(before.zones);
  } else {
    const others = (zones: Stored["zones"]) => zones.filter((z) => z.name !== helloZone);
    expect(others(after.zones), `other zones' records changed by ${context}`).toEqual(others(before.zones));
    const previous = before.zones.find((z) => z.name === helloZone);
    const now = after.zones.find((z) => z.name === helloZone);
    if (previous)
      expect(now && durable(now), `zone ${helloZone}'s record changed by ${context}`).toEqual(durable(previous));
  }
}

// --- the oracle -------------------------------------------------------------------------------------

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isLabel = (s: string) => s.length >= 1 && s.length <= 63 && LABEL.test(s);

type Prediction =
  | { readonly end: grpc.status; readonly details: RegExp }
  | { readonly welcome: "full" | "incremental" | "reconcile" };

/** What the global must do with a stream whose first frame is `bytes` (PROTOCOL.md, "Session start"). */
function predictFirst(bytes: Buffer): Prediction {
  if (bytes.length > MAX_MESSAGE) return { end: grpc.status.RESOURCE_EXHAUSTED, details: /./ };
  let request: SyncRequest;
  try {
    request = fromBinary(SyncRequestSchema, bytes);
  } catch {
    return { end: grpc.status.INVALID_ARGUMENT, details: /does not decode as mooring\.v1\.SyncRequest/ };
  }
  const message = request.message;
  if (message.case !== "hello") {
    return {
      end: grpc.status.INVALID_ARGUMENT,
      details: new RegExp(`first message on a sync stream must be Hello, not ${message.case ?? "an empty message"}`),
    };
  }
  const hello = message.value;
  const invalid = (field: string) => ({
    end: grpc.status.INVALID_ARGUMENT,
    details: new RegExp(`^hello\\.${field}: `),
  });
  if (!isLabel(hello.zone)) return invalid("zone");
  if (!UUID.test(hello.instanceId)) return invalid("instance_id");
  if (!UUID.test(hello.storeId)) return invalid("store_id");
  if (!hello.cursor) return { welcome: "full" };
  if (!UUID.test(hello.cursor.globalEpoch)) return invalid("cursor\\.global_epoch");
  if (hello.cursor.revision > BigInt(Number.MAX_SAFE_INTEGER)) return invalid("cursor\\.revision");
  if (hello.cursor.globalEpoch.toLowerCase() !== epoch()) return { welcome: "reconcile" };
  if (hello.cursor.revision > BigInt(head()))
    return { end: grpc.status.OUT_OF_RANGE, details: /is ahead of head revision/ };
  return { welcome: hello.reconcile ? "reconcile" : "incremental" };
}

const MODE: Record<"full" | "incremental" | "reconcile", SyncMode> = {
  full: SyncMode.FULL,
  incremental: SyncMode.INCREMENTAL,
  reconcile: SyncMode.RECONCILE,
};

const tallies: Tally[] = [];
function tally(name: string): Tally {
  const t = new Tally(`global gRPC ${name}`);
  tallies.push(t);
  return t;
}

/**
 * Sends `frames` on a fresh stream and checks the outcome the first frame predicts. A refused
 * stream must end with exactly that status and change nothing; an accepted one gets a Welcome of the
 * predicted mode, and ends OK when the client half-closes (its later frames must be harmless).
 */
async function judgeFirst(frames: readonly Buffer[], t: Tally, context: string): Promise<void> {
  const before = stored();
  const prediction = predictFirst(frames[0] as Buffer);
  const s = stream();
  for (const bytes of frames) s.write(bytes);
  if ("end" in prediction) {
    const ended = await s.status_();
    expect({ code: grpc.status[ended.code], details: ended.details }, context).toEqual({
      code: grpc.status[prediction.end],
      details: expect.stringMatching(prediction.details),
    });
    expect(
      s.received.map((m) => m.message.case),
      context,
    ).toEqual([]);
    expectUnchanged(before, context);
    t.add(grpc.status[ended.code] ?? String(ended.code));
    return;
  }
  const welcomed = await s.until((r) => r.some((m) => m.message.case === "welcome"));
  expect(
    welcomed,
    `${context}: no Welcome; ${JSON.stringify(await Promise.race([s.ended, Promise.resolve("open")]))}`,
  ).toBe(true);
  const welcome = s.received.find((m) => m.message.case === "welcome")?.message.value as { mode: SyncMode };
  expect(welcome.mode, context).toBe(MODE[prediction.welcome]);
  s.end();
  const ended = await s.status_();
  const hello = fromBinary(SyncRequestSchema, frames[0] as Buffer).message.value as { zone: string };
  // Later frames of an accepted stream may be refused (random bytes after a Hello): any status the
  // protocol names, never INTERNAL or UNKNOWN, and still nothing stored changes.
  expect(
    [grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.RESOURCE_EXHAUSTED],
    `${context}: ${ended.details}`,
  ).toContain(ended.code);
  if (frames.length === 1) expectUnchanged(before, context, hello.zone);
  t.add(`welcome ${prediction.welcome}, then ${grpc.status[ended.code]}`);
}

// --- generators -------------------------------------------------------------------------------------

const zoneNames = fc.constantFrom("zone-a", "zone-b", "zone-c");

const validHello = fc.record({
  zone: zoneNames,
  instanceId: fc.uuid({ version: 4 }),
  storeId: fc.uuid({ version: 4 }),
  version: fc.constantFrom("test", "1.2.3", ""),
  token: fc.constantFrom("", "garbage"),
  reconcile: fc.constantFrom(false, false, false, true),
});

/** A Hello whose fields are mutated one at a time (or not at all). */
const helloMutation = fc.oneof(
  fc.record({
    field: fc.constant("zone" as const),
    value: fc.oneof(
      fc.constantFrom("", "Zone-A", "zone_a", "-a", "a-", "a.b", "a".repeat(64), "ゾーン", " zone-a", "zone-a\u0000"),
      fc.string({ maxLength: 70 }),
      dnsLabel,
    ),
  }),
  fc.record({
    field: fc.constant("instanceId" as const),
    value: fc.oneof(
      fc.constantFrom(
        "",
        "not-a-uuid",
        "00000000-0000-0000-0000-00000000000g",
        "{00000000-0000-0000-0000-000000000000}",
      ),
      fc.uuid().map((u) => u.toUpperCase()),
      fc.string({ maxLength: 40 }),
    ),
  }),
  fc.record({
    field: fc.constant("storeId" as const),
    value: fc.oneof(
      fc.constantFrom("", "x"),
      fc.uuid().map((u) => u.toUpperCase()),
      fc.string({ maxLength: 40 }),
    ),
  }),
  fc.record({
    field: fc.constant("cursor" as const),
    epoch: fc.oneof(fc.constant("OURS"), fc.constant("OURS_UPPER"), fc.uuid(), fc.constantFrom("", "epoch", "0")),
    revision: fc.oneof(
      fc.constantFrom("HEAD", "HEAD+1", "0"),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n),
    ),
  }),
  fc.record({
    field: fc.constant("cursor" as const),
    epoch: fc.oneof(fc.constant("OURS"), fc.constant("OURS_UPPER"), fc.uuid(), fc.constantFrom("", "epoch", "0")),
    revision: fc.oneof(
      fc.constantFrom("HEAD", "HEAD+1", "0"),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n),
    ),
  }),
  fc.record({
    field: fc.constant("cursor" as const),
    epoch: fc.oneof(fc.constant("OURS"), fc.constant("OURS_UPPER"), fc.uuid(), fc.constantFrom("", "epoch", "0")),
    revision: fc.oneof(
      fc.constantFrom("HEAD", "HEAD+1", "0"),
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n),
    ),
  }),
  fc.record({
    field: fc.constant("version" as const),
    value: fc.oneof(fc.string({ maxLength: 20 }), fc.constant("v".repeat(100_000))),
  }),
  fc.record({ field: fc.constant("none" as const) }),
);

function mutatedHello(
  base: Record<string, unknown>,
  m: { field: string; value?: unknown; epoch?: string; revision?: unknown },
): Request {
  const hello: Record<string, unknown> = { ...base };
  if (m.field === "cursor") {
    const e = m.epoch === "OURS" ? epoch() : m.epoch === "OURS_UPPER" ? epoch().toUpperCase() : m.epoch;
    const r =
      m.revision === "HEAD"
        ? BigInt(head())
        : m.revision === "HEAD+1"
          ? BigInt(head() + 1)
          : m.revision === "0"
            ? 0n
            : m.revision;
    hello.cursor = { globalEpoch: e, revision: r };
  } else if (m.field !== "none") hello[m.field] = m.value;
  return { case: "hello", value: hello as never };
}

/** Unknown fields a newer zone might add: a SyncRequest, or a Hello inside it, with extra tags. */
const unknownFields = fc.array(
  fc.record({ number: fc.integer({ min: 8, max: 2000 }), bytes: fc.uint8Array({ maxLength: 16 }) }),
  { maxLength: 3 },
);

/** The Hello with `fields` appended as unknown length-delimited fields, framed as a SyncRequest. */
function withUnknownHelloFields(hello: Request, fields: Array<{ number: number; bytes: Uint8Array }>): Buffer {
  const inner = Buffer.from(toBinary(HelloSchema, create(HelloSchema, hello.value as never)));
  const extra = fields.map(({ number, bytes }) =>
    Buffer.concat([varint((number << 3) | 2), varint(bytes.length), Buffer.from(bytes)]),
  );
  const helloBytes = Buffer.concat([inner, ...extra]);
  return Buffer.concat([Buffer.from([0x0a]), varint(helloBytes.length), helloBytes]);
}

/** Bytes of the field tag and length varint in front of the one message a SyncRequest frame holds. */
function lengthPrefixSize(bytes: Buffer): number {
  let i = 1;
  while (i < bytes.length && ((bytes[i] as number) & 0x80) !== 0) i++;
  return i + 1;
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

// --- setup ------------------------------------------------------------------------------------------

beforeAll(async () => {
  g = await startTestGlobal({
    MOORING_SYNC_MAX_MESSAGE: `${MAX_MESSAGE}`,
    MOORING_HTTP_BODY_LIMIT: "64KiB",
    MOORING_SYNC_RECONNECT_BURST: "1000000",
  });
  db = new Database(join(g.dataDir, "global.db"), { readonly: true, fileMustExist: true });
  client = new RawClient(g.running.grpcAddress, grpc.credentials.createInsecure()) as never;
  for (const name of ["web", "api", "db"]) await putService(g.http, "default", name);
  // zone-a owns a service, so that refused writes have a zone's state to leave alone too.
  const owner = new ScriptedZone(g.running.grpcAddress);
  owner.hello({ zone: "zone-a" });
  await owner.syncedBatches(1);
  owner.upstream("zone-a", 1n, ["owned"]);
  await owner.until((r) => r.some((m) => m.message.case === "upstreamAck"));
  owner.close();
  await owner.status;
});

afterAll(async () => {
  for (const t of tallies) t.print();
  console.log(`[fuzz] global gRPC total: ${tallies.reduce((n, t) => n + t.inputs, 0)} inputs`);
  for (const s of open) s.cancel();
  client?.close();
  db?.close();
  await g?.close();
});

describe("global sync stream fuzz", () => {
  it("random bytes as frames", async () => {
    const t = tally("random frames");
    await fuzz(
      "random frames",
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 3 }), async (frames) => {
        await judgeFirst(
          frames.map((f) => Buffer.from(f)),
          t,
          `frames ${frames.map((f) => Buffer.from(f).toString("hex").slice(0, 80)).join(" ")}`,
        );
      }),
      150,
    );
  });

  it("valid messages cut at random points", async () => {
    const t = tally("truncated frames");
    const message: fc.Arbitrary<Request> = fc.oneof(
      validHello.map((h) => ({ case: "hello", value: h }) as Request),
      fc
        .tuple(validHello, fc.nat())
        .map(
          ([h, r]) =>
            ({ case: "hello", value: { ...h, cursor: { globalEpoch: randomUUID(), revision: BigInt(r) } } }) as Request,
        ),
      fc.constant<Request>({
        case: "upstream",
        value: {
          zoneRevision: 7n,
          upserts: [
            {
              key: { type: "MeshService", mesh: "default", zone: "zone-a", name: "x" },
              spec: { ports: [{ port: 80 }] },
            },
          ],
        },
      }),
      fc.constant<Request>({
        case: "inventory",
        value: {
          entries: [
            {
              key: { type: "MeshService", mesh: "default", zone: "", name: "web" },
              contentHash: "a".repeat(64),
              vips: [{ ip: "241.0.0.1" }],
              revision: 3n,
            },
          ],
          last: true,
        },
      }),
      fc.constant<Request>({ case: "ack", value: { revision: 12345n } }),
      fc.constant<Request>({
        case: "nack",
        value: { revision: 1n, errors: [{ code: "VALIDATION_FAILED", message: "x" }] },
      }),
      fc.constant<Request>({ case: "heartbeat", value: { sentAtUnixMs: 1_767_225_600_000n } }),
      fc.constant<Request>({ case: "goodbye", value: { reason: "bye", final: false } }),
    );
    await fuzz(
      "truncated frames",
      fc.asyncProperty(message, fc.nat(), fc.constantFrom("frame", "inner", "inner-tail"), async (m, cut, how) => {
        const bytes = frame(m);
        // Cut the frame itself, or only the message inside it and frame what is left correctly (a
        // Hello that lost its last fields is still a well-formed frame), most often near its end.
        const innerBytes = bytes.subarray(lengthPrefixSize(bytes));
        const keep = how === "inner-tail" ? Math.max(0, innerBytes.length - (cut % 6)) : cut % (innerBytes.length + 1);
        const truncated =
          how === "frame"
            ? bytes.subarray(0, cut % bytes.length)
            : Buffer.concat([bytes.subarray(0, 1), varint(keep), innerBytes.subarray(0, keep)]);
        const inner = how !== "frame";
        await judgeFirst(
          [truncated],
          t,
          `${m.case} ${inner ? "inner " : ""}cut at ${cut}/${bytes.length}: ${truncated.toString("hex").slice(0, 120)}`,
        );
      }),
      150,
    );
  });

  it("Hellos with mutated fields, and with fields a newer zone might add", async () => {
    const t = tally("mutated Hellos");
    await fuzz(
      "mutated hellos",
      fc.asyncProperty(validHello, helloMutation, unknownFields, async (base, m, unknown) => {
        const hello = mutatedHello(base, m);
        const bytes = unknown.length > 0 ? withUnknownHelloFields(hello, unknown) : frame(hello);
        await judgeFirst(
          [bytes],
          t,
          `${JSON.stringify(m, (_, v) => (typeof v === "bigint" ? `${v}n` : typeof v === "string" && v.length > 80 ? `${v.slice(0, 80)}…` : v))} + ${unknown.length} unknown fields`,
        );
      }),
      150,
    );
  });

  it("messages out of order end the stream with INVALID_ARGUMENT and change nothing", async () => {
    const t = tally("out-of-order messages");
    // Each message is built once the session's last sent revision (`sent`, the head) is known.
    type Step = { name: string; message: (sent: bigint) => Request | undefined; details: RegExp | "alive" };
    const step: fc.Arbitrary<Step> = fc.oneof(
      validHello.map((h) => ({
        name: "a second Hello",
        message: () => ({ case: "hello", value: h }) as Request,
        details: /^a second Hello on the same stream$/,
      })),
      fc.bigInt({ min: 1n, max: 2n ** 63n }).map((beyond) => ({
        name: "an Ack beyond what was sent",
        message: (sent: bigint) => ({ case: "ack", value: { revision: sent + beyond } }) as Request,
        details: /^ack\.revision \d+ is beyond the last revision sent \(\d+\)$/,
      })),
      fc.bigInt({ min: 1n, max: 2n ** 63n }).map((beyond) => ({
        name: "a Nack beyond what was sent",
        message: (sent: bigint) => ({ case: "nack", value: { revision: sent + beyond, errors: [] } }) as Request,
        details: /^nack\.revision \d+ is beyond the last revision sent \(\d+\)$/,
      })),
      fc.boolean().map((last) => ({
        name: "an Inventory outside RECONCILE",
        message: () => ({ case: "inventory", value: { entries: [], last } }) as Request,
        details: /^an Inventory outside a RECONCILE session's start$/,
      })),
      fc.constantFrom(0n, 2n ** 53n, 2n ** 64n - 1n).map((r) => ({
        name: "an upstream revision of 0 or past 2^53-1",
        message: () => ({ case: "upstream", value: { zoneRevision: r } }) as Request,
        details: /^upstream\.zone_revision must be a revision above 0$/,
      })),
      fc.constant({
        name: "an empty message",
        message: () => undefined,
        details: /^an empty or unknown message on a sync stream$/,
      }),
      fc.nat({ max: 3 }).map((below) => ({
        name: "an Ack of what was sent",
        message: (sent: bigint) =>
          ({ case: "ack", value: { revision: sent - BigInt(Math.min(below, Number(sent))) } }) as Request,
        details: "alive" as const,
      })),
      fc.constant({
        name: "a heartbeat",
        message: () => ({ case: "heartbeat", value: { sentAtUnixMs: -1n } }) as Request,
        details: "alive" as const,
      }),
    );
    await fuzz(
      "out of order",
      fc.asyncProperty(
        zoneNames,
        fc.boolean(),
        fc.array(step, { minLength: 1, maxLength: 3 }),
        async (zone, incremental, steps) => {
          const before = stored();
          const s = stream();
          const sent = BigInt(head());
          // FULL (no cursor) or INCREMENTAL (a cursor at the head): an Inventory is out of place in both.
          const cursor = incremental ? { cursor: { globalEpoch: epoch(), revision: sent } } : {};
          s.write(
            frame({
              case: "hello",
              value: { zone, instanceId: randomUUID(), storeId: randomUUID(), version: "test", ...cursor },
            }),
          );
          expect(await s.until((r) => r.some((m) => m.message.case === "changes" && m.message.value.last))).toBe(true);
          const welcome = s.received.find((m) => m.message.case === "welcome")?.message.value as
            | { mode: SyncMode }
            | undefined;
          expect(welcome?.mode).toBe(incremental ? SyncMode.INCREMENTAL : SyncMode.FULL);
          for (const each of steps) s.write(frame(each.message(sent)));
          const fatal = steps.find((each) => each.details !== "alive");
          if (fatal === undefined) s.end();
          const ended = await s.status_();
          const context = steps.map((each) => each.name).join(", ");
          if (fatal === undefined) {
            expect({ code: grpc.status[ended.code], details: ended.details }, context).toEqual({
              code: "OK",
              details: expect.any(String),
            });
          } else {
            expect({ code: grpc.status[ended.code], details: ended.details }, context).toEqual({
              code: "INVALID_ARGUMENT",
              details: expect.stringMatching(fatal.details as RegExp),
            });
          }
          expectUnchanged(before, context, zone);
          t.add(`${incremental ? "INCREMENTAL" : "FULL"}: ${fatal ? fatal.name : "alive"}`);
        },
      ),
      80,
    );
  });

  it("an Ack, an Inventory or an UpstreamChanges before the Hello is refused", async () => {
    const t = tally("first message not a Hello");
    const cases: Request[] = [
      { case: "ack", value: { revision: 0n } },
      { case: "nack", value: { revision: 0n } },
      { case: "inventory", value: { last: true } },
      { case: "upstream", value: { zoneRevision: 1n } },
      { case: "heartbeat", value: {} },
      { case: "goodbye", value: { reason: "bye", final: true } },
    ];
    for (const first of cases)
      await judgeFirst(
        [
          frame(first),
          frame({ case: "hello", value: { zone: "zone-b", instanceId: randomUUID(), storeId: randomUUID() } }),
        ],
        t,
        `${first.case} first`,
      );
    await judgeFirst([frame(undefined)], t, "an empty first message");
  });

  it("an Inventory entry with a bad key ends a RECONCILE session and adopts nothing", async () => {
    const t = tally("bad inventory entries");
    const badKey = fc.oneof(
      fc.constant(undefined),
      fc.record({
        type: fc.constantFrom("", "Mesh", "meshservice"),
        mesh: fc.constant("default"),
        zone: fc.constant(""),
        name: fc.constant("web"),
      }),
      fc.record({
        type: fc.constant("MeshService"),
        mesh: fc.constantFrom("", "Default", "a".repeat(64)),
        zone: fc.constant(""),
        name: fc.constant("web"),
      }),
      fc.record({
        type: fc.constant("MeshService"),
        mesh: fc.constant("default"),
        zone: fc.constantFrom("Zone", "-z", "a b"),
        name: fc.constant("web"),
      }),
      fc.record({
        type: fc.constant("MeshService"),
        mesh: fc.constant("default"),
        zone: fc.constant(""),
        name: fc.constantFrom("", "Web", "w_b", "ü"),
      }),
    );
    await fuzz(
      "bad inventory",
      fc.asyncProperty(fc.nat({ max: 3 }), badKey, async (goodBefore, key) => {
        const before = stored();
        const s = stream();
        // A cursor from another database: RECONCILE with re-adoption. The good entries claim free
        // addresses; were anything adopted before the bad entry ended the session, leases would change.
        s.write(
          frame({
            case: "hello",
            value: {
              zone: "zone-c",
              instanceId: randomUUID(),
              storeId: randomUUID(),
              cursor: { globalEpoch: randomUUID(), revision: 5n },
            },
          }),
        );
        const entries = Array.from({ length: goodBefore }, (_, i) => ({
          key: { type: "MeshService", mesh: "default", zone: "zone-c", name: `claimed-${i}` },
          contentHash: "b".repeat(64),
          vips: [{ ip: `241.0.99.${i + 1}` }],
          revision: 9n,
        }));
        s.write(frame({ case: "inventory", value: { entries, last: false } }));
        s.write(
          frame({
            case: "inventory",
            value: {
              entries: [{ ...(key ? { key } : {}), contentHash: "c".repeat(64), vips: [{ ip: "241.0.98.1" }] }],
              last: true,
            },
          }),
        );
        const ended = await s.status_();
        expect({ code: grpc.status[ended.code], details: ended.details }).toEqual({
          code: "INVALID_ARGUMENT",
          details: expect.stringMatching(/^inventory entry: key/),
        });
        expectUnchanged(before, `a bad inventory key ${JSON.stringify(key)}`, "zone-c");
        t.add("INVALID_ARGUMENT");
      }),
      40,
    );
  });

  it("UpstreamChanges mixing valid and invalid resources: the invalid are named in the UpstreamAck, only the valid apply", async () => {
    const t = tally("upstream batches");
    const ZONE = "zone-b";
    type Upsert = { valid: boolean; code?: string; message: MessageInitShape<typeof MeshServiceSchema> };
    const validUpsert = fc
      .record({
        name: fc.constantFrom("s1", "s2", "s3", "s4"),
        mesh: fc.constantFrom("default", "other"),
        ports: fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 1, maxLength: 3 }),
        appProtocol: fc.constantFrom("", "tcp", "http", "grpc"),
        label: fc.constantFrom("a", "b"),
        refName: fc.constantFrom("", "pod-1"),
      })
      .map(
        ({ name, mesh, ports, appProtocol, label, refName }): Upsert => ({
          valid: true,
          message: {
            key: { type: "MeshService", mesh, zone: ZONE, name },
            labels: { app: label },
            spec: {
              ports: ports.map((port, i) => ({ port, appProtocol, ...(ports.length > 1 ? { name: `p${i}` } : {}) })),
              ...(refName ? { selector: { dataplaneRefName: refName } } : {}),
            },
          },
        }),
      );
    const ok = { ports: [{ port: 80 }] };
    const key = (name: string, zone = ZONE, mesh = "default", type = "MeshService") => ({ type, mesh, zone, name });
    const invalid: Array<[string, MessageInitShape<typeof MeshServiceSchema>]> = [
      ["VALIDATION_FAILED", { spec: ok }],
      ["VALIDATION_FAILED", { key: key("bad-type", ZONE, "default", "Mesh"), spec: ok }],
      ["VALIDATION_FAILED", { key: key(""), spec: ok }],
      ["VALIDATION_FAILED", { key: key("Upper"), spec: ok }],
      ["VALIDATION_FAILED", { key: key("a".repeat(64)), spec: ok }],
      ["VALIDATION_FAILED", { key: key("x", ZONE, "Bad Mesh"), spec: ok }],
      ["VALIDATION_FAILED", { key: key("x", "Bad Zone"), spec: ok }],
      ["ZONE_OWNED", { key: key("theirs", "zone-a"), spec: ok }],
      ["ZONE_OWNED", { key: key("web", ""), spec: ok }],
      ["VALIDATION_FAILED", { key: key("no-spec") }],
      ["VALIDATION_FAILED", { key: key("no-ports"), spec: { ports: [] } }],
      [
        "VALIDATION_FAILED",
        {
          key: key("65-ports"),
          spec: { ports: Array.from({ length: 65 }, (_, i) => ({ port: i + 1, name: `p${i}` })) },
        },
      ],
      ["VALIDATION_FAILED", { key: key("port-0"), spec: { ports: [{ port: 0 }] } }],
      ["VALIDATION_FAILED", { key: key("port-big"), spec: { ports: [{ port: 65536 }] } }],
      ["VALIDATION_FAILED", { key: key("udp"), spec: { ports: [{ port: 80, appProtocol: "udp" }] } }],
      ["VALIDATION_FAILED", { key: key("target-0"), spec: { ports: [{ port: 80, targetPort: "0" }] } }],
      ["VALIDATION_FAILED", { key: key("target-big"), spec: { ports: [{ port: 80, targetPort: "99999" }] } }],
      ["VALIDATION_FAILED", { key: key("target-name"), spec: { ports: [{ port: 80, targetPort: "Not_A_Name" }] } }],
      ["VALIDATION_FAILED", { key: key("port-name"), spec: { ports: [{ port: 80, name: "HTTP" }] } }],
      [
        "VALIDATION_FAILED",
        {
          key: key("dup-ports"),
          spec: {
            ports: [
              { port: 80, name: "a" },
              { port: 80, name: "b" },
            ],
          },
        },
      ],
      [
        "VALIDATION_FAILED",
        {
          key: key("dup-names"),
          spec: {
            ports: [
              { port: 80, name: "a" },
              { port: 81, name: "a" },
            ],
          },
        },
      ],
      ["VALIDATION_FAILED", { key: key("unnamed"), spec: { ports: [{ port: 80 }, { port: 81, name: "b" }] } }],
      [
        "VALIDATION_FAILED",
        { key: key("identity-type"), spec: { ...ok, identities: [{ type: "Other", value: "x" }] } },
      ],
      [
        "VALIDATION_FAILED",
        { key: key("identity-empty"), spec: { ...ok, identities: [{ type: "ServiceTag", value: "" }] } },
      ],
      ["VALIDATION_FAILED", { key: key("label-key"), labels: { "bad key": "x" }, spec: ok }],
      ["VALIDATION_FAILED", { key: key("label-value"), labels: { a: "x".repeat(64) }, spec: ok }],
      ["VALIDATION_FAILED", { key: key("label-huge"), labels: { a: "x".repeat(100_000) }, spec: ok }],
      ["VALIDATION_FAILED", { key: key("tag-empty"), spec: { ...ok, selector: { dataplaneTags: { app: "" } } } }],
      ["VALIDATION_FAILED", { key: key("tag-key"), spec: { ...ok, selector: { dataplaneTags: { "-x": "y" } } } }],
    ];
    const invalidUpsert = fc
      .constantFrom(...invalid)
      .map(([code, message]): Upsert => ({ valid: false, code, message }));
    const deletes = fc.array(
      fc.oneof(
        fc.constant({ code: undefined as string | undefined, key: key("never-existed") }),
        fc.constant({ code: "ZONE_OWNED", key: key("owned", "zone-a") }),
        fc.constant({ code: "ZONE_OWNED", key: key("web", "") }),
        fc.constant({ code: "VALIDATION_FAILED", key: key("Bad") }),
        fc.constant({ code: "VALIDATION_FAILED", key: { type: "", mesh: "", zone: "", name: "" } }),
      ),
      { maxLength: 3 },
    );
    let zoneRevision = 100n;
    await fuzz(
      "upstream batches",
      fc.asyncProperty(
        fc.array(fc.oneof(validUpsert, invalidUpsert), { minLength: 1, maxLength: 8 }),
        deletes,
        async (upserts, dels) => {
          const before = stored();
          const s = stream();
          s.write(frame({ case: "hello", value: { zone: ZONE, instanceId: randomUUID(), storeId: randomUUID() } }));
          expect(await s.until((r) => r.some((m) => m.message.case === "changes" && m.message.value.last))).toBe(true);
          zoneRevision += 1n;
          const revision = zoneRevision;
          const deleteKeys = dels.map((d) => d.key);
          s.write(
            frame({
              case: "upstream",
              value: { zoneRevision: revision, upserts: upserts.map((u) => u.message), deletes: deleteKeys as never },
            }),
          );
          expect(await s.until((r) => r.some((m) => m.message.case === "upstreamAck"))).toBe(true);
          s.end();
          expect((await s.status_()).code).toBe(grpc.status.OK);
          const ack = s.received.find((m) => m.message.case === "upstreamAck")?.message.value as {
            zoneRevision: bigint;
            rejected: Array<{ key?: unknown; code: string }>;
          };
          const expected = [
            ...upserts.filter((u) => !u.valid).map((u) => ({ code: u.code, key: u.message.key })),
            ...dels.filter((d) => d.code).map((d) => ({ code: d.code, key: d.key })),
          ];
          expect(ack.zoneRevision).toBe(revision);
          const plain = (k: { type?: string; mesh?: string; zone?: string; name?: string } | undefined) =>
            k && { type: k.type ?? "", mesh: k.mesh ?? "", zone: k.zone ?? "", name: k.name ?? "" };
          const got = ack.rejected.map((r) => ({ code: r.code, key: plain(r.key as never) }));
          const want = expected.map((e) => ({ code: e.code, key: plain(e.key) }));
          expect(got, `UpstreamAck.rejected ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`).toEqual(want);
          // Only the valid upserts changed anything: each key holds the last valid content sent for it.
          const after = stored();
          const written = new Map<string, MessageInitShape<typeof MeshServiceSchema>>();
          for (const u of upserts)
            if (u.valid && u.message.key) written.set(`${u.message.key.mesh}/${u.message.key.name}`, u.message);
          const id = (row: { mesh: string; zone: string; name: string }) => `${row.mesh}/${row.name}`;
          const untouched = (rows: unknown[]) =>
            (rows as Array<{ mesh: string; zone: string; name: string }>).filter(
              (row) => row.zone !== ZONE || !written.has(id(row)),
            );
          expect(untouched(after.resources)).toEqual(untouched(before.resources));
          expect(untouched(after.leases)).toEqual(untouched(before.leases));
          for (const [name, message] of written) {
            const row = (
              after.resources as Array<{ mesh: string; zone: string; name: string; spec: string; labels: string }>
            ).find((r) => r.zone === ZONE && id(r) === name);
            expect(row, name).toBeDefined();
            const spec = JSON.parse(row?.spec ?? "{}") as { ports: Array<{ port: number }> };
            expect(spec.ports.map((p) => p.port)).toEqual(message.spec?.ports?.map((p) => p.port));
            expect(JSON.parse(row?.labels ?? "{}")).toEqual(message.labels);
            const leases = (after.leases as Array<{ mesh: string; zone: string; name: string; state: string }>).filter(
              (l) => l.zone === ZONE && id(l) === name,
            );
            expect(leases.map((l) => l.state)).toEqual(["bound"]);
          }
          t.add("upserts applied", upserts.filter((u) => u.valid).length);
          t.add("resources rejected in the UpstreamAck", expected.length);
          t.add("deletes of nothing (unchanged)", dels.filter((d) => !d.code).length);
        },
      ),
      60,
    );
  });

  it("a frame over the size limit ends the stream with RESOURCE_EXHAUSTED, before or after the Hello", async () => {
    const t = tally("oversized frames");
    await fuzz(
      "oversized frames",
      fc.asyncProperty(
        fc.integer({ min: MAX_MESSAGE + 1, max: 2 * MAX_MESSAGE }),
        fc.boolean(),
        async (size, afterHello) => {
          const before = stored();
          const s = stream();
          if (afterHello)
            s.write(
              frame({ case: "hello", value: { zone: "zone-c", instanceId: randomUUID(), storeId: randomUUID() } }),
            );
          // An UpstreamChanges that would be valid but for its size.
          s.write(
            frame({
              case: "upstream",
              value: {
                zoneRevision: 1n,
                deletes: [{ type: "MeshService", mesh: "default", zone: "zone-c", name: "x".repeat(size) }],
              },
            }),
          );
          const ended = await s.status_();
          expect(grpc.status[ended.code]).toBe("RESOURCE_EXHAUSTED");
          expectUnchanged(before, `a ${size}-byte frame`, afterHello ? "zone-c" : undefined);
          t.add("RESOURCE_EXHAUSTED");
        },
      ),
      10,
    );
  });

  it("broken gRPC framing over HTTP/2 gets a status, never a hang", async () => {
    const t = tally("HTTP/2 framing");
    const session = connectHttp2(`http://${g.running.grpcAddress}`);
    session.on("error", () => {});
    const hello = frame({ case: "hello", value: { zone: "zone-c", instanceId: randomUUID(), storeId: randomUUID() } });
    const prefix = (compressed: number, length: number) =>
      Buffer.from([compressed, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
    const cases: Array<{
      what: string;
      headers?: Record<string, string>;
      body: Buffer;
      expect: (h: Record<string, string | undefined>) => void;
    }> = [
      // The gRPC spec says INTERNAL; grpc-js reads the frame as uncompressed, so this Hello is welcomed
      // and the stream ends OK when the request half-closes. Either way: a status, nothing stored.
      {
        what: "a compressed flag without grpc-encoding",
        body: Buffer.concat([prefix(1, hello.length), hello]),
        expect: (h) => expect(["0", "13"]).toContain(h["grpc-status"]),
      },
      // A frame cut short by the end of the request: grpc-js drops it, the session sees no message and
      // the half-close, and ends OK (or INTERNAL, as the gRPC spec would have it).
      {
        what: "a length prefix longer than the body",
        body: Buffer.concat([prefix(0, hello.length + 50), hello]),
        expect: (h) => expect(["0", "13"]).toContain(h["grpc-status"]),
      },
      {
        what: "a 3-byte prefix",
        body: Buffer.from([0, 0, 0]),
        expect: (h) => expect(["0", "13"]).toContain(h["grpc-status"]),
      },
      {
        what: "a length prefix of 4 GiB",
        body: Buffer.concat([prefix(0, 0xffffffff), hello]),
        expect: (h) => expect(h["grpc-status"]).toBe(String(grpc.status.RESOURCE_EXHAUSTED)),
      },
      {
        what: "an unknown method",
        headers: { ":path": "/mooring.v1.ZoneSyncService/Nope" },
        body: Buffer.concat([prefix(0, hello.length), hello]),
        expect: (h) => expect(h["grpc-status"]).toBe(String(grpc.status.UNIMPLEMENTED)),
      },
      {
        what: "a content-type that is not gRPC",
        headers: { "content-type": "application/json" },
        body: Buffer.from("{}"),
        expect: (h) => expect(h[":status"]).toBe("415"),
      },
      {
        what: "a compression the server does not know",
        headers: { "grpc-encoding": "snappy" },
        body: Buffer.concat([prefix(1, hello.length), hello]),
        expect: (h) => expect(h["grpc-status"]).toBe(String(grpc.status.UNIMPLEMENTED)),
      },
    ];
    for (const c of cases) {
      const before = stored();
      const answer = await new Promise<Record<string, string | undefined>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${c.what}: no status within ${BOUND_MS} ms`)), BOUND_MS);
        const req = session.request({
          [h2.HTTP2_HEADER_METHOD]: "POST",
          [h2.HTTP2_HEADER_PATH]: "/mooring.v1.ZoneSyncService/Sync",
          "content-type": "application/grpc",
          te: "trailers",
          ...c.headers,
        });
        const seen: Record<string, string | undefined> = {};
        const finish = () => {
          clearTimeout(timer);
          resolve(seen);
        };
        req.on("response", (headers) => {
          for (const [k, v] of Object.entries(headers)) seen[k] = String(v);
          if (headers["grpc-status"] !== undefined || headers[":status"] !== 200) finish();
        });
        req.on("trailers", (trailers) => {
          for (const [k, v] of Object.entries(trailers)) seen[k] = String(v);
          finish();
        });
        req.on("data", () => {});
        req.on("close", finish);
        req.on("error", () => finish());
        req.end(c.body);
      });
      c.expect(answer);
      expectUnchanged(before, c.what, "zone-c");
      t.add(answer["grpc-status"] ? `grpc-status ${answer["grpc-status"]}` : `:status ${answer[":status"]}`);
    }
    session.close();
  });

  it("after all of it, a well-behaved zone still syncs everything, and the global is ready", async () => {
    await putService(g.http, "default", "after-fuzz");
    const zone = new ScriptedZone(g.running.grpcAddress);
    zone.hello({ zone: "zone-healthy" });
    const [snapshot] = await zone.syncedBatches(1);
    const names = zone
      .changes()
      .flatMap((c) => c.upserts.map((u: MeshService) => `${u.key?.mesh}/${u.key?.zone}/${u.key?.name}`))
      .sort();
    const rows = (
      db.prepare("SELECT mesh, zone, name FROM resources ORDER BY mesh, zone, name").all() as Array<{
        mesh: string;
        zone: string;
        name: string;
      }>
    ).map((r) => `${r.mesh}/${r.zone}/${r.name}`);
    expect(names).toEqual(rows.sort());
    expect(snapshot?.toRevision).toBe(BigInt(head()));
    zone.close();
    expect(await zone.status).toBe("ended");
    expect((await fetch(`${g.http}/readyz`)).status).toBe(200);
  });
});
