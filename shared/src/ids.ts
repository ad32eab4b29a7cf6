// Branded identifiers. A ZoneName and a ZoneId are both strings at run time, but comparing one
// with the other is a compile error: LXD's OVN evacuation compared chassis names with UUIDs and
// silently never matched. Build them only through the constructors below, which validate.
import { MooringError } from "./errors.js";
import { dnsLabelProblem } from "./names.js";

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type ZoneName = Brand<string, "ZoneName">;
export type ZoneId = Brand<string, "ZoneId">;
export type MeshName = Brand<string, "MeshName">;
/** `Type/mesh/zone/name`, with an empty zone for global-owned resources. */
export type ResourceKey = Brand<string, "ResourceKey">;
/** A position in the global change log; monotonically increasing, never reused. */
export type Revision = Brand<number, "Revision">;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function invalid(field: string, reason: string): MooringError {
  return new MooringError("VALIDATION_FAILED", `invalid ${field}: ${reason}`, { details: [{ field, reason }] });
}

export function zoneName(raw: string): ZoneName {
  const problem = dnsLabelProblem(raw);
  if (problem) throw invalid("zone", problem);
  return raw as ZoneName;
}

export function meshName(raw: string): MeshName {
  const problem = dnsLabelProblem(raw);
  if (problem) throw invalid("mesh", problem);
  return raw as MeshName;
}

export function zoneId(raw: string): ZoneId {
  if (!UUID.test(raw)) throw invalid("zoneId", "must be a lower-case UUID");
  return raw as ZoneId;
}

export function revision(value: number): Revision {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid("revision", "must be a non-negative integer");
  return value as Revision;
}

export interface ResourceIdentity {
  readonly type: string;
  readonly mesh: string;
  /** Empty for resources owned by the global. */
  readonly zone: string;
  readonly name: string;
}

export function resourceKey(identity: ResourceIdentity): ResourceKey {
  return `${identity.type}/${identity.mesh}/${identity.zone}/${identity.name}` as ResourceKey;
}

export function parseResourceKey(key: ResourceKey): ResourceIdentity {
  const [type = "", mesh = "", zone = "", name = ""] = key.split("/");
  return { type, mesh, zone, name };
}
