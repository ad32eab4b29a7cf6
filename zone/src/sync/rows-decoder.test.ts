// Whole frames through the rows decoder: what it takes becomes the rows and keys the general path
// (decodeSyncResponse, then decodeMeshService and decodeKey) gives, and everything else is left to
// that path. decode.property.test.ts covers single resources of every shape.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { type Changes, decodeSyncResponse, MeshServiceSchema, SyncResponseSchema } from "@mooring/proto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { changes, createTempStore, EPOCH, key, meshService, silentLogger, type TempStore } from "../test-support.js";
import { createApplier } from "./apply.js";
import { decodeKey, decodeMeshService } from "./decode.js";
import { decodeChangesRows, decodeSyncFrame, isDecodedChanges } from "./rows-decoder.js";

function frame(message: Changes): Buffer {
  return Buffer.from(
    toBinary(SyncResponseSchema, create(SyncResponseSchema, { message: { case: "changes", value: message } })),
  );
}

/** What the general path makes of a frame's resources. */
function general(bytes: Buffer) {
  const response = decodeSyncResponse(bytes);
  if (response.message.case !== "changes") throw new Error("not a Changes frame");
  const message = response.message.value;
  return {
    upserts: message.upserts.map((upsert) => decodeMeshService(upsert)),
    deletes: message.deletes.map((deleted) => decodeKey(deleted)),
  };
}

/** `message`'s first resource with an unknown field (number 15) appended, as a newer global might send. */
function withUnknownField(message: Changes): Buffer {
  const service = message.upserts[0];
  if (!service) throw new Error("no upsert");
  const writer = new BinaryWriter();
  writer.raw(toBinary(MeshServiceSchema, service));
  writer.tag(15, WireType.Varint).uint32(1);
  const extended = fromBinary(MeshServiceSchema, writer.finish());
  return frame({ ...message, upserts: [extended, ...message.upserts.slice(1)] });
}

describe("decoding Changes frames into rows", () => {
  const message = changes(5, 9, {
    upserts: [
      meshService("web", { vips: ["241.0.0.1"], labels: { app: "web", team: "payments" } }),
      meshService("api", { zone: "west", vips: ["241.0.0.2", "fd00::2"], revision: 8 }),
      meshService("db", { mesh: "payments" }),
    ],
    deletes: [key("old"), key("gone", { zone: "east" })],
    last: false,
  });

  it("gives the general path's rows and keys, and the batch's revisions as numbers", () => {
    const bytes = frame(message);
    const decoded = decodeChangesRows(bytes);
    const expected = general(bytes);
    expect(decoded).toStrictEqual({
      kind: "decoded-changes",
      fromRevision: 5,
      toRevision: 9,
      last: false,
      upserts: expected.upserts.map((row) => (row.ok ? row.value : undefined)),
      deletes: expected.deletes.map((id) => (id.ok ? id.value : undefined)),
    });
    expect(decodeSyncFrame(bytes)).toStrictEqual(decoded);
    expect(isDecodedChanges(decodeSyncFrame(bytes))).toBe(true);
  });

  it("leaves a frame with a refused resource or key to the general path, which names the problem", () => {
    for (const bad of [
      changes(5, 9, { upserts: [meshService("web"), meshService("api", { port: 0 })] }),
      changes(5, 9, { upserts: [meshService("web")], deletes: [key("Not-A-Label")] }),
    ]) {
      const bytes = frame(bad);
      expect(decodeChangesRows(bytes)).toBeUndefined();
      expect(decodeSyncFrame(bytes)).toStrictEqual(decodeSyncResponse(bytes));
      const { upserts, deletes } = general(bytes);
      expect([...upserts, ...deletes].some((decoded) => !decoded.ok)).toBe(true);
    }
  });

  it("never assigns a label key an object would take for its prototype", () => {
    const labels = JSON.parse('{"app": "web", "__proto__": "x"}') as Record<string, string>;
    const bytes = frame(changes(5, 9, { upserts: [meshService("web", { labels })] }));
    expect(bytes.includes("__proto__")).toBe(true);
    expect(decodeChangesRows(bytes)).toBeUndefined();
  });

  it("leaves frames it does not fully understand to the general path", () => {
    const bytes = frame(message);
    const welcome = Buffer.from(
      toBinary(
        SyncResponseSchema,
        create(SyncResponseSchema, { message: { case: "welcome", value: { sessionId: "s", globalEpoch: EPOCH } } }),
      ),
    );
    const unusual = {
      "an unknown field": withUnknownField(message),
      "trailing bytes": Buffer.concat([bytes, Buffer.from([0x08, 0x01])]),
      "a truncated frame": bytes.subarray(0, bytes.length - 3),
      "a Welcome": welcome,
    };
    for (const [what, unusualBytes] of Object.entries(unusual)) {
      expect(decodeChangesRows(unusualBytes), what).toBeUndefined();
    }
    expect(decodeSyncFrame(unusual["an unknown field"])).toStrictEqual(decodeSyncResponse(unusual["an unknown field"]));
    expect(decodeSyncFrame(welcome)).toStrictEqual(fromBinary(SyncResponseSchema, welcome));
    expect(() => decodeSyncFrame(unusual["a truncated frame"])).toThrow();
  });

  it("takes revisions up to 2^53-1 and leaves larger ones to the general path", () => {
    const largest = Number.MAX_SAFE_INTEGER;
    const service = meshService("web");
    service.revision = BigInt(largest);
    const decoded = decodeChangesRows(frame(changes(0, largest, { upserts: [service] })));
    expect(decoded?.toRevision).toBe(largest);
    expect(decoded?.upserts[0]?.revision).toBe(largest);

    const past = changes(0, 0, { upserts: [meshService("web")] });
    past.toRevision = 2n ** 53n;
    expect(decodeChangesRows(frame(past))).toBeUndefined();
    const created = meshService("web");
    created.creationTimeUnixMs = 2n ** 53n;
    expect(decodeChangesRows(frame(changes(0, 1, { upserts: [created] })))).toBeUndefined();
  });
});

describe("applying a frame decoded into rows", () => {
  let a: TempStore;
  let b: TempStore;
  beforeEach(() => {
    a = createTempStore();
    b = createTempStore();
  });
  afterEach(() => {
    a.cleanup();
    b.cleanup();
  });

  it("stores and reports what applying the message does", () => {
    const batches = [
      changes(0, 4, { upserts: [meshService("web", { vips: ["241.0.0.1"] }), meshService("api")] }),
      changes(4, 6, {
        upserts: [meshService("web", { vips: ["241.0.0.1"], labels: { app: "web" }, revision: 6 })],
        deletes: [key("api")],
      }),
    ];
    const outcomes = [a, b].map((t, i) => {
      const session = createApplier(t.store, silentLogger).session({ mode: "full", epoch: EPOCH });
      return batches.map((batch) => {
        if (i === 0) return session.apply(batch);
        const decoded = decodeChangesRows(frame(batch));
        if (!decoded) throw new Error("the rows decoder left a batch alone");
        return session.apply(decoded);
      });
    });
    expect(outcomes[1]).toStrictEqual(outcomes[0]);
    expect(b.store.allSynced()).toStrictEqual(a.store.allSynced());
    expect(b.store.cursor()).toStrictEqual({ epoch: EPOCH, revision: 6 });
  });
});
