// MeshService between its JSON shape (REST, SQLite) and its protobuf shape (the sync stream). Both
// control planes convert with these two functions, so a service hashes the same on either side.
import { create } from "@bufbuild/protobuf";
import {
  type MeshService as MeshServiceMessage,
  MeshServiceSchema,
  type ResourceKey as ResourceKeyMessage,
  ResourceKeySchema,
} from "@mooring/proto";
import type { FieldError } from "./errors.js";
import type { MeshServiceRecord } from "./http/meshservice-json.js";
import {
  APP_PROTOCOLS,
  type AppProtocol,
  IDENTITY_TYPES,
  MESH_SERVICE,
  type MeshServiceInput,
  type MeshServiceSpec,
} from "./meshservice.js";
import { dnsLabelProblem } from "./names.js";

export function keyToProto(id: { mesh: string; zone: string; name: string }): ResourceKeyMessage {
  return create(ResourceKeySchema, { type: MESH_SERVICE, mesh: id.mesh, zone: id.zone, name: id.name });
}

export function meshServiceToProto(service: MeshServiceRecord): MeshServiceMessage {
  const spec = service.spec;
  return create(MeshServiceSchema, {
    key: keyToProto(service),
    labels: service.labels,
    spec: {
      selector: spec.selector && {
        dataplaneTags: spec.selector.dataplaneTags ?? {},
        dataplaneRefName: spec.selector.dataplaneRef?.name ?? "",
      },
      ports: spec.ports.map((port) => ({
        name: port.name ?? "",
        port: port.port,
        targetPort: port.targetPort === undefined ? "" : String(port.targetPort),
        appProtocol: port.appProtocol,
      })),
      identities: spec.identities ?? [],
    },
    vips: service.vips.map((ip) => ({ ip })),
    contentHash: service.contentHash,
    revision: BigInt(service.revision),
    creationTimeUnixMs: BigInt(service.creationTime),
    modificationTimeUnixMs: BigInt(service.modificationTime),
  });
}

/** The identity a key names, or the problems with it (a key must name a MeshService by DNS labels). */
export function keyFromProto(
  key: ResourceKeyMessage | undefined,
  field = "key",
): { ok: true; id: { mesh: string; zone: string; name: string } } | { ok: false; problems: FieldError[] } {
  if (!key) return { ok: false, problems: [{ field, reason: "is required" }] };
  const problems: FieldError[] = [];
  if (key.type !== MESH_SERVICE) problems.push({ field: `${field}.type`, reason: `must be "${MESH_SERVICE}"` });
  for (const part of ["mesh", "name"] as const) {
    const problem = dnsLabelProblem(key[part]);
    if (problem) problems.push({ field: `${field}.${part}`, reason: problem });
  }
  if (key.zone !== "") {
    const problem = dnsLabelProblem(key.zone);
    if (problem) problems.push({ field: `${field}.zone`, reason: problem });
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, id: { mesh: key.mesh, zone: key.zone, name: key.name } };
}

const PORT_NUMBER = /^\d{1,5}$/;

/**
 * A received MeshService as writer input, checked for what the REST schema checks (port ranges,
 * closed sets); `normalizeMeshService` then applies the rest. Problems name the proto field.
 */
export function meshServiceInputFromProto(
  message: MeshServiceMessage,
): { ok: true; input: MeshServiceInput } | { ok: false; problems: FieldError[] } {
  const problems: FieldError[] = [];
  const spec = message.spec;
  if (!spec) return { ok: false, problems: [{ field: "spec", reason: "is required" }] };
  if (spec.ports.length < 1 || spec.ports.length > 64) {
    problems.push({ field: "spec.ports", reason: "must have between 1 and 64 ports" });
  }
  const ports = spec.ports.map((port, i) => {
    const field = `spec.ports[${i}]`;
    if (port.port < 1 || port.port > 65535) problems.push({ field: `${field}.port`, reason: "must be 1-65535" });
    const appProtocol = port.appProtocol === "" ? "tcp" : port.appProtocol;
    if (!(APP_PROTOCOLS as readonly string[]).includes(appProtocol)) {
      problems.push({ field: `${field}.appProtocol`, reason: `must be one of ${APP_PROTOCOLS.join(", ")}` });
    }
    let targetPort: number | string | undefined;
    if (PORT_NUMBER.test(port.targetPort)) {
      targetPort = Number(port.targetPort);
      if (targetPort < 1 || targetPort > 65535) {
        problems.push({ field: `${field}.targetPort`, reason: "must be 1-65535 or a port name" });
      }
    } else if (port.targetPort !== "") {
      targetPort = port.targetPort;
      const problem = dnsLabelProblem(port.targetPort);
      if (problem) problems.push({ field: `${field}.targetPort`, reason: problem });
    }
    if (port.name !== "") {
      const problem = dnsLabelProblem(port.name);
      if (problem) problems.push({ field: `${field}.name`, reason: problem });
    }
    return {
      port: port.port,
      appProtocol: appProtocol as AppProtocol,
      ...(port.name === "" ? {} : { name: port.name }),
      ...(targetPort === undefined ? {} : { targetPort }),
    };
  });
  const identities = spec.identities.map((identity, i) => {
    if (!(IDENTITY_TYPES as readonly string[]).includes(identity.type)) {
      problems.push({ field: `spec.identities[${i}].type`, reason: `must be one of ${IDENTITY_TYPES.join(", ")}` });
    }
    if (identity.value === "") problems.push({ field: `spec.identities[${i}].value`, reason: "must not be empty" });
    return { type: identity.type as (typeof IDENTITY_TYPES)[number], value: identity.value };
  });
  if (problems.length > 0) return { ok: false, problems };
  const selector: MeshServiceSpec["selector"] | undefined = spec.selector && {
    ...(Object.keys(spec.selector.dataplaneTags).length > 0
      ? { dataplaneTags: { ...spec.selector.dataplaneTags } }
      : {}),
    ...(spec.selector.dataplaneRefName === "" ? {} : { dataplaneRef: { name: spec.selector.dataplaneRefName } }),
  };
  return {
    ok: true,
    input: {
      labels: { ...message.labels },
      spec: {
        ports,
        ...(selector === undefined ? {} : { selector }),
        ...(identities.length > 0 ? { identities } : {}),
      },
    },
  };
}
