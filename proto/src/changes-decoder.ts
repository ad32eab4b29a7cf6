// A fast path for decoding `SyncResponse{changes}` frames, the one message a zone receives in bulk
// (a first sync of 100,000 services is 100,000 MeshService messages). protobuf-es's reflective
// `fromBinary` spent about as long on them as the zone spent validating and storing them.
//
// The fast path handles the encoding the global produces: every field known, with its declared wire
// type, and no singular message field repeated (protobuf would merge the two). Anything else (an
// unknown field from a newer global, a merge, a malformed or truncated frame) makes it give up, and
// the frame goes through `fromBinary`, which keeps unknown fields and reports errors as it always
// did. So a frame decodes to exactly what `fromBinary` returns (changes-decoder.test.ts checks it).
//
// The zone goes one step further for the frames it can: its rows decoder (zone/src/sync/
// rows-decoder.ts) reads them with this file's WireReader straight into the rows it stores, and
// leaves the rest (a refused resource, say) to this decoder.
import { fromBinary } from "@bufbuild/protobuf";
import type {
  MeshService,
  MeshServiceIdentity,
  MeshServicePort,
  MeshServiceSelector,
  MeshServiceSpec,
  ResourceKey,
  Vip,
} from "./gen/mooring/v1/resources_pb.js";
import { type Changes, type SyncResponse, SyncResponseSchema } from "./gen/mooring/v1/sync_pb.js";

const VARINT = 0;
const LENGTH_DELIMITED = 2;
/** The tag of `SyncResponse.changes` (field 2, length-delimited). */
const CHANGES_TAG = (2 << 3) | LENGTH_DELIMITED;

/** The fast path does not handle this frame; `fromBinary` does. Thrown without a stack. */
export const UNUSUAL: Error = Object.freeze(
  Object.assign(Object.create(Error.prototype) as Error, { message: "unusual" }),
);

// Non-ASCII strings only; `fatal` so that invalid UTF-8 falls back to fromBinary's own handling.
// Like protobuf-es's decoder it drops a leading byte-order mark.
const utf8 = new TextDecoder("utf-8", { fatal: true });
// One character per byte, so a non-ASCII byte is a character from U+0080 to U+00FF.
const NON_ASCII = /[\u0080-\u00ff]/;

/**
 * Reads one frame; every method throws UNUSUAL on anything the fast path does not handle. Exported
 * for the zone, which decodes Changes frames straight into the rows it stores.
 */
export class WireReader {
  pos = 0;
  /**
   * The whole frame, one latin1 character per byte. Strings are cut from it with `substring`, which
   * stays inside V8: a `toString("latin1")` per field (about 110,000 of them for 10,000 services)
   * crossed into C++ each time, and checking every byte for non-ASCII in JS was a loop of its own.
   * A cut of 13 characters or more refers to this text rather than copying; the rows a frame becomes
   * are written to SQLite and dropped, so nothing keeps a frame's text alive for long.
   */
  private readonly text: string;

  constructor(readonly buf: Buffer) {
    this.text = buf.toString("latin1");
  }

  /** A one-byte tag (field numbers 1-15) with the expected wire type; returns the field number. */
  tag(end: number): number {
    if (this.pos >= end) throw UNUSUAL;
    const tag = this.buf[this.pos++] as number;
    if (tag >= 0x80) throw UNUSUAL;
    return tag;
  }

  /** A varint of at most 5 bytes whose value fits 32 bits. */
  uint32(): number {
    const value = this.varint(5);
    if (value > 0xffffffff) throw UNUSUAL;
    return value;
  }

  /** A varint of at most 7 bytes (below 2^49, exact as a number), as the bigint protobuf-es gives. */
  uint64(): bigint {
    return BigInt(this.varint(7));
  }

  /** A uint64 of at most 2^53-1, as a number (`Number.isSafeInteger`): a larger one is UNUSUAL. */
  safeUint64(): number {
    // Eight bytes hold 56 bits. A sum past 2^53 may round, but never to a safe integer.
    const value = this.varint(8);
    if (value > Number.MAX_SAFE_INTEGER) throw UNUSUAL;
    return value;
  }

  /** A varint of at most `maxBytes` bytes, as a number (exact below 2^53). */
  private varint(maxBytes: number): number {
    const buf = this.buf;
    let value = 0;
    // Each byte's weight by multiplication: `2 ** shift` compiled to a power call, and made the
    // three uint64s of every resource a tenth of a first sync's decoding.
    let weight = 1;
    for (let i = 0; i < maxBytes; i++) {
      if (this.pos >= buf.length) throw UNUSUAL;
      const byte = buf[this.pos++] as number;
      value += (byte & 0x7f) * weight;
      if (byte < 0x80) return value;
      weight *= 128;
    }
    throw UNUSUAL;
  }

