// The zone's write path for its own MeshServices: the global's validation and defaults, the
// content-hash no-op, one transaction per write (outbox row + zone revision), then a nudge to the
// sync client so the change goes up while connected.
import {
  type MeshServiceInput,
  MooringError,
  normalizeMeshService,
  validationError,
  type ZoneName,
} from "@mooring/shared";
import type { MeshServiceView, OwnedRow, Page, ServiceIdentity } from "../store/types.js";
import type { ZoneStore } from "../store/zone-store.js";
import { fitsUpstream, upstreamSize } from "../sync/upstream.js";

export type PutOutcome = "created" | "updated" | "unchanged";

export interface PutOptions {
  /** Optimistic concurrency: the write applies only if the served revision is this one. */
  readonly expectedRevision?: number;
  /** VIPs a client echoed back from a read; accepted only when they equal what is served. */
  readonly echoedVips?: readonly string[];
}

export interface ZoneManagerOptions {
  readonly zone: ZoneName;
  /** MOORING_SYNC_MAX_MESSAGE: a service that cannot fit in one sync message is refused here. */
  readonly maxMessageBytes: number;
  /** Called after every committed write with the service written: the outbox goes up, DNS re-reads it. */
  readonly onLocalWrite?: (id: ServiceIdentity) => void;
  readonly now?: () => number;
}

function identityText(id: ServiceIdentity): string {
  return id.zone === "" ? `${id.mesh}/${id.name}` : `${id.mesh}/${id.zone}/${id.name}`;
}

export type ZoneManager = ReturnType<typeof createManager>;

export function createManager(store: ZoneStore, options: ZoneManagerOptions) {
  const zone: string = options.zone;
  const now = options.now ?? Date.now;
  const written = (id: ServiceIdentity) => options.onLocalWrite?.(id);

  function notFound(id: ServiceIdentity): MooringError {
    return new MooringError("NOT_FOUND", `MeshService ${identityText(id)} not found`);
  }

  return {
    /** Creates or updates one of this zone's own services. */
    putMeshService(
      mesh: string,
      name: string,
      input: MeshServiceInput,
      putOptions: PutOptions = {},
    ): { service: MeshServiceView; outcome: PutOutcome } {
      const id = { mesh, zone, name };
      const normalized = normalizeMeshService(id, input);
      if (!normalized.ok) throw validationError(normalized.problems);
      const next = normalized.value;
      const result = store.transaction(() => {
        const served = store.getMeshService(id);
        if (putOptions.expectedRevision !== undefined && putOptions.expectedRevision !== (served?.revision ?? 0)) {
          const reason = served
            ? `the served revision is ${served.revision}`
            : "the service does not exist (use revision 0 or leave it out to create it)";
          throw new MooringError("REVISION_CONFLICT", `revision ${putOptions.expectedRevision} is stale: ${reason}`, {
            details: [{ field: "revision", reason }],
          });
        }
        if (putOptions.echoedVips !== undefined && putOptions.echoedVips.length > 0) {
          if (putOptions.echoedVips.join(",") !== (served?.vips ?? []).join(",")) {
            const reason = "VIPs are assigned by the global; reserve an address there with PUT /vips/{ip}";
            throw validationError([{ field: "status.vips", reason }]);
          }
        }
        if (served && served.contentHash === next.contentHash) {
          return { service: served, outcome: "unchanged" as const };
        }
        const at = now();
        const row: OwnedRow = {
          mesh,
          name,
          labels: next.labels,
          spec: next.spec,
          contentHash: next.contentHash,
          zoneRevision: 0,
          deleted: false,
          creationTime: served?.creationTime ?? at,
          modificationTime: at,
          rejection: null,
        };
        if (!fitsUpstream(zone, row, options.maxMessageBytes)) {
          const reason =
            `encodes to ${upstreamSize(zone, row)} bytes; a sync message carries at most ` +
            `${options.maxMessageBytes} (MOORING_SYNC_MAX_MESSAGE)`;
          throw new MooringError("BODY_TOO_LARGE", `the service is too large to sync: ${reason}`, {
            details: [{ field: "body", reason }],
          });
        }
        store.putOwned({ ...row, zoneRevision: store.nextZoneRevision() });
        const service = store.getMeshService(id);
        if (!service) throw new Error(`MeshService ${identityText(id)} vanished inside its own write`);
        return { service, outcome: served ? ("updated" as const) : ("created" as const) };
      });
      if (result.outcome !== "unchanged") written(id);
      return result;
    },

    /** Deletes one of this zone's own services: a tombstone stays in the outbox until the global applies it. */
    deleteMeshService(mesh: string, name: string): MeshServiceView {
      const id = { mesh, zone, name };
      const deleted = store.transaction(() => {
        const served = store.getMeshService(id);
        if (!served) throw notFound(id);
        store.putOwned({
          mesh,
          name,
          labels: served.labels,
          spec: served.spec,
          contentHash: served.contentHash,
          zoneRevision: store.nextZoneRevision(),
          deleted: true,
          creationTime: served.creationTime,
          modificationTime: now(),
          rejection: null,
        });
        return served;
      });
      written(id);
      return deleted;
    },

    /** Any service the zone serves, by identity (an empty zone names a global-owned service). */
    getMeshService(id: ServiceIdentity): MeshServiceView {
      const service = store.getMeshService(id);
      if (!service) throw notFound(id);
      return service;
    },

    listMeshServices(mesh: string, offset: number, size: number): Page<MeshServiceView> {
      return store.listMeshServices(mesh, offset, size);
    },
  };
}
