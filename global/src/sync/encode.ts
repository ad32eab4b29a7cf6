// Builds `SyncResponse{changes}` frames from resources encoded once. Each resource is encoded a
// single time and the frame is assembled from those bytes, so a batch has an exact size before it is
// sent, is split to stay under the message limit, and can be written as is to every zone.
//
// A MeshService is written straight into the frame's buffer by a hand-written encoder
// (`writeMeshService`): a snapshot of 100,000 services through protobuf-es's reflective `toBinary`
// spent most of its time building intermediate messages and small Uint8Arrays. The encoder writes
// exactly the bytes `toBinary(MeshServiceSchema, meshServiceToProto(service))` gives (field order,
// proto3 defaults left out, map entries in key order); encode.test.ts checks that on generated
// services, so a field added to resources.proto must be added here too.
import { create, toBinary } from "@bufbuild/protobuf";
import { MeshServiceSchema, ResourceKeySchema } from "@mooring/proto";
import { keyToProto, MESH_SERVICE, type MeshServiceRecord, meshServiceToProto } from "@mooring/shared";
import type { ServiceIdentity } from "../store/types.js";

// Field numbers of SyncResponse.changes and of Changes (proto/schema/mooring/v1/sync.proto).
const RESPONSE_CHANGES = 2;
const CHANGES_FROM = 1;
const CHANGES_TO = 2;
const CHANGES_UPSERTS = 3;
const CHANGES_DELETES = 4;
const CHANGES_LAST = 5;

/** Most resources per message: bounds the zone's transaction per message as well as its size. */
export const MAX_RESOURCES_PER_MESSAGE = 1000;
// Tags, length prefixes and the revision fields of a frame, with room to spare.
const FRAME_OVERHEAD = 64;
// Room kept in front of a frame's entries for its header: SyncResponse tag and length (1 + 5), and
// Changes' from/to revisions (2 x (1 + 10)). The header is written right-aligned into it at the cut.
const HEADER_ROOM = 28;

export interface EncodedBatch {
  readonly from: number;
  readonly to: number;
  /** Encoded SyncResponse frames; the last one carries `last = true`. */
  readonly frames: readonly Buffer[];
  readonly resources: number;
  readonly bytes: number;
}

/** The reference encoding (protobuf-es); `writeMeshService` produces the same bytes, faster. */
export function encodeMeshService(service: MeshServiceRecord): Uint8Array {
  return toBinary(MeshServiceSchema, meshServiceToProto(service));
}

export function encodeDelete(id: ServiceIdentity): Uint8Array {
  return toBinary(ResourceKeySchema, create(ResourceKeySchema, keyToProto(id)));
}

const LENGTH_DELIMITED = 2;
const VARINT = 0;

/** Bytes of a varint holding `value` (a non-negative safe integer). */
function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest > 127; rest = Math.floor(rest / 128)) size++;
  return size;
}

/**
 * A growable byte buffer with the few protobuf primitives a MeshService needs. A nested message is
 * written after a one-byte length placeholder; when it turns out longer than 127 bytes its content
 * is moved right to make room for the longer varint.
 */
class Writer {
  buf: Buffer;
  pos: number;

  constructor(capacity: number, start: number) {
    this.buf = Buffer.allocUnsafe(capacity);
    this.pos = start;
  }

  ensure(bytes: number): void {
    const need = this.pos + bytes;
    if (need <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    let rest = value;
    while (rest > 127) {
      buf[pos++] = (rest % 128) | 128;
      rest = Math.floor(rest / 128);
    }
    buf[pos++] = rest;
    this.pos = pos;
  }

  /** int64 as protobuf writes it: a negative value as its 64-bit two's complement (10 bytes). */
  int64(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    this.ensure(10);
    let rest = BigInt.asUintN(64, BigInt(value));
    while (rest > 127n) {
      this.buf[this.pos++] = Number(rest & 127n) | 128;
      rest >>= 7n;
    }
    this.buf[this.pos++] = Number(rest);
  }

  tag(field: number, wireType: number): void {
    this.ensure(1);
    // Every field number here is below 16: the tag is one byte.
    this.buf[this.pos++] = (field << 3) | wireType;
  }

  /** A length-delimited string field (always written, empty or not). */
  string(field: number, value: string): void {
    this.tag(field, LENGTH_DELIMITED);
    const length = value.length;
    // At most 3 UTF-8 bytes per UTF-16 unit: under 43 units the byte length fits one varint byte.
    if (length < 43) {
      this.ensure(1 + length * 3);
      const buf = this.buf;
      const start = this.pos;
      let pos = start + 1;
      for (let i = 0; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) {
          pos = start + 1 + buf.write(value, start + 1, "utf8");
          break;
        }
        buf[pos++] = code;
      }
      buf[start] = pos - start - 1;
      this.pos = pos;
      return;
    }
    const bytes = Buffer.byteLength(value, "utf8");
    this.varint(bytes);
    this.ensure(bytes);
    this.pos += this.buf.write(value, this.pos, "utf8");
  }

