// The hand-written MeshService encoder and the frame builder must produce exactly the bytes
// protobuf-es would: zones decode them with the generated code, and a field the encoder forgot or
// wrote differently would be silently lost on every zone.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { MeshServiceSchema, SyncResponseSchema } from "@mooring/proto";
import { APP_PROTOCOLS, type MeshServiceRecord, type MeshServiceSpec } from "@mooring/shared";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createBatchBuilder,
  encodeDelete,
  encodeMeshService,
  encodeMeshServiceFast,
  encodeMeshServiceLatin1,
  MAX_RESOURCES_PER_MESSAGE,
} from "./encode.js";

// Any text, including multi-byte UTF-8, surrogate pairs and strings long enough for 2-byte lengths.
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc.string({ minLength: 40, maxLength: 200 }),
  fc.string({ unit: "binary", minLength: 30, maxLength: 120 }),
  fc.constantFrom("", "1", "10", "é", "日本語", "😀"),
);
const dict = fc.dictionary(text, text, { maxKeys: 4 });
const time = fc.oneof(fc.constant(0), fc.integer({ min: -1e15, max: 2 ** 53 - 1 }), fc.constant(1_795_217_659_779));

const spec: fc.Arbitrary<MeshServiceSpec> = fc.record(
  {
    selector: fc.record({ dataplaneTags: dict, dataplaneRef: fc.record({ name: text }) }, { requiredKeys: [] }),
    ports: fc.array(
      fc.record(
        {
          name: text,
          port: fc.integer({ min: 0, max: 65535 }),
          targetPort: fc.oneof(fc.integer({ min: 0, max: 65535 }), text),
          appProtocol: fc.constantFrom(...APP_PROTOCOLS),
        },
        { requiredKeys: ["port", "appProtocol"] },
      ),
      { maxLength: 4 },
    ),
    identities: fc.array(
      fc.record({ type: fc.constantFrom("ServiceTag" as const, "SpiffeID" as const), value: text }),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: ["ports"] },
);

const service: fc.Arbitrary<MeshServiceRecord> = fc.record({
  mesh: text,
  zone: text,
  name: text,
  labels: dict,
  spec,
  vips: fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), text), { maxLength: 3 }),
  contentHash: fc.oneof(fc.constant(""), fc.stringMatching(/^[0-9a-f]{64}$/)),
  revision: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 53 - 1 })),
  creationTime: time,
  modificationTime: time,
});

const key = fc.record({ mesh: text, zone: text, name: text });

/** The frame builder as it was before upserts were written in place: the reference for the bytes. */
function referenceFrames(
  from: number,
  to: number,
  maxMessageBytes: number,
  entries: ReadonlyArray<{ kind: "upsert" | "delete"; bytes: Uint8Array }>,
): Buffer[] {
  const frames: Buffer[] = [];
  let upserts: Uint8Array[] = [];
  let deletes: Uint8Array[] = [];
  let size = 64;
  const cut = (last: boolean) => {
    const changes = new BinaryWriter();
    if (from > 0) changes.tag(1, WireType.Varint).uint64(from);
    if (to > 0) changes.tag(2, WireType.Varint).uint64(to);
    for (const upsert of upserts) changes.tag(3, WireType.LengthDelimited).bytes(upsert);
    for (const deleted of deletes) changes.tag(4, WireType.LengthDelimited).bytes(deleted);
    if (last) changes.tag(5, WireType.Varint).bool(true);
    frames.push(Buffer.from(new BinaryWriter().tag(2, WireType.LengthDelimited).bytes(changes.finish()).finish()));
    upserts = [];
    deletes = [];
    size = 64;
  };
  for (const entry of entries) {
    const cost = entry.bytes.byteLength + 11;
    if (size + cost > maxMessageBytes || upserts.length + deletes.length >= MAX_RESOURCES_PER_MESSAGE) cut(false);
    (entry.kind === "upsert" ? upserts : deletes).push(entry.bytes);
    size += cost;
  }
  cut(true);
  return frames;
}

describe("MeshService encoder", () => {
  it("writes the same bytes as protobuf-es for any service", () => {
    fc.assert(
      fc.property(service, (s) => {
        expect(Buffer.from(encodeMeshServiceFast(s))).toEqual(Buffer.from(encodeMeshService(s)));
      }),
      { numRuns: 1000 },
    );
  });

  it("round-trips a typical service through the generated decoder", () => {
    const s: MeshServiceRecord = {
      mesh: "default",
      zone: "east",
      name: "web",
      labels: { app: "web", "2": "integer-like keys come first", team: "payments" },
      spec: {
        selector: { dataplaneTags: { app: "web" }, dataplaneRef: { name: "web-0" } },
        ports: [{ name: "http", port: 8080, targetPort: "http-alt", appProtocol: "http" }],
        identities: [{ type: "SpiffeID", value: "spiffe://mesh/web" }],
      },
      vips: ["241.0.0.7", "fd00:241::7"],
      contentHash: "a".repeat(64),
      revision: 12,
      creationTime: 1_795_217_659_779,
      modificationTime: 1_795_217_659_780,
    };
    const decoded = fromBinary(MeshServiceSchema, encodeMeshServiceFast(s));
    expect(decoded.key).toMatchObject({ type: "MeshService", mesh: "default", zone: "east", name: "web" });
    expect(decoded.labels).toEqual(s.labels);
    expect(decoded.spec?.ports[0]).toMatchObject({ name: "http", port: 8080, targetPort: "http-alt" });
    expect(decoded.spec?.selector?.dataplaneRefName).toBe("web-0");
    expect(decoded.vips.map((v) => v.ip)).toEqual(["241.0.0.7", "fd00:241::7"]);
    expect(decoded.revision).toBe(12n);
    expect(decoded.modificationTimeUnixMs).toBe(1_795_217_659_780n);
  });
});

