// The global's write path: validation and defaults over the store, one transaction per write, and
// the content-hash no-op that keeps unchanged resources from ever producing a change.
import {
  MESH_SERVICE,
  type MeshServiceInput,
  type MeshServiceRecord,
  type MeshServiceSpec,
  MooringError,
  normalizeMeshService,
  type Revision,
  validationError,
} from "@mooring/shared";
import type { SqliteStore } from "../store/sqlite-store.js";
import type { LeaseEventRow, LeaseRow, Page, ResourceRow, ServiceIdentity } from "../store/types.js";
import { identityText, leaseAt, type VipAllocator } from "../vip/allocator.js";
import { type ParsedIp, parseIp } from "../vip/cidr.js";

/** A stored MeshService with its bound VIPs, as the API renders it. */
export interface MeshServiceView extends MeshServiceRecord {
  readonly revision: Revision;
}

export type PutOutcome = "created" | "updated" | "unchanged";

export interface PutOptions {
  /** Optimistic concurrency: the write applies only if the stored revision is this one. */
  readonly expectedRevision?: number;
  /** VIPs a client echoed back from a read; accepted only when they equal what is leased. */
  readonly echoedVips?: readonly string[];
}

export interface LeaseView {
  readonly lease: LeaseRow;
  readonly state: "bound" | "quarantined" | "reclaimable" | "reserved";
  readonly quarantineEndsAt?: number;
}

export type Manager = ReturnType<typeof createManager>;

export interface ManagerOptions {
  readonly now?: () => number;
  /** Called after every commit that appended to the change log: the sync hub publishes it. */
  readonly onChange?: () => void;
}

export function createManager(store: SqliteStore, allocator: VipAllocator, options: ManagerOptions = {}) {
  const now = options.now ?? Date.now;
  const changed = () => options.onChange?.();

  /** `vips` defaults to the bound leases in the store; pass them when they are already known. */
  function view(row: ResourceRow, vips: readonly string[] = store.boundIpsOf(row)): MeshServiceView {
    const { type: _type, ...fields } = row;
    return { ...fields, spec: row.spec as MeshServiceSpec, vips };
  }

  function notFound(id: ServiceIdentity): MooringError {
    return new MooringError("NOT_FOUND", `MeshService ${identityText(id)} not found`);
  }

  /**
   * A live service gained an address outside a write of its own (a pin, a re-adopted lease): that is
   * a change of its status, so it gets a revision, and zones (and the snapshot cache) learn of it
   * from the change log like of any other change. Call inside a transaction.
   */
  function addressesChanged(service: ResourceRow): void {
    const at = now();
    const revision = store.appendChange(MESH_SERVICE, service, "upsert", service.contentHash, at);
    store.putResource({ ...service, revision, modificationTime: at });
  }

  function describeLease(lease: LeaseRow): LeaseView {
    return { lease, ...allocator.describe(lease) };
  }

  return {
    putMeshService(
      id: ServiceIdentity,
      input: MeshServiceInput,
      options: PutOptions = {},
    ): { service: MeshServiceView; outcome: PutOutcome } {
      const normalized = normalizeMeshService(id, input);
      if (!normalized.ok) throw validationError(normalized.problems);
      const next = normalized.value;
      const result = store.transaction(() => {
        const existing = store.getResource(MESH_SERVICE, id);
        if (options.expectedRevision !== undefined && options.expectedRevision !== (existing?.revision ?? 0)) {
          const reason = existing
            ? `the stored revision is ${existing.revision}`
            : "the service does not exist (use revision 0 or leave it out to create it)";
          throw new MooringError("REVISION_CONFLICT", `revision ${options.expectedRevision} is stale: ${reason}`, {
            details: [{ field: "revision", reason }],
          });
        }
        if (options.echoedVips !== undefined && options.echoedVips.length > 0) {
          const leased = existing ? store.boundIpsOf(id) : [];
          if (options.echoedVips.join(",") !== leased.join(",")) {
            const reason = "VIPs are assigned by the global; reserve an address with PUT /vips/{ip} instead";
            throw validationError([{ field: "status.vips", reason }]);
          }
        }
        const leases = allocator.bind(id);
        if (existing && existing.contentHash === next.contentHash && !leases.changed) {
          return { service: view(existing), outcome: "unchanged" as const };
        }
        const at = now();
        const revision = store.appendChange(MESH_SERVICE, id, "upsert", next.contentHash, at);
        const row: ResourceRow = {
          type: MESH_SERVICE,
          ...id,
          labels: next.labels,
          spec: next.spec,
          contentHash: next.contentHash,
          revision,
          creationTime: existing?.creationTime ?? at,
          modificationTime: at,
        };
        store.putResource(row);
        if (existing) return { service: view(row), outcome: "updated" as const };
        // A new service holds exactly the leases bind just bound: no other lease of it can be bound
        // (a bound lease is released when its service is deleted), so there is nothing to look up.
        return { service: view(row, leases.bound), outcome: "created" as const };
      });
      if (result.outcome !== "unchanged") changed();
      return result;
    },

    getMeshService(id: ServiceIdentity): MeshServiceView {
      const row = store.getResource(MESH_SERVICE, id);
      if (!row) throw notFound(id);
      return view(row);
    },

    listMeshServices(mesh: string, offset: number, size: number): Page<MeshServiceView> {
      const page = store.listResources(MESH_SERVICE, mesh, offset, size);
      return { total: page.total, items: page.items.map((row) => view(row)) };
    },

    deleteMeshService(id: ServiceIdentity, reason = "service deleted"): MeshServiceView {
      const deleted = store.transaction(() => {
        const existing = store.getResource(MESH_SERVICE, id);
        if (!existing) throw notFound(id);
        const deleted = view(existing);
        store.deleteResource(MESH_SERVICE, id);
        store.appendChange(MESH_SERVICE, id, "delete", null, now());
        allocator.release(id, reason);
        return deleted;
      });
      changed();
      return deleted;
    },

    listLeases(offset: number, size: number): Page<LeaseView> {
      const page = store.listLeases(offset, size);
      return { total: page.total, items: page.items.map(describeLease) };
    },

    getLease(rawIp: string, eventLimit: number): LeaseView & { events: LeaseEventRow[] } {
      let address: ParsedIp;
      try {
        // Leases are stored under the address, whatever its spelling: fd00:241:0:0::1 is fd00:241::1.
        address = parseIp(rawIp);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw validationError([{ field: "ip", reason }]);
      }
      const lease = leaseAt(store, address);
      if (!lease) throw new MooringError("NOT_FOUND", `no lease for ${address.ip}`);
      return { ...describeLease(lease), events: store.leaseEvents(lease.ip, eventLimit) };
    },

    /** Reserves an address for an identity, before or after its service exists. */
    pinVip(ip: string, id: ServiceIdentity): { lease: LeaseView; created: boolean } {
      const pinned = store.transaction(() => {
        const service = store.getResource(MESH_SERVICE, id);
        const { lease, created } = allocator.pin(ip, id, service !== undefined);
        if (service && created) addressesChanged(service);
        return { lease: describeLease(lease), created, live: service !== undefined };
      });
      if (pinned.created && pinned.live) changed();
      return { lease: pinned.lease, created: pinned.created };
    },

    /** A lease was bound to the live service `id` outside its own writes (re-adoption); call inside a transaction. */
    addressesChanged(id: ServiceIdentity): void {
      const service = store.getResource(MESH_SERVICE, id);
      if (service) addressesChanged(service);
    },

    deleteVip(ip: string): LeaseRow {
      return store.transaction(() => allocator.remove(ip));
    },
  };
}