  /** A string field that proto3 leaves out when empty. */
  optionalString(field: number, value: string): void {
    if (value !== "") this.string(field, value);
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(value.byteLength);
    this.ensure(value.byteLength);
    this.buf.set(value, this.pos);
    this.pos += value.byteLength;
  }

  /** Starts a nested message: its tag and a one-byte length placeholder. Returns where it starts. */
  begin(field: number): number {
    this.tag(field, LENGTH_DELIMITED);
    this.ensure(1);
    return this.pos++;
  }

  /** Ends the nested message begun at `start`: writes its length, moving it if that needs more bytes. */
  end(start: number): void {
    const length = this.pos - start - 1;
    if (length < 128) {
      this.buf[start] = length;
      return;
    }
    const extra = varintSize(length) - 1;
    this.ensure(extra);
    this.buf.copyWithin(start + 1 + extra, start + 1, this.pos);
    let pos = start;
    let rest = length;
    while (rest > 127) {
      this.buf[pos++] = (rest % 128) | 128;
      rest = Math.floor(rest / 128);
    }
    this.buf[pos] = rest;
    this.pos += extra;
  }

  /** A map<string, string> field: one entry per key, key and value always written. */
  stringMap(field: number, map: Readonly<Record<string, string>>): void {
    for (const key of Object.keys(map)) {
      const entry = this.begin(field);
      this.string(1, key);
      this.string(2, map[key] as string);
      this.end(entry);
    }
  }
}

/** `service` as a MeshService message (resources.proto), the same bytes as `encodeMeshService`. */
function writeMeshService(w: Writer, service: MeshServiceRecord): void {
  const key = w.begin(1);
  w.string(1, MESH_SERVICE);
  w.optionalString(2, service.mesh);
  w.optionalString(3, service.zone);
  w.optionalString(4, service.name);
  w.end(key);
  w.stringMap(2, service.labels);
  const spec = service.spec;
  const specStart = w.begin(3);
  if (spec.selector !== undefined) {
    const selector = w.begin(1);
    w.stringMap(1, spec.selector.dataplaneTags ?? {});
    w.optionalString(2, spec.selector.dataplaneRef?.name ?? "");
    w.end(selector);
  }
  for (const port of spec.ports) {
    const start = w.begin(2);
    w.optionalString(1, port.name ?? "");
    if (port.port !== 0) {
      w.tag(2, VARINT);
      w.varint(port.port);
    }
    if (port.targetPort !== undefined) w.optionalString(3, String(port.targetPort));
    w.optionalString(4, port.appProtocol);
    w.end(start);
  }
  for (const identity of spec.identities ?? []) {
    const start = w.begin(3);
    w.optionalString(1, identity.type);
    w.optionalString(2, identity.value);
    w.end(start);
  }
  w.end(specStart);
  for (const ip of service.vips) {
    const start = w.begin(4);
    w.optionalString(1, ip);
    w.end(start);
  }
  w.optionalString(5, service.contentHash);
  if (service.revision !== 0) {
    w.tag(6, VARINT);
    w.varint(service.revision);
  }
  if (service.creationTime !== 0) {
    w.tag(7, VARINT);
    w.int64(service.creationTime);
  }
  if (service.modificationTime !== 0) {
    w.tag(8, VARINT);
    w.int64(service.modificationTime);
  }
}

/** `service` encoded by the fast encoder, on its own (tests compare it with `encodeMeshService`). */
export function encodeMeshServiceFast(service: MeshServiceRecord): Uint8Array {
  const w = new Writer(256, 0);
  writeMeshService(w, service);
  return w.buf.subarray(0, w.pos);
}

const scratch = new Writer(1024, 0);

/**
 * `service` encoded, as a string of one latin1 character per byte. For long-lived caches: 100,000
 * of them take about a third of the memory of as many Uint8Arrays (each of which brings its own
 * ArrayBuffer and backing store).
 */
export function encodeMeshServiceLatin1(service: MeshServiceRecord): string {
  scratch.pos = 0;
  writeMeshService(scratch, service);
  return scratch.buf.toString("latin1", 0, scratch.pos);
}