describe("batch builder", () => {
  const entry = fc.oneof(
    fc.record({ kind: fc.constant("upsert" as const), service, how: fc.constantFrom("bytes", "inPlace", "latin1") }),
    fc.record({ kind: fc.constant("delete" as const), key }),
  );

  it("cuts frames exactly as encoding each Changes message would, in place, from bytes or from a latin1 string", () => {
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 40 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 2_000, max: 20_000 }),
        (entries, from, to, max) => {
          const encoded = entries.map((e) =>
            e.kind === "delete" ? encodeDelete(e.key) : encodeMeshService(e.service),
          );
          // A resource too large for any message is refused (tested below), not split.
          fc.pre(encoded.every((bytes) => bytes.byteLength + 11 + 64 <= max));
          const builder = createBatchBuilder(from, to, max);
          const reference: Array<{ kind: "upsert" | "delete"; bytes: Uint8Array }> = [];
          const frames: Buffer[] = [];
          entries.forEach((e, i) => {
            const bytes = encoded[i] as Uint8Array;
            if (e.kind === "delete") {
              reference.push({ kind: "delete", bytes });
              builder.delete(bytes);
            } else {
              reference.push({ kind: "upsert", bytes });
              if (e.how === "inPlace") builder.upsertService(e.service);
              else if (e.how === "latin1") builder.upsertLatin1(encodeMeshServiceLatin1(e.service));
              else builder.upsert(bytes);
            }
            frames.push(...builder.take());
          });
          const batch = builder.finish();
          frames.push(...batch.frames);
          expect(frames).toEqual(referenceFrames(from, to, max, reference));
          for (const frame of frames) expect(frame.byteLength).toBeLessThanOrEqual(max);
          expect(batch.resources).toBe(entries.length);
        },
      ),
      // Large inputs shrink slowly: report the first counterexample as found.
      { numRuns: 200, endOnFailure: true },
    );
  });

  it("splits a large snapshot by count and by size, and every frame decodes", () => {
    const builder = createBatchBuilder(0, 70_000, 64 * 1024);
    const big = "x".repeat(300);
    for (let i = 0; i < 2500; i++) {
      builder.upsertService({
        mesh: "default",
        zone: "",
        name: `svc-${i}`,
        labels: { app: i % 7 === 0 ? big : `svc-${i}` },
        spec: { ports: [{ name: "http", port: 8080, appProtocol: "http" }] },
        vips: [`241.0.${i >> 8}.${i & 255}`],
        contentHash: "0".repeat(64),
        revision: i + 1,
        creationTime: 1,
        modificationTime: 2,
      });
    }
    const batch = builder.finish();
    let names: string[] = [];
    batch.frames.forEach((frame, i) => {
      expect(frame.byteLength).toBeLessThanOrEqual(64 * 1024);
      const message = fromBinary(SyncResponseSchema, frame).message;
      if (message.case !== "changes") throw new Error("not a Changes frame");
      expect(message.value.toRevision).toBe(70_000n);
      expect(message.value.last).toBe(i === batch.frames.length - 1);
      names = names.concat(message.value.upserts.map((u) => u.key?.name ?? ""));
    });
    expect(names).toEqual(Array.from({ length: 2500 }, (_, i) => `svc-${i}`));
    expect(batch.resources).toBe(2500);
    expect(batch.bytes).toBe(batch.frames.reduce((sum, f) => sum + f.byteLength, 0));
  });

  it("refuses a resource that cannot fit any message, and stays usable", () => {
    const builder = createBatchBuilder(0, 1, 1000);
    const huge = {
      mesh: "default",
      zone: "",
      name: "huge",
      labels: { big: "x".repeat(2000) },
      spec: { ports: [{ port: 1, appProtocol: "tcp" as const }] },
      vips: [],
      contentHash: "",
      revision: 1,
      creationTime: 1,
      modificationTime: 1,
    };
    expect(() => builder.upsertService(huge)).toThrow(/cannot fit a 1000-byte message/);
    builder.upsertService({ ...huge, labels: {} });
    const frames = builder.finish().frames;
    const message = fromBinary(SyncResponseSchema, frames[0] as Buffer).message;
    expect(message.case === "changes" && message.value.upserts.map((u) => u.key?.name)).toEqual(["huge"]);
    expect(
      toBinary(SyncResponseSchema, create(SyncResponseSchema, fromBinary(SyncResponseSchema, frames[0] as Buffer))),
    ).toEqual(new Uint8Array(frames[0] as Buffer));
  });
});
