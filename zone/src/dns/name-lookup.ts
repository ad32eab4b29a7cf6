// What DNS answers for a name under mesh.local, read from the zone's SQLite at query time: the
// store's merged view (the one GET /meshes/{mesh}/meshservices serves), so DNS and REST agree on
// which services exist and which VIPs they have, own services' local edits and tombstones included,
// the moment a batch or a local write commits. Nothing here talks to the global: answers keep
// working while it is unreachable.
//
// No copy of the view is kept in memory: it would have to be rebuilt after every first sync (about
// 0.23 s of a 0.8 s first sync of 100,000 services) and kept current from every batch's diff. A
// lookup is one or two indexed queries of a few microseconds each.
import type { ServiceIdentity } from "../store/types.js";
import type { ZoneStore } from "../store/zone-store.js";
import { DNS_DOMAIN, isInDnsDomain, normalizeName } from "./names.js";

export interface ServiceAddresses {
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
}

export type NameLookup =
  /** Not under `mesh.local`: not ours to answer. */
  | { readonly kind: "outside" }
  /** Under `mesh.local`, and no such name. */
  | { readonly kind: "unknown" }
  /** A service; either family may have no address yet. */
  | { readonly kind: "service"; readonly addresses: ServiceAddresses }
  /** A name that exists without records: `mesh.local`, a mesh, or a zone within a mesh, with services below. */
  | { readonly kind: "empty" };

/** What the lookup reads: the zone store's merged view. */
export type ServiceSource = Pick<ZoneStore, "vipsOf" | "hasServicesIn">;

const NONE: readonly string[] = Object.freeze([]);
const OUTSIDE: NameLookup = Object.freeze({ kind: "outside" });
const UNKNOWN: NameLookup = Object.freeze({ kind: "unknown" });
const EMPTY: NameLookup = Object.freeze({ kind: "empty" });
const SUFFIX = `.${DNS_DOMAIN}`;

/** VIPs split by family; they are validated addresses, so a colon means IPv6. */
function addressesOf(vips: readonly string[]): ServiceAddresses {
  const ipv4 = vips.filter((ip) => !ip.includes(":"));
  const ipv6 = vips.filter((ip) => ip.includes(":"));
  return { ipv4: ipv4.length > 0 ? ipv4 : NONE, ipv6: ipv6.length > 0 ? ipv6 : NONE };
}

/**
 * Answers names as names.ts lays them out: `MESH`, `NAME.MESH` (a global-owned service, or a zone
 * with services below it) and `NAME.ZONE.MESH`, each followed by `.mesh.local`.
 */
export function createNameLookup(source: ServiceSource): (queryName: string) => NameLookup {
  function service(id: ServiceIdentity): NameLookup | undefined {
    const vips = source.vipsOf(id);
    return vips === undefined ? undefined : { kind: "service", addresses: addressesOf(vips) };
  }

  return (queryName) => {
    const name = normalizeName(queryName);
    if (!isInDnsDomain(name)) return OUTSIDE;
    if (name === DNS_DOMAIN) return EMPTY;
    const labels = name.slice(0, -SUFFIX.length).split(".");
    // An empty label (`a..default.mesh.local`) names nothing; without this check it would read as zone "".
    if (labels.includes("")) return UNKNOWN;
    if (labels.length === 1) {
      const [mesh] = labels as [string];
      return source.hasServicesIn(mesh) ? EMPTY : UNKNOWN;
    }
    if (labels.length === 2) {
      const [first, mesh] = labels as [string, string];
      return service({ mesh, zone: "", name: first }) ?? (source.hasServicesIn(mesh, first) ? EMPTY : UNKNOWN);
    }
    if (labels.length === 3) {
      const [serviceName, zone, mesh] = labels as [string, string, string];
      return service({ mesh, zone, name: serviceName }) ?? UNKNOWN;
    }
    return UNKNOWN;
  };
}
