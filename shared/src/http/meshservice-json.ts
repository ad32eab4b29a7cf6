import type { MeshServiceSpec } from "../meshservice.js";
import type { MeshService } from "./schemas.js";

/** A MeshService as either side stores it, before it is rendered as JSON. */
export interface MeshServiceRecord {
  readonly mesh: string;
  /** Empty for services owned by the global. */
  readonly zone: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly spec: MeshServiceSpec;
  readonly vips: readonly string[];
  readonly contentHash: string;
  readonly revision: number;
  readonly creationTime: number;
  readonly modificationTime: number;
}

export function toMeshServiceJson(service: MeshServiceRecord): MeshService {
  return {
    type: "MeshService",
    mesh: service.mesh,
    ...(service.zone === "" ? {} : { zone: service.zone }),
    name: service.name,
    labels: service.labels,
    spec: service.spec as MeshService["spec"],
    status: { vips: service.vips.map((ip) => ({ ip })) },
    creationTime: new Date(service.creationTime).toISOString(),
    modificationTime: new Date(service.modificationTime).toISOString(),
    revision: service.revision,
    contentHash: service.contentHash,
  };
}
