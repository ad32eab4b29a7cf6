// The fast path for Changes frames must decode to exactly what fromBinary gives, and must leave every
// frame it does not fully understand (unknown fields, merges, malformed bytes) to fromBinary.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeChangesFrame, decodeSyncResponse } from "./changes-decoder.js";
import { MeshServiceSchema, ResourceKeySchema } from "./gen/mooring/v1/resources_pb.js";
import { type SyncResponse, SyncResponseSchema } from "./gen/mooring/v1/sync_pb.js";

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", minLength: 30, maxLength: 120 }),
  fc.constantFrom("", "\uFEFFbom", "é", "日本語", "😀"),
);
const dict = fc.dictionary(text, text, { maxKeys: 3 });
// Mostly values below 2^49 (what the global sends), sometimes any 64-bit value.
const uint64 = fc.oneof(
  { arbitrary: fc.bigInt({ min: 0n, max: 2n ** 48n }), weight: 20 },
  { arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), weight: 1 },
);
const int64 = fc.oneof(
  { arbitrary: fc.bigInt({ min: 0n, max: 2n ** 48n }), weight: 20 },
  { arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), weight: 1 },
);
const key = fc.record({ type: text, mesh: text, zone: text, name: text });
const meshService = fc.record(
  {
    key,
    labels: dict,
    spec: fc.record(
      {
        selector: fc.record({ dataplaneTags: dict, dataplaneRefName: text }, { requiredKeys: [] }),
        ports: fc.array(
          fc.record(
            { name: text, port: fc.nat({ max: 2 ** 32 - 1 }), targetPort: text, appProtocol: text },
            { requiredKeys: [] },
          ),
          { maxLength: 3 },
        ),
        identities: fc.array(fc.record({ type: text, value: text }, { requiredKeys: [] }), { maxLength: 2 }),
      },
      { requiredKeys: [] },
    ),
    vips: fc.array(fc.record({ ip: text }, { requiredKeys: [] }), { maxLength: 3 }),
    contentHash: text,
    revision: uint64,
    creationTimeUnixMs: int64,
    modificationTimeUnixMs: int64,
  },
  { requiredKeys: [] },
);
const changes = fc.record({
  fromRevision: uint64,
  toRevision: uint64,
  upserts: fc.array(meshService, { maxLength: 6 }),
  deletes: fc.array(key, { maxLength: 3 }),
  last: fc.boolean(),
});

function frameOf(value: Parameters<typeof create<typeof SyncResponseSchema>>[1]): Buffer {
  return Buffer.from(toBinary(SyncResponseSchema, create(SyncResponseSchema, value)));
}

function changesFrame(changesBytes: Uint8Array): Buffer {
  return Buffer.from(new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(changesBytes).finish());
}

/** Changes bytes around one MeshService given as raw bytes. */
function oneUpsert(meshServiceBytes: Uint8Array): Buffer {
  return changesFrame(
    new BinaryWriter()
      .tag(2, WireType.Varint)
      .uint64(9)
      .tag(3, WireType.LengthDelimited)
      .bytes(meshServiceBytes)
      .tag(5, WireType.Varint)
      .bool(true)
      .finish(),
  );
}

const typical = toBinary(
  MeshServiceSchema,
  create(MeshServiceSchema, {
    key: { type: "MeshService", mesh: "default", zone: "", name: "web" },
    labels: { app: "web" },
    spec: { ports: [{ name: "http", port: 8080, appProtocol: "http" }] },
    vips: [{ ip: "241.0.0.1" }],
    contentHash: "a".repeat(64),
    revision: 3n,
    creationTimeUnixMs: 1n,
    modificationTimeUnixMs: 2n,
  }),
);

