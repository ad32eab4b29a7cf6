// What zones do to the global's state: upstream writes of their own services (fenced by session
// generation), decommission, and re-adoption of the VIPs they hold after this database was replaced.

import type { MeshService as MeshServiceMessage, ResourceKey as ResourceKeyMessage } from "@mooring/proto";
import {
  type FieldError,
  isMooringError,
  keyFromProto,
  MESH_SERVICE,
  MooringError,
  meshServiceInputFromProto,
} from "@mooring/shared";
import type { SqliteStore } from "../store/sqlite-store.js";
import type { ServiceIdentity } from "../store/types.js";
import { identityText, type VipAllocator } from "../vip/allocator.js";
import type { Manager } from "./manager.js";

export interface RejectedResource {
  readonly key: ResourceKeyMessage | undefined;
  readonly code: string;
  readonly message: string;
}

export interface UpstreamBatch {
  readonly zoneRevision: number;
  readonly upserts: readonly MeshServiceMessage[];
  readonly deletes: readonly (ResourceKeyMessage | undefined)[];
}

export interface UpstreamResult {
  readonly applied: number;
  readonly unchanged: number;
  readonly rejected: RejectedResource[];
}

export interface InventoryClaim {
  readonly key: ResourceKeyMessage | undefined;
  readonly vips: readonly string[];
  readonly revision: number;
}

export interface AdoptionResult {
  readonly adopted: number;
  readonly held: number;
  readonly refused: Array<{ identity: string; ip: string; reason: string }>;
}

export type ZoneManager = ReturnType<typeof createZoneManager>;

function describe(problems: readonly FieldError[]): string {
  return problems.map((problem) => `${problem.field}: ${problem.reason}`).join("; ");
}

export interface ZoneManagerOptions {
  /** Services one zone may own; a create beyond it is rejected with ZONE_SERVICE_LIMIT. */
  readonly maxServicesPerZone?: number;
}

export function createZoneManager(
  store: SqliteStore,
  manager: Manager,
  allocator: VipAllocator,
  options: ZoneManagerOptions = {},
) {
  const maxServices = options.maxServicesPerZone ?? Number.POSITIVE_INFINITY;
  /** A zone may write only its own services: the key must name it. */
  function ownIdentity(zone: string, key: ResourceKeyMessage | undefined): ServiceIdentity {
    const parsed = keyFromProto(key);
    if (!parsed.ok)
      throw new MooringError("VALIDATION_FAILED", describe(parsed.problems), { details: parsed.problems });
    if (parsed.id.zone !== zone) {
      const owner = parsed.id.zone === "" ? "the global" : `zone ${parsed.id.zone}`;
      throw new MooringError("ZONE_OWNED", `${identityText(parsed.id)} is owned by ${owner}, not by zone ${zone}`, {
        details: [{ field: "key.zone", reason: `must be ${zone}` }],
      });
    }
    return parsed.id;
  }

  function rejection(key: ResourceKeyMessage | undefined, error: unknown): RejectedResource {
    if (isMooringError(error)) return { key, code: error.code, message: error.message };
    throw error;
  }

  return {
    /**
     * Applies one UpstreamChanges in one transaction, each resource on its own savepoint so one bad
     * resource does not block the rest, and moves the zone's watermark with it. Throws
     * STALE_SESSION when a newer session of the zone has taken over.
     */
    applyUpstream(zone: string, generation: number, batch: UpstreamBatch): UpstreamResult {
      return store.transaction(() => {
        const record = store.getZone(zone);
        if (!record || record.generation !== generation) {
          throw new MooringError(
            "STALE_SESSION",
            `session generation ${generation} of zone ${zone} was superseded (current ${record?.generation ?? "none"})`,
          );
        }
        const rejected: RejectedResource[] = [];
        let applied = 0;
        let unchanged = 0;
        for (const message of batch.upserts) {
          try {
            const id = ownIdentity(zone, message.key);
            const input = meshServiceInputFromProto(message);
            if (!input.ok) {
              throw new MooringError("VALIDATION_FAILED", describe(input.problems), { details: input.problems });
            }
            if (!store.getResource(MESH_SERVICE, id) && store.countServicesOfZone(zone) >= maxServices) {
              throw new MooringError(
                "ZONE_SERVICE_LIMIT",
                `zone ${zone} already owns ${maxServices} services, the limit (MOORING_ZONE_MAX_SERVICES); delete some first`,
              );
            }
            const { outcome } = manager.putMeshService(id, input.input);
            if (outcome === "unchanged") unchanged++;
            else applied++;
          } catch (error) {
            rejected.push(rejection(message.key, error));
          }
        }
        for (const key of batch.deletes) {
          try {
            const id = ownIdentity(zone, key);
            // Deleting what is already gone is how a resent delete looks: not an error.
            if (store.getResource(MESH_SERVICE, id)) {
              manager.deleteMeshService(id, `deleted by zone ${zone}`);
              applied++;
            } else {
              unchanged++;
            }
          } catch (error) {
            rejected.push(rejection(key, error));
          }
        }
        store.setUpstreamWatermark(zone, batch.zoneRevision);
        return { applied, unchanged, rejected };
      });
    },

    /** Removes a zone: its services are deleted (leases to quarantine) and its record dropped. */
    decommission(zone: string): { removed: number } {
      return store.transaction(() => {
        if (!store.getZone(zone)) throw new MooringError("NOT_FOUND", `zone ${zone} not found`);
        const services = store.resourcesOfZone(zone);
        for (const service of services) manager.deleteMeshService(service, `zone ${zone} decommissioned`);
        store.deleteZone(zone);
        return { removed: services.length };
      });
    },

    /**
     * Re-adopts the VIPs a zone reports. Claims are taken most recent first (highest revision), then
     * by identity, so the outcome does not depend on the order inside the inventory; an existing
     * lease always wins over a claim.
     */
    adopt(claims: readonly InventoryClaim[], source: string): AdoptionResult {
      const ordered = claims
        .flatMap((claim) => {
          const parsed = keyFromProto(claim.key);
          return parsed.ok ? [{ ...claim, id: parsed.id, text: identityText(parsed.id) }] : [];
        })
        .sort((a, b) => b.revision - a.revision || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
      return store.transaction(() => {
        let adopted = 0;
        let held = 0;
        const refused: AdoptionResult["refused"] = [];
        for (const claim of ordered) {
          const serviceExists = store.getResource(MESH_SERVICE, claim.id) !== undefined;
          let bound = false;
          for (const ip of claim.vips) {
            const outcome = allocator.adopt(ip, claim.id, serviceExists, source);
            if (outcome.result === "adopted") {
              adopted++;
              bound ||= serviceExists;
            } else if (outcome.result === "held") held++;
            else refused.push({ identity: claim.text, ip, reason: outcome.reason });
          }
          // A live service's VIPs changed: it gets a revision, so every zone is sent the new VIPs.
          if (bound) manager.addressesChanged(claim.id);
        }
        return { adopted, held, refused };
      });
    },
  };
}