/** Appends `value` as a varint to `out`. */
function pushVarint(out: number[], value: number): void {
  let rest = value;
  while (rest > 127) {
    out.push((rest % 128) | 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

/**
 * Collects upserts and deletes and cuts them into frames under `maxMessageBytes`. Upserts are
 * written straight into the frame being built, deletes follow them when the frame is cut (the same
 * bytes, field for field, as encoding the Changes message). `take()` hands over the frames that are
 * complete so a long snapshot is written while it is being read.
 */
export function createBatchBuilder(from: number, to: number, maxMessageBytes: number) {
  const initialCapacity = 16 * 1024;
  let w = new Writer(initialCapacity, HEADER_ROOM);
  let deletes: Uint8Array[] = [];
  let count = 0;
  let size = FRAME_OVERHEAD;
  let ready: Buffer[] = [];
  let resources = 0;
  let bytes = 0;

  // Changes' from/to fields: the same in every frame of the batch.
  const revisions: number[] = [];
  if (from > 0) {
    revisions.push((CHANGES_FROM << 3) | VARINT);
    pushVarint(revisions, from);
  }
  if (to > 0) {
    revisions.push((CHANGES_TO << 3) | VARINT);
    pushVarint(revisions, to);
  }

  /** Closes the frame; the last `carry` bytes written (an upsert that did not fit) open the next one. */
  function cut(last: boolean, carry = 0): void {
    const entriesEnd = w.pos - carry;
    const carried = carry > 0 ? Buffer.from(w.buf.subarray(entriesEnd, w.pos)) : undefined;
    w.pos = entriesEnd;
    for (const key of deletes) w.bytes(CHANGES_DELETES, key);
    if (last) {
      w.tag(CHANGES_LAST, VARINT);
      w.varint(1);
    }
    const head = [(RESPONSE_CHANGES << 3) | LENGTH_DELIMITED];
    pushVarint(head, revisions.length + w.pos - HEADER_ROOM);
    head.push(...revisions);
    const start = HEADER_ROOM - head.length;
    for (let i = 0; i < head.length; i++) w.buf[start + i] = head[i] as number;
    let built = w.buf.subarray(start, w.pos);
    // Frames of live batches are cached: a frame must not pin a buffer much larger than itself.
    if (w.buf.length - built.byteLength > built.byteLength / 4 + 4096) built = Buffer.from(built);
    ready.push(built);
    bytes += built.byteLength;
    w = new Writer(Math.max(initialCapacity, Math.ceil(built.byteLength * 1.125)), HEADER_ROOM);
    deletes = [];
    count = 0;
    size = FRAME_OVERHEAD;
    if (carried) {
      w.ensure(carried.byteLength);
      w.buf.set(carried, w.pos);
      w.pos += carried.byteLength;
    }
  }

  function checkFits(length: number): number {
    const cost = length + 11;
    if (cost + FRAME_OVERHEAD > maxMessageBytes) {
      throw new Error(`a resource of ${length} bytes cannot fit a ${maxMessageBytes}-byte message`);
    }
    return cost;
  }

  /** Counts an upsert whose `entryBytes` were just written: if it overflows the frame, it opens the next one. */
  function addedUpsert(messageLength: number, entryBytes: number): void {
    let cost: number;
    try {
      cost = checkFits(messageLength);
    } catch (error) {
      w.pos -= entryBytes;
      throw error;
    }
    if (size + cost > maxMessageBytes) cut(false, entryBytes);
    count++;
    size += cost;
    resources++;
  }

  return {
    /** An upsert already encoded as a MeshService message. */
    upsert(encoded: Uint8Array): void {
      if (count >= MAX_RESOURCES_PER_MESSAGE) cut(false);
      const start = w.pos;
      w.bytes(CHANGES_UPSERTS, encoded);
      addedUpsert(encoded.byteLength, w.pos - start);
    },
    /** An upsert already encoded as a MeshService message, as `encodeMeshServiceLatin1` gives it. */
    upsertLatin1(encoded: string): void {
      if (count >= MAX_RESOURCES_PER_MESSAGE) cut(false);
      const start = w.pos;
      w.tag(CHANGES_UPSERTS, LENGTH_DELIMITED);
      w.varint(encoded.length);
      w.ensure(encoded.length);
      w.pos += w.buf.write(encoded, w.pos, "latin1");
      addedUpsert(encoded.length, w.pos - start);
    },
    /** An upsert encoded straight into the frame (the bytes `encodeMeshService` would give). */
    upsertService(service: MeshServiceRecord): void {
      if (count >= MAX_RESOURCES_PER_MESSAGE) cut(false);
      const start = w.pos;
      const lengthAt = w.begin(CHANGES_UPSERTS);
      writeMeshService(w, service);
      const messageLength = w.pos - lengthAt - 1;
      w.end(lengthAt);
      addedUpsert(messageLength, w.pos - start);
    },
    delete(encoded: Uint8Array): void {
      if (count >= MAX_RESOURCES_PER_MESSAGE) cut(false);
      const cost = checkFits(encoded.byteLength);
      if (size + cost > maxMessageBytes) cut(false);
      deletes.push(encoded);
      count++;
      size += cost;
      resources++;
    },
    /** Frames complete so far (not the last one). */
    take(): Buffer[] {
      const taken = ready;
      ready = [];
      return taken;
    },
    /** Closes the batch: the frames not yet taken, the last (possibly empty) with `last = true`. */
    finish(): EncodedBatch {
      cut(true);
      return { from, to, frames: ready, resources, bytes };
    },
    get resources(): number {
      return resources;
    },
  };
}