describe("Changes fast path", () => {
  it("decodes any Changes frame exactly as fromBinary does", () => {
    let fast = 0;
    fc.assert(
      fc.property(changes, (value) => {
        const frame = frameOf({ message: { case: "changes", value } });
        const reference = fromBinary(SyncResponseSchema, frame);
        expect(decodeSyncResponse(frame)).toStrictEqual(reference);
        // Frames as the global encodes them never need the slow path. Varints of 8 bytes or more
        // (revisions of 2^49 and above, negative times) are left to it by design.
        const small = (n: bigint) => n >= 0n && n < 2n ** 49n;
        const upserts = value.upserts ?? [];
        const fits =
          small(value.fromRevision) &&
          small(value.toRevision) &&
          upserts.every(
            (u) =>
              small(u.revision ?? 0n) && small(u.creationTimeUnixMs ?? 0n) && small(u.modificationTimeUnixMs ?? 0n),
          );
        if (fits) {
          expect(decodeChangesFrame(frame)).toStrictEqual(reference);
          fast++;
        }
      }),
      { numRuns: 500 },
    );
    expect(fast).toBeGreaterThan(100);
  });

  it("reads varints at the fast path's limits exactly, and leaves longer ones to fromBinary", () => {
    for (const [revision, fastPath] of [
      [2n ** 49n - 1n, true],
      [2n ** 42n, true],
      [2n ** 49n, false],
      [2n ** 64n - 1n, false],
    ] as const) {
      const frame = frameOf({
        message: { case: "changes", value: { fromRevision: revision, toRevision: revision, last: true } },
      });
      const reference = fromBinary(SyncResponseSchema, frame);
      expect(decodeSyncResponse(frame)).toStrictEqual(reference);
      if (fastPath) expect(decodeChangesFrame(frame)).toStrictEqual(reference);
      else expect(() => decodeChangesFrame(frame)).toThrow();
    }
  });

  it("leaves other messages to fromBinary", () => {
    const frame = frameOf({ message: { case: "heartbeat", value: { sentAtUnixMs: 5n } } });
    expect(() => decodeChangesFrame(frame)).toThrow();
    expect(decodeSyncResponse(frame)).toStrictEqual(fromBinary(SyncResponseSchema, frame));
  });

  it("keeps an unknown field from a newer global (by leaving the frame to fromBinary)", () => {
    const withUnknown = new Uint8Array([...typical, ...new BinaryWriter().tag(15, WireType.Varint).uint32(7).finish()]);
    const frame = oneUpsert(withUnknown);
    expect(() => decodeChangesFrame(frame)).toThrow();
    const decoded = decodeSyncResponse(frame);
    expect(decoded).toStrictEqual(fromBinary(SyncResponseSchema, frame));
    const upsert = decoded.message.case === "changes" ? decoded.message.value.upserts[0] : undefined;
    expect(upsert?.$unknown?.map((u) => [u.no, u.wireType, [...u.data]])).toEqual([[15, WireType.Varint, [7]]]);
    expect(upsert?.key?.name).toBe("web");
  });

  it("merges a repeated key field as protobuf does", () => {
    const second = new BinaryWriter()
      .tag(1, WireType.LengthDelimited)
      .bytes(toBinary(ResourceKeySchema, create(ResourceKeySchema, { zone: "east" })))
      .finish();
    const frame = oneUpsert(new Uint8Array([...typical, ...second]));
    const decoded = decodeSyncResponse(frame);
    expect(decoded).toStrictEqual(fromBinary(SyncResponseSchema, frame));
    const upsert = decoded.message.case === "changes" ? decoded.message.value.upserts[0] : undefined;
    expect(upsert?.key).toMatchObject({ mesh: "default", zone: "east", name: "web" });
  });

  it("reads a map entry without its key or value as an empty string, like fromBinary", () => {
    const entry = new BinaryWriter().tag(2, WireType.LengthDelimited).string("only-value").finish();
    const labels = new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(entry).finish();
    const frame = oneUpsert(new Uint8Array([...typical, ...labels]));
    const decoded = decodeChangesFrame(frame);
    expect(decoded).toStrictEqual(fromBinary(SyncResponseSchema, frame));
    expect(decoded.message.case === "changes" && decoded.message.value.upserts[0]?.labels).toEqual({
      app: "web",
      "": "only-value",
    });
  });

  it("fails where fromBinary fails: invalid UTF-8, a truncated frame", () => {
    const badUtf8 = oneUpsert(
      new Uint8Array([
        ...typical,
        ...new BinaryWriter()
          .tag(5, WireType.LengthDelimited)
          .bytes(new Uint8Array([0xc3, 0x28]))
          .finish(),
      ]),
    );
    const truncated = frameOf({
      message: { case: "changes", value: { upserts: [fromBinary(MeshServiceSchema, typical)] } },
    }).subarray(0, 40);
    for (const frame of [badUtf8, truncated]) {
      let reference: SyncResponse | Error;
      try {
        reference = fromBinary(SyncResponseSchema, frame);
      } catch (error) {
        reference = error as Error;
      }
      if (reference instanceof Error) expect(() => decodeSyncResponse(frame)).toThrow(reference.message);
      else expect(decodeSyncResponse(frame)).toStrictEqual(reference);
    }
  });
});
