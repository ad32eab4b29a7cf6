// Builds `SyncResponse{changes}` frames from resources encoded once. Each resource is encoded a
// single time and the frame is assembled from those bytes, so a batch has an exact size before it is
// sent, is split to stay under the message limit, and can be written as is to every zone.
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { MeshServiceSchema, ResourceKeySchema } from "@mooring/proto";
import { keyToProto, type MeshServiceRecord, meshServiceToProto } from "@mooring/shared";
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

export interface EncodedBatch {
  readonly from: number;
  readonly to: number;
  /** Encoded SyncResponse frames; the last one carries `last = true`. */
  readonly frames: readonly Buffer[];
  readonly resources: number;
  readonly bytes: number;
}

export function encodeMeshService(service: MeshServiceRecord): Uint8Array {
  return toBinary(MeshServiceSchema, meshServiceToProto(service));
}

export function encodeDelete(id: ServiceIdentity): Uint8Array {
  return toBinary(ResourceKeySchema, create(ResourceKeySchema, keyToProto(id)));
}

function frame(from: number, to: number, upserts: Uint8Array[], deletes: Uint8Array[], last: boolean): Buffer {
  const changes = new BinaryWriter();
  if (from > 0) changes.tag(CHANGES_FROM, WireType.Varint).uint64(from);
  if (to > 0) changes.tag(CHANGES_TO, WireType.Varint).uint64(to);
  for (const upsert of upserts) changes.tag(CHANGES_UPSERTS, WireType.LengthDelimited).bytes(upsert);
  for (const key of deletes) changes.tag(CHANGES_DELETES, WireType.LengthDelimited).bytes(key);
  if (last) changes.tag(CHANGES_LAST, WireType.Varint).bool(true);
  const bytes = new BinaryWriter().tag(RESPONSE_CHANGES, WireType.LengthDelimited).bytes(changes.finish()).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Collects encoded upserts and deletes and cuts them into frames under `maxMessageBytes`. `take()`
 * hands over the frames that are complete so a long snapshot is written while it is being read.
 */
export function createBatchBuilder(from: number, to: number, maxMessageBytes: number) {
  let upserts: Uint8Array[] = [];
  let deletes: Uint8Array[] = [];
  let size = FRAME_OVERHEAD;
  let ready: Buffer[] = [];
  let resources = 0;
  let bytes = 0;

  function cut(last: boolean): void {
    const built = frame(from, to, upserts, deletes, last);
    ready.push(built);
    bytes += built.byteLength;
    upserts = [];
    deletes = [];
    size = FRAME_OVERHEAD;
  }

  function add(list: "upsert" | "delete", encoded: Uint8Array): void {
    const cost = encoded.byteLength + 11;
    if (cost + FRAME_OVERHEAD > maxMessageBytes) {
      throw new Error(`a resource of ${encoded.byteLength} bytes cannot fit a ${maxMessageBytes}-byte message`);
    }
    if (size + cost > maxMessageBytes || upserts.length + deletes.length >= MAX_RESOURCES_PER_MESSAGE) cut(false);
    (list === "upsert" ? upserts : deletes).push(encoded);
    size += cost;
    resources++;
  }

  return {
    upsert(encoded: Uint8Array): void {
      add("upsert", encoded);
    },
    delete(encoded: Uint8Array): void {
      add("delete", encoded);
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