  /** `stringPair`'s strings: fields 1 and 2 of the message it read last. */
  first = "";
  second = "";

  /**
   * A message of two string fields, 1 and 2 (a map<string, string> entry, an identity), ending at
   * `end`, into `first` and `second`; a missing one is "", as protobuf-es reads it.
   */
  stringPair(end: number): void {
    let first = "";
    let second = "";
    while (this.pos < end) {
      const tag = this.tag(end);
      if (tag === ((1 << 3) | LENGTH_DELIMITED)) first = this.string();
      else if (tag === ((2 << 3) | LENGTH_DELIMITED)) second = this.string();
      else throw UNUSUAL;
    }
    if (this.pos !== end) throw UNUSUAL;
    this.first = first;
    this.second = second;
  }

  bool(): boolean {
    const value = this.uint32();
    return value !== 0;
  }

  /** The end of a length-delimited field that starts here. */
  length(): number {
    const length = this.uint32();
    const end = this.pos + length;
    if (end > this.buf.length) throw UNUSUAL;
    return end;
  }

  string(): string {
    const end = this.length();
    const start = this.pos;
    this.pos = end;
    const text = this.text.substring(start, end);
    if (!NON_ASCII.test(text)) return text;
    try {
      return utf8.decode(this.buf.subarray(start, end));
    } catch {
      throw UNUSUAL;
    }
  }
}

export function wire(tag: number): number {
  return tag & 7;
}

function resourceKey(r: WireReader, end: number): ResourceKey {
  const key: ResourceKey = { $typeName: "mooring.v1.ResourceKey", type: "", mesh: "", zone: "", name: "" };
  while (r.pos < end) {
    const tag = r.tag(end);
    if (wire(tag) !== LENGTH_DELIMITED) throw UNUSUAL;
    switch (tag >>> 3) {
      case 1:
        key.type = r.string();
        break;
      case 2:
        key.mesh = r.string();
        break;
      case 3:
        key.zone = r.string();
        break;
      case 4:
        key.name = r.string();
        break;
      default:
        throw UNUSUAL;
    }
  }
  if (r.pos !== end) throw UNUSUAL;
  return key;
}

/** One map<string, string> entry into `map`; a missing key or value is "", as protobuf-es reads it. */
function mapEntry(r: WireReader, map: Record<string, string>): void {
  r.stringPair(r.length());
  map[r.first] = r.second;
}

function selector(r: WireReader, end: number): MeshServiceSelector {
  const message: MeshServiceSelector = {
    $typeName: "mooring.v1.MeshServiceSelector",
    dataplaneTags: {},
    dataplaneRefName: "",
  };
  while (r.pos < end) {
    const tag = r.tag(end);
    if (wire(tag) !== LENGTH_DELIMITED) throw UNUSUAL;
    if (tag >>> 3 === 1) mapEntry(r, message.dataplaneTags);
    else if (tag >>> 3 === 2) message.dataplaneRefName = r.string();
    else throw UNUSUAL;
  }
  if (r.pos !== end) throw UNUSUAL;
  return message;
}

function port(r: WireReader, end: number): MeshServicePort {
  const message: MeshServicePort = {
    $typeName: "mooring.v1.MeshServicePort",
    name: "",
    port: 0,
    targetPort: "",
    appProtocol: "",
  };
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case (1 << 3) | LENGTH_DELIMITED:
        message.name = r.string();
        break;
      case (2 << 3) | VARINT:
        message.port = r.uint32();
        break;
      case (3 << 3) | LENGTH_DELIMITED:
        message.targetPort = r.string();
        break;
      case (4 << 3) | LENGTH_DELIMITED:
        message.appProtocol = r.string();
        break;
      default:
        throw UNUSUAL;
    }
  }
  if (r.pos !== end) throw UNUSUAL;
  return message;
}

function identity(r: WireReader, end: number): MeshServiceIdentity {
  r.stringPair(end);
  return { $typeName: "mooring.v1.MeshServiceIdentity", type: r.first, value: r.second };
}

