// The DNS responder's in-memory view of the zone's MeshServices: name -> VIPs by family. It is
// loaded from the zone's SQLite once, then kept current service by service: after each batch from
// the global (its keyed diff) and after each local write. Every refresh re-reads the identity from
// the store's merged view (the one GET /meshes/{mesh}/meshservices serves), so DNS and REST agree
// on which services exist and which VIPs they have, own services' local edits and tombstones
// included. Nothing here talks to the global: answers keep working while it is unreachable.
import { type DiffEntry, MESH_SERVICE } from "@mooring/shared";
import type { MeshServiceView, ServiceIdentity, SyncedRow } from "../store/types.js";
import type { ZoneStore } from "../store/zone-store.js";
import type { ChangesEvent } from "../sync/apply.js";
import { DNS_DOMAIN, isInDnsDomain, normalizeName, parentNames, serviceDnsName } from "./names.js";

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

/** What the index reads: the zone store's merged view. */
export type ServiceSource = Pick<ZoneStore, "zone" | "meshes" | "meshServiceAddresses" | "getMeshService">;

export type NameIndex = ReturnType<typeof createNameIndex>;

const NONE: readonly string[] = Object.freeze([]);

// Called for every service of a batch (100,000 times for a first sync of that many): one pass, and
// no array for a family without addresses. VIPs are validated addresses: a colon means IPv6.
function addressesOf(service: Pick<MeshServiceView, "vips">): ServiceAddresses {
  let ipv4: string[] | undefined;
  let ipv6: string[] | undefined;
  for (const ip of service.vips) {
    if (!ip.includes(":")) {
      ipv4 ??= [];
      ipv4.push(ip);
    } else {
      ipv6 ??= [];
      ipv6.push(ip);
    }
  }
  return { ipv4: ipv4 ?? NONE, ipv6: ipv6 ?? NONE };
}

export function createNameIndex(source: ServiceSource) {
  const services = new Map<string, ServiceAddresses>();
  /** Name -> how many services sit below it. */
  const parents = new Map<string, number>();

  function put(name: string, addresses: ServiceAddresses): void {
    if (!services.has(name)) {
      for (const parent of parentNames(name)) parents.set(parent, (parents.get(parent) ?? 0) + 1);
    }
    services.set(name, addresses);
  }

  function remove(name: string): void {
    if (!services.delete(name)) return;
    for (const parent of parentNames(name)) {
      const below = (parents.get(parent) ?? 0) - 1;
      if (below > 0) parents.set(parent, below);
      else parents.delete(parent);
    }
  }

  function refresh(id: ServiceIdentity): void {
    const service = source.getMeshService(id);
    const name = serviceDnsName(id);
    if (service) put(name, addressesOf(service));
    else remove(name);
  }

  return {
    /**
     * (Re)loads every service from the store; returns how many there are. One query per mesh: paging
     * the view with OFFSET re-read every earlier page, and took 8.6 s for 100,000 services.
     */
    load(): number {
      services.clear();
      parents.clear();
      for (const mesh of source.meshes()) {
        for (const service of source.meshServiceAddresses(mesh)) {
          put(serviceDnsName({ mesh, zone: service.zone, name: service.name }), addressesOf(service));
        }
      }
      return services.size;
    },

    /** Re-reads one service from the store: after a local write, or for a key a batch touched. */
    refresh,

    /**
     * Applies a committed batch's diff. This zone's own services are re-read from the store (the
     * outbox's local edits and tombstones take precedence in the merged view); any other service is
     * in the view exactly as the diff has it, so the diff's row is used as is. (Re-reading every
     * one, a view query apiece, took a third of a first sync of 100,000 services.)
     */
    applyDiff(diff: readonly DiffEntry<SyncedRow>[]): void {
      for (const entry of diff) {
        const row = entry.op === "remove" ? entry.previous : entry.value;
        if (row.type !== MESH_SERVICE) continue;
        if (row.zone === source.zone) refresh(row);
        else if (entry.op === "remove") remove(serviceDnsName(row));
        else put(serviceDnsName(row), addressesOf(row));
      }
    },

    /** Follows a committed batch: its diff, or (a first sync, announced as loaded) a reload. */
    applyChanges(event: ChangesEvent): void {
      if (event.kind === "loaded") this.load();
      else this.applyDiff(event.diff);
    },

    lookup(queryName: string): NameLookup {
      const name = normalizeName(queryName);
      if (!isInDnsDomain(name)) return { kind: "outside" };
      const addresses = services.get(name);
      if (addresses) return { kind: "service", addresses };
      if (name === DNS_DOMAIN || parents.has(name)) return { kind: "empty" };
      return { kind: "unknown" };
    },

    /** How many services have a name. */
    size(): number {
      return services.size;
    },
  };
}
