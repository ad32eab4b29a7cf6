import type { MeshServiceRecord, MeshServiceSpec } from "@mooring/shared";

export interface ServiceIdentity {
  readonly mesh: string;
  /** Empty for services owned by the global. */
  readonly zone: string;
  readonly name: string;
}

/** The identity of any synced resource. */
export interface SyncedKey extends ServiceIdentity {
  readonly type: string;
}

/** A resource exactly as the global last published it. */
export interface SyncedRow extends SyncedKey, MeshServiceRecord {}

/** What a reconcile inventory entry carries for one synced resource. */
export interface InventoryRow extends SyncedKey {
  readonly contentHash: string;
  readonly vips: readonly string[];
  readonly revision: number;
}

/** One of this zone's own services, in the outbox. */
export interface OwnedRow {
  readonly mesh: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly spec: MeshServiceSpec;
  readonly contentHash: string;
  /** The zone-local revision of its last write; unique across the outbox. */
  readonly zoneRevision: number;
  /** A tombstone: deleted here, kept until the global has applied the delete. */
  readonly deleted: boolean;
  readonly creationTime: number;
  readonly modificationTime: number;
  /** Why the global refused this content, or null. */
  readonly rejection: string | null;
}

/** Where the zone stands: the global database it synced from and the last batch applied from it. */
export interface SyncCursor {
  readonly epoch: string;
  readonly revision: number;
}

/** A MeshService as the zone serves it: own content from the outbox, VIPs from the global. */
export type MeshServiceView = MeshServiceRecord;

export interface Page<T> {
  readonly total: number;
  readonly items: readonly T[];
}