function spec(r: WireReader, end: number): MeshServiceSpec {
  const message: MeshServiceSpec = { $typeName: "mooring.v1.MeshServiceSpec", ports: [], identities: [] };
  while (r.pos < end) {
    const tag = r.tag(end);
    if (wire(tag) !== LENGTH_DELIMITED) throw UNUSUAL;
    switch (tag >>> 3) {
      case 1:
        // A second selector would be merged into the first: not the fast path's business.
        if (message.selector !== undefined) throw UNUSUAL;
        message.selector = selector(r, r.length());
        break;
      case 2:
        message.ports.push(port(r, r.length()));
        break;
      case 3:
        message.identities.push(identity(r, r.length()));
        break;
      default:
        throw UNUSUAL;
    }
  }
  if (r.pos !== end) throw UNUSUAL;
  return message;
}

function vip(r: WireReader, end: number): Vip {
  const message: Vip = { $typeName: "mooring.v1.Vip", ip: "" };
  while (r.pos < end) {
    const tag = r.tag(end);
    if (tag !== ((1 << 3) | LENGTH_DELIMITED)) throw UNUSUAL;
    message.ip = r.string();
  }
  if (r.pos !== end) throw UNUSUAL;
  return message;
}

function meshService(r: WireReader, end: number): MeshService {
  const message: MeshService = {
    $typeName: "mooring.v1.MeshService",
    labels: {},
    vips: [],
    contentHash: "",
    revision: 0n,
    creationTimeUnixMs: 0n,
    modificationTimeUnixMs: 0n,
  };
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case (1 << 3) | LENGTH_DELIMITED:
        if (message.key !== undefined) throw UNUSUAL;
        message.key = resourceKey(r, r.length());
        break;
      case (2 << 3) | LENGTH_DELIMITED:
        mapEntry(r, message.labels);
        break;
      case (3 << 3) | LENGTH_DELIMITED:
        if (message.spec !== undefined) throw UNUSUAL;
        message.spec = spec(r, r.length());
        break;
      case (4 << 3) | LENGTH_DELIMITED:
        message.vips.push(vip(r, r.length()));
        break;
      case (5 << 3) | LENGTH_DELIMITED:
        message.contentHash = r.string();
        break;
      case (6 << 3) | VARINT:
        message.revision = r.uint64();
        break;
      case (7 << 3) | VARINT:
        message.creationTimeUnixMs = r.uint64();
        break;
      case (8 << 3) | VARINT:
        message.modificationTimeUnixMs = r.uint64();
        break;
      default:
        throw UNUSUAL;
    }
  }
  if (r.pos !== end) throw UNUSUAL;
  return message;
}

function changes(r: WireReader, end: number): Changes {
  const message: Changes = {
    $typeName: "mooring.v1.Changes",
    fromRevision: 0n,
    toRevision: 0n,
    upserts: [],
    deletes: [],
    last: false,
  };
  while (r.pos < end) {
    const tag = r.tag(end);
    switch (tag) {
      case (1 << 3) | VARINT:
        message.fromRevision = r.uint64();
        break;
      case (2 << 3) | VARINT:
        message.toRevision = r.uint64();
        break;
      case (3 << 3) | LENGTH_DELIMITED:
        message.upserts.push(meshService(r, r.length()));
        break;
      case (4 << 3) | LENGTH_DELIMITED:
        message.deletes.push(resourceKey(r, r.length()));
        break;
      case (5 << 3) | VARINT:
        message.last = r.bool();
        break;
      default:
        throw UNUSUAL;
    }
  }
  if (r.pos !== end) throw UNUSUAL;
  return message;
}

/**
 * The fast path alone: a `SyncResponse` holding exactly one `changes`, or a throw when the frame is
 * anything else. Exported for tests; use `decodeSyncResponse`.
 */
export function decodeChangesFrame(bytes: Buffer): SyncResponse {
  const r = new WireReader(bytes);
  const tag = r.tag(bytes.length);
  if (tag !== CHANGES_TAG) throw UNUSUAL;
  const end = r.length();
  const value = changes(r, end);
  if (r.pos !== bytes.length) throw UNUSUAL;
  return { $typeName: "mooring.v1.SyncResponse", message: { case: "changes", value } };
}

/** `fromBinary(SyncResponseSchema, bytes)`, with a fast path for the Changes frames a zone receives. */
export function decodeSyncResponse(bytes: Buffer): SyncResponse {
  if (bytes[0] === CHANGES_TAG) {
    try {
      return decodeChangesFrame(bytes);
    } catch {
      // Not the encoding the fast path handles: the generic decoder takes it (or reports it).
    }
  }
  return fromBinary(SyncResponseSchema, bytes);
}
