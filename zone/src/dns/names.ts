// How MeshServices are named in DNS. Global-owned services (zone "") are NAME.MESH.mesh.local and
// zone-owned ones NAME.ZONE.MESH.mesh.local: the label counts differ, so one name never stands for
// two identities. Meshes, zones and service names are DNS-1123 labels, lower case by validation.
import type { ServiceIdentity } from "../store/types.js";

/** The DNS zone the responder is authoritative for. */
export const DNS_DOMAIN = "mesh.local";

/** A query name in the form the index keys by: lower case (RFC 4343), no trailing dot. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** The DNS name of a service, normalized. */
export function serviceDnsName(id: ServiceIdentity): string {
  const name =
    id.zone === "" ? `${id.name}.${id.mesh}.${DNS_DOMAIN}` : `${id.name}.${id.zone}.${id.mesh}.${DNS_DOMAIN}`;
  return normalizeName(name);
}

/** True for `mesh.local` and every name below it; `name` must be normalized. */
export function isInDnsDomain(name: string): boolean {
  return name === DNS_DOMAIN || name.endsWith(`.${DNS_DOMAIN}`);
}
