import type { Revision } from "@mooring/shared";
import type { IpFamily } from "../vip/cidr.js";

export interface ServiceIdentity {
  readonly mesh: string;
  /** Empty for services owned by the global. */
  readonly zone: string;
  readonly name: string;
}

export interface ResourceRow extends ServiceIdentity {
  readonly type: string;
  readonly labels: Record<string, string>;
  readonly spec: unknown;
  readonly contentHash: string;
  readonly revision: Revision;
  readonly creationTime: number;
  readonly modificationTime: number;
}

/** A resource with the addresses of its identity's bound leases, in family then address order. */
export interface ResourceWithVips extends ResourceRow {
  readonly vips: readonly string[];
}

export type ChangeOp = "upsert" | "delete";

export interface ChangeRow extends ServiceIdentity {
  readonly revision: Revision;
  readonly type: string;
  readonly op: ChangeOp;
  readonly contentHash: string | null;
  readonly at: number;
}

/** bound: held by a live service. released: its service was deleted (quarantine). reserved: pinned ahead of its service. */
export type LeaseState = "bound" | "released" | "reserved";

export interface LeaseRow extends ServiceIdentity {
  readonly ip: string;
  readonly ipKey: string;
  readonly family: IpFamily;
  readonly state: LeaseState;
  readonly pinned: boolean;
  readonly leasedAt: number;
  readonly releasedAt: number | null;
}

export type LeaseEventKind =
  | "allocate"
  | "rebind"
  | "release"
  | "reclaim"
  | "pin"
  | "delete"
  | "adopt"
  | "adopt-conflict";

export interface LeaseEventRow extends ServiceIdentity {
  readonly id: number;
  readonly at: number;
  readonly event: LeaseEventKind;
  readonly ip: string;
  readonly family: IpFamily;
  readonly reason: string;
}

export interface Page<T> {
  readonly total: number;
  readonly items: readonly T[];
}

export type SyncModeName = "full" | "incremental" | "reconcile";

export interface ZoneRow {
  readonly name: string;
  readonly zoneId: string;
  readonly generation: number;
  readonly instanceId: string;
  readonly storeId: string;
  readonly upstreamWatermark: number;
  readonly ackedRevision: number;
  readonly createdAt: number;
  readonly connectedAt: number | null;
  readonly lastSeenAt: number | null;
  readonly lastMode: SyncModeName | null;
  readonly lastError: string | null;
  readonly sessions: Readonly<Record<SyncModeName, number>>;
}

/** An issued zone token's record; the signed token itself is never stored. */
export interface ZoneTokenRow {
  readonly id: string;
  readonly zone: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
}
