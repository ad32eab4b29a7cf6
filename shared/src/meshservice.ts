// The MeshService resource: its shape, its defaults, and the checks a JSON schema cannot express.
import { contentHash } from "./canonical.js";
import type { FieldError } from "./errors.js";
import { dnsLabelProblem, labelKeyProblem, labelValueProblem } from "./names.js";

export const MESH_SERVICE = "MeshService";
export const APP_PROTOCOLS = ["tcp", "http", "http2", "grpc", "kafka"] as const;
export type AppProtocol = (typeof APP_PROTOCOLS)[number];
export const IDENTITY_TYPES = ["ServiceTag", "SpiffeID"] as const;

export interface MeshServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  appProtocol: AppProtocol;
}

export interface MeshServiceSpec {
  selector?: { dataplaneTags?: Record<string, string>; dataplaneRef?: { name: string } };
  ports: MeshServicePort[];
  identities?: Array<{ type: (typeof IDENTITY_TYPES)[number]; value: string }>;
}

/** What a writer supplies: defaults not yet applied. */
export interface MeshServiceInput {
  labels?: Record<string, string>;
  spec: {
    selector?: MeshServiceSpec["selector"];
    ports: Array<Omit<MeshServicePort, "appProtocol"> & { appProtocol?: AppProtocol }>;
    identities?: MeshServiceSpec["identities"];
  };
}

export interface NormalizedMeshService {
  readonly mesh: string;
  readonly zone: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly spec: MeshServiceSpec;
  readonly contentHash: string;
}

/**
 * Applies defaults so that equal intent hashes equally (a port without appProtocol is `tcp`), and
 * collects every problem the schema cannot see. Returns the problems, or the normalised service.
 */
export function normalizeMeshService(
  identity: { mesh: string; zone: string; name: string },
  input: MeshServiceInput,
): { ok: true; value: NormalizedMeshService } | { ok: false; problems: FieldError[] } {
  const problems: FieldError[] = [];
  for (const [field, value] of [
    ["mesh", identity.mesh],
    ["name", identity.name],
  ] as const) {
    const problem = dnsLabelProblem(value);
    if (problem) problems.push({ field, reason: problem });
  }
  if (identity.zone !== "") {
    const problem = dnsLabelProblem(identity.zone);
    if (problem) problems.push({ field: "zone", reason: problem });
  }

  const labels = input.labels ?? {};
  for (const [key, value] of Object.entries(labels)) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) problems.push({ field: `labels[${JSON.stringify(key)}]`, reason: `key ${keyProblem}` });
    const valueProblem = labelValueProblem(value);
    if (valueProblem) problems.push({ field: `labels[${JSON.stringify(key)}]`, reason: `value ${valueProblem}` });
  }

  problems.push(...duplicates(input.spec.ports, "port"), ...duplicates(input.spec.ports, "name"));
  const ports = input.spec.ports.map((port) => {
    const normalized: MeshServicePort = { port: port.port, appProtocol: port.appProtocol ?? "tcp" };
    if (port.name !== undefined) normalized.name = port.name;
    if (port.targetPort !== undefined) normalized.targetPort = port.targetPort;
    return normalized;
  });
  if (ports.length > 1 && ports.some((port) => port.name === undefined)) {
    const i = ports.findIndex((port) => port.name === undefined);
    problems.push({ field: `spec.ports[${i}].name`, reason: "is required when a service has more than one port" });
  }

  const tags = input.spec.selector?.dataplaneTags ?? {};
  for (const [key, value] of Object.entries(tags)) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) {
      problems.push({ field: `spec.selector.dataplaneTags[${JSON.stringify(key)}]`, reason: `key ${keyProblem}` });
    }
    if (value === "") {
      problems.push({
        field: `spec.selector.dataplaneTags[${JSON.stringify(key)}]`,
        reason: "value must not be empty",
      });
    }
  }

  if (problems.length > 0) return { ok: false, problems };

  // Empty collections are dropped: "no tags" hashes the same whether it was sent as {} or left out,
  // on the REST API and after the protobuf round trip of the sync stream alike.
  const spec: MeshServiceSpec = { ports };
  const selector = input.spec.selector;
  if (selector !== undefined) {
    const kept: NonNullable<MeshServiceSpec["selector"]> = {};
    if (selector.dataplaneTags !== undefined && Object.keys(selector.dataplaneTags).length > 0) {
      kept.dataplaneTags = selector.dataplaneTags;
    }
    if (selector.dataplaneRef !== undefined) kept.dataplaneRef = selector.dataplaneRef;
    if (Object.keys(kept).length > 0) spec.selector = kept;
  }
  if (input.spec.identities !== undefined && input.spec.identities.length > 0) spec.identities = input.spec.identities;
  const value = { ...identity, labels, spec };
  return { ok: true, value: { ...value, contentHash: contentHash(value) } };
}

/** `spec.ports[i].<field>` problems for every port repeating an earlier port's value of `field`. */
function duplicates(ports: MeshServiceInput["spec"]["ports"], field: "port" | "name"): FieldError[] {
  const first = new Map<unknown, number>();
  const problems: FieldError[] = [];
  ports.forEach((port, i) => {
    const value = port[field];
    if (value === undefined) return;
    const earlier = first.get(value);
    if (earlier === undefined) first.set(value, i);
    else
      problems.push({
        field: `spec.ports[${i}].${field}`,
        reason: `duplicates spec.ports[${earlier}].${field} (${value})`,
      });
  });
  return problems;
}
