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

/** A MeshService's identity and content with defaults applied: what the content hash covers. */
export interface MeshServiceContent {
  readonly mesh: string;
  readonly zone: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly spec: MeshServiceSpec;
}

export interface NormalizedMeshService extends MeshServiceContent {
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
  const normalized = normalizeMeshServiceContent(identity, input);
  if (!normalized.ok) return normalized;
  return { ok: true, value: { ...normalized.value, contentHash: contentHash(normalized.value) } };
}

/**
 * `normalizeMeshService` without the content hash, for content whose hash is already known: a zone
 * stores the hash the global sent (it names the content on both sides), so hashing every received
 * resource again (canonical JSON and SHA-256) would be work whose result is thrown away.
 */
export function normalizeMeshServiceContent(
  identity: { mesh: string; zone: string; name: string },
  input: MeshServiceInput,
): { ok: true; value: MeshServiceContent } | { ok: false; problems: FieldError[] } {
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
  if (input.spec.ports.length < 1 || input.spec.ports.length > MAX_PORTS) {
    problems.push({ field: "spec.ports", reason: `must have 1 to ${MAX_PORTS} entries` });
  }
  const ports = input.spec.ports.map((port, i) => {
    const normalized: MeshServicePort = { port: port.port, appProtocol: port.appProtocol ?? "tcp" };
    if (port.name !== undefined) normalized.name = port.name;
    if (port.targetPort !== undefined) {
      // "8080" and 8080 mean the same port; the protobuf form carries one string, read back as a
      // number when it is digits. Normalising here makes both sides store and hash the same thing.
      const target = port.targetPort;
      if (typeof target === "string" && /^\d+$/.test(target)) {
        const number = Number(target);
        if (number < 1 || number > 65535) {
          problems.push({ field: `spec.ports[${i}].targetPort`, reason: "must be a port number between 1 and 65535" });
        }
        normalized.targetPort = number;
      } else {
        normalized.targetPort = target;
      }
    }
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

  const ref = input.spec.selector?.dataplaneRef;
  if (ref !== undefined) {
    const problem = dnsLabelProblem(ref.name);
    if (problem) problems.push({ field: "spec.selector.dataplaneRef.name", reason: problem });
  }
  const identities = input.spec.identities ?? [];
  if (identities.length > MAX_IDENTITIES) {
    problems.push({ field: "spec.identities", reason: `must have at most ${MAX_IDENTITIES} entries` });
  }
  identities.forEach((identity, i) => {
    if (!(IDENTITY_TYPES as readonly string[]).includes(identity.type)) {
      problems.push({ field: `spec.identities[${i}].type`, reason: `must be one of ${IDENTITY_TYPES.join(", ")}` });
    }
    if (identity.value.length < 1 || identity.value.length > MAX_VALUE) {
      problems.push({ field: `spec.identities[${i}].value`, reason: `must be 1 to ${MAX_VALUE} characters` });
    }
  });
  for (const [key, value] of Object.entries(tags)) {
    if (value.length > MAX_VALUE) {
      problems.push({
        field: `spec.selector.dataplaneTags[${JSON.stringify(key)}]`,
        reason: `value must be at most ${MAX_VALUE} characters`,
      });
    }
  }
  // JSON may carry lone UTF-16 surrogates; UTF-8 (protobuf, SQLite) cannot, so such a string would
  // reach zones changed while keeping the global's hash.
  illFormedStrings(identity, input, problems);

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
  return { ok: true, value: { mesh: identity.mesh, zone: identity.zone, name: identity.name, labels, spec } };
}

/** Limits of a MeshService: the REST schema (http/schemas.ts), upstream writes and zone decoding all use these. */
export const MAX_PORTS = 64;
export const MAX_IDENTITIES = 32;
export const MAX_VALUE = 253;
const ILL_FORMED = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A problem for every free-text string of a service holding a lone surrogate. Runs on every write and
 * on every resource a zone receives, so a field's name is built only for a string that has one.
 */
function illFormedStrings(
  identity: { mesh: string; zone: string; name: string },
  input: MeshServiceInput,
  problems: FieldError[],
): void {
  const reason = "must be well-formed Unicode (a lone surrogate)";
  if (ILL_FORMED.test(identity.name)) problems.push({ field: "name", reason });
  const labels = input.labels ?? {};
  for (const key of Object.keys(labels)) {
    if (ILL_FORMED.test(key)) problems.push({ field: `labels[${JSON.stringify(key)}]`, reason });
    if (ILL_FORMED.test(labels[key] as string)) problems.push({ field: `labels[${JSON.stringify(key)}]`, reason });
  }
  const tags = input.spec.selector?.dataplaneTags ?? {};
  for (const key of Object.keys(tags)) {
    if (ILL_FORMED.test(key)) problems.push({ field: `spec.selector.dataplaneTags[${JSON.stringify(key)}]`, reason });
    if (ILL_FORMED.test(tags[key] as string)) {
      problems.push({ field: `spec.selector.dataplaneTags[${JSON.stringify(key)}]`, reason });
    }
  }
  const ports = input.spec.ports;
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i] as (typeof ports)[number];
    if (port.name !== undefined && ILL_FORMED.test(port.name)) {
      problems.push({ field: `spec.ports[${i}].name`, reason });
    }
    if (typeof port.targetPort === "string" && ILL_FORMED.test(port.targetPort)) {
      problems.push({ field: `spec.ports[${i}].targetPort`, reason });
    }
  }
  const identities = input.spec.identities ?? [];
  for (let i = 0; i < identities.length; i++) {
    if (ILL_FORMED.test((identities[i] as { value: string }).value)) {
      problems.push({ field: `spec.identities[${i}].value`, reason });
    }
  }
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
