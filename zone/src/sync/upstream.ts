// The zone's own services going up: the outbox read in zone-revision order, cut into UpstreamChanges
// that each cover a revision range in full, and the global's UpstreamAck folded back into the outbox.
import { create, toBinary } from "@bufbuild/protobuf";
import {
  type MeshService,
  MeshServiceSchema,
  type ResourceError,
  type ResourceKey,
  ResourceKeySchema,
  type UpstreamChanges,
  UpstreamChangesSchema,
} from "@mooring/proto";
import { keyToProto, meshServiceToProto } from "@mooring/shared";
import type { OwnedRow } from "../store/types.js";
import type { ZoneStore } from "../store/zone-store.js";
import { entryBudget, fieldBytes, prefixThatFits, UPSTREAM_MAX_RESOURCES } from "./chunk.js";
import { decodeKey } from "./decode.js";

type Entry = { readonly row: OwnedRow; readonly size: number } & (
  | { readonly kind: "upsert"; readonly message: MeshService }
  | { readonly kind: "delete"; readonly key: ResourceKey }
);

function encode(zone: string, row: OwnedRow): Entry {
  if (row.deleted) {
    const key = keyToProto({ mesh: row.mesh, zone, name: row.name });
    return { row, kind: "delete", key, size: toBinary(ResourceKeySchema, key).length };
  }
  const message = meshServiceToProto({
    mesh: row.mesh,
    zone,
    name: row.name,
    labels: row.labels,
    spec: row.spec,
    // VIPs and revisions are the global's to assign; the zone sends content only.
    vips: [],
    contentHash: row.contentHash,
    revision: 0,
    creationTime: row.creationTime,
    modificationTime: row.modificationTime,
  });
  return { row, kind: "upsert", message, size: toBinary(MeshServiceSchema, message).length };
}

/** Encoded bytes of one own service in an UpstreamChanges; the REST API refuses what cannot be sent. */
export function upstreamSize(zone: string, row: OwnedRow): number {
  return fieldBytes(encode(zone, row).size);
}

/** Whether one own service fits in an UpstreamChanges alone under `limitBytes`. */
export function fitsUpstream(zone: string, row: OwnedRow, limitBytes: number): boolean {
  return upstreamSize(zone, row) <= entryBudget(limitBytes);
}

export interface UpstreamChunk {
  readonly message: UpstreamChanges;
  /** The range the chunk covers is (after, zoneRevision]. */
  readonly after: number;
  readonly zoneRevision: number;
  /** Rows in the range too large for any message: not sent; recorded as refused when the range is acked. */
  readonly oversize: readonly OwnedRow[];
}

/** The next chunk of the outbox after `after`, or undefined when the global has everything. */
export function nextUpstreamChunk(
  store: ZoneStore,
  after: number,
  limitBytes: number,
  maxResources = UPSTREAM_MAX_RESOURCES,
): UpstreamChunk | undefined {
  const rows = store.ownedAbove(after, maxResources);
  if (rows.length === 0) return undefined;
  const budget = entryBudget(limitBytes);
  const entries = rows.map((row) => encode(store.zone, row));
  const taken = entries.slice(
    0,
    prefixThatFits(
      entries.map((entry) => entry.size),
      budget,
      maxResources,
    ),
  );
  const sendable = taken.filter((entry) => fieldBytes(entry.size) <= budget);
  const last = taken.at(-1);
  if (!last) return undefined;
  return {
    message: create(UpstreamChangesSchema, {
      zoneRevision: BigInt(last.row.zoneRevision),
      upserts: sendable.flatMap((entry) => (entry.kind === "upsert" ? [entry.message] : [])),
      deletes: sendable.flatMap((entry) => (entry.kind === "delete" ? [entry.key] : [])),
    }),
    after,
    zoneRevision: last.row.zoneRevision,
    oversize: taken.filter((entry) => fieldBytes(entry.size) > budget).map((entry) => entry.row),
  };
}

export interface AckedRejection {
  readonly mesh: string;
  readonly name: string;
  readonly reason: string;
}

/**
 * Folds an UpstreamAck for `chunk` into the outbox in one transaction: the watermark advances, the
 * range's earlier rejections are cleared and the new ones recorded (a row written again since keeps
 * none: its new content has not been judged), and applied tombstones are forgotten.
 */
export function applyUpstreamAck(
  store: ZoneStore,
  chunk: UpstreamChunk,
  rejected: readonly ResourceError[],
  limitBytes: number,
): { rejections: AckedRejection[]; droppedTombstones: number } {
  const rejections: AckedRejection[] = [];
  for (const error of rejected) {
    const key = decodeKey(error.key);
    if (!key.ok || key.value.zone !== store.zone) continue;
    rejections.push({ mesh: key.value.mesh, name: key.value.name, reason: `${error.code}: ${error.message}` });
  }
  for (const row of chunk.oversize) {
    const bytes = upstreamSize(store.zone, row);
    rejections.push({
      mesh: row.mesh,
      name: row.name,
      reason: `TOO_LARGE: encodes to ${bytes} bytes, more than a ${limitBytes}-byte sync message can carry`,
    });
  }
  const droppedTombstones = store.transaction(() => {
    store.setUpstreamAcked(chunk.zoneRevision);
    store.clearRejections(chunk.after, chunk.zoneRevision);
    for (const rejection of rejections) {
      store.setRejection(rejection.mesh, rejection.name, rejection.reason, chunk.zoneRevision);
    }
    return store.dropTombstones(chunk.zoneRevision);
  });
  return { rejections, droppedTombstones };
}

/**
 * Adopts the Welcome's watermark: the global's word on what it has applied from this store. If it is
 * ahead of every revision this store has made (the zone's database was restored from an older copy),
 * every outbox row is given a fresh revision above it, so the outbox is sent again rather than never.
 * Returns how many rows were restamped.
 */
export function adoptWatermark(store: ZoneStore, watermark: number): number {
  // The usual Welcome: the watermark is the one stored, and nothing needs restamping. Writing it
  // again would cost a durable commit (an fsync) on every connect, a first sync's included.
  if (watermark === store.upstreamAcked() && watermark <= store.zoneRevision()) return 0;
  return store.transaction(() => {
    const restamped = watermark > store.zoneRevision() ? store.restampOwned(watermark) : 0;
    store.setUpstreamAcked(watermark);
    return restamped;
  });
}
