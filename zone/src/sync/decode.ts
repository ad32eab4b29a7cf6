// Turns what arrives from the global into rows the zone can store, or into the precise problems that
// become Nack entries. Validation is the global's own (shared), so the zone refuses exactly what the
// global would never have produced.
import { isIP } from "node:net";
import type { MeshService, MeshServicePort as MeshServicePortMessage, ResourceKey } from "@mooring/proto";
import {
  APP_PROTOCOLS,
  type AppProtocol,
  dnsLabelProblem,
  type FieldError,
  IDENTITY_TYPES,
  keyFromProto,
  labelKeyProblem,
  labelValueProblem,
  MAX_IDENTITIES,
  MAX_PORTS,
  MAX_VALUE,
  MESH_SERVICE,
  type MeshServicePort,
  type MeshServiceSpec,
  meshServiceInputFromProto,
  normalizeMeshServiceContent,
} from "@mooring/shared";
import type { SyncedKey, SyncedRow } from "../store/types.js";

const DIGITS = /^\d+$/;
const SURROGATE = /[\uD800-\uDFFF]/;
const APP_PROTOCOL_NAMES: readonly string[] = APP_PROTOCOLS;
const IDENTITY_TYPE_NAMES: readonly string[] = IDENTITY_TYPES;

export type Decoded<T> = { ok: true; value: T } | { ok: false; problems: FieldError[] };

/** `type/mesh/zone/name`: the key diffs and sets are keyed by. */
export function keyString(key: SyncedKey): string {
  return `${key.type}/${key.mesh}/${key.zone}/${key.name}`;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A uint64/int64 from the wire as a JS number, or undefined when it does not fit one exactly. */
export function safeNumber(value: bigint): number | undefined {
  return value >= 0n && value <= MAX_SAFE ? Number(value) : undefined;
}

export function decodeKey(key: ResourceKey | undefined): Decoded<SyncedKey> {
  const decoded = keyFromProto(key);
  if (!decoded.ok) return decoded;
  return { ok: true, value: { type: MESH_SERVICE, ...decoded.id } };
}

// Called for every resource of every batch (100,000 times for a first sync of that many services).
// What the global sends is valid, so it is checked and built in one pass (decodeMeshServiceFast);
// only a resource that fails it pays for the full decoding, which names every problem for the Nack.
export function decodeMeshService(message: MeshService): Decoded<SyncedRow> {
  const row = decodeMeshServiceFast(message);
  return row === undefined ? decodeMeshServiceSlow(message) : { ok: true, value: row };
}

/**
 * The row of a resource that passes every check of `decodeMeshServiceSlow`, or undefined as soon as
 * anything does not: refused, or unusual enough to leave to the slow path (a surrogate in free text).
 * A row is the slow path's exactly, key order included, since labels, spec and vips are stored and
 * compared as JSON text; decode.property.test.ts holds the two paths to that.
 */
export function decodeMeshServiceFast(message: MeshService): SyncedRow | undefined {
  const key = message.key;
  const source = message.spec;
  if (key === undefined || source === undefined || key.type !== MESH_SERVICE) return undefined;
  if (dnsLabelProblem(key.mesh) !== undefined || dnsLabelProblem(key.name) !== undefined) return undefined;
  if (key.zone !== "" && dnsLabelProblem(key.zone) !== undefined) return undefined;
  const revision = safeNumber(message.revision);
  const creationTime = safeNumber(message.creationTimeUnixMs);
  const modificationTime = safeNumber(message.modificationTimeUnixMs);
  if (revision === undefined || creationTime === undefined || modificationTime === undefined) return undefined;
  if (!isContentHash(message.contentHash)) return undefined;

  // The message's own object, not a copy as on the slow path: the copy would hold the same keys in
  // the same order, and the message is dropped once decoded (a caller that keeps it and changes its
  // labels changes the row's). Valid keys and values are ASCII (names.ts), so no surrogate either.
  const labels = message.labels;
  for (const name of Object.keys(labels)) {
    const value = labels[name] as string;
    if (labelKeyProblem(name) !== undefined || labelValueProblem(value) !== undefined) return undefined;
  }

  const ports = fastPorts(source.ports);
  if (ports === undefined) return undefined;
  const spec: MeshServiceSpec = { ports };
  const selector = source.selector;
  if (selector !== undefined) {
    // The decoded map is kept, like labels. Tag values are free text: any surrogate goes the slow way.
    const tags = selector.dataplaneTags;
    const tagged = Object.keys(tags);
    for (const name of tagged) {
      const value = tags[name] as string;
      if (labelKeyProblem(name) !== undefined || value === "" || value.length > MAX_VALUE || SURROGATE.test(value)) {
        return undefined;
      }
    }
    const ref = selector.dataplaneRefName;
    if (ref !== "" && dnsLabelProblem(ref) !== undefined) return undefined;
    // An empty selector is dropped, as the slow path drops empty collections.
    if (tagged.length > 0 || ref !== "") {
      spec.selector = {};
      if (tagged.length > 0) spec.selector.dataplaneTags = tags;
      if (ref !== "") spec.selector.dataplaneRef = { name: ref };
    }
  }
  const identities = source.identities;
  if (identities.length > MAX_IDENTITIES) return undefined;
  if (identities.length > 0) {
    spec.identities = [];
    for (const { type, value } of identities) {
      if (!IDENTITY_TYPE_NAMES.includes(type) || value === "" || value.length > MAX_VALUE) return undefined;
      if (SURROGATE.test(value)) return undefined;
      spec.identities.push({ type: type as (typeof IDENTITY_TYPES)[number], value });
    }
  }

  const vips: string[] = [];
  for (const { ip } of message.vips) {
    if (isIP(ip) === 0) return undefined;
    vips.push(ip);
  }
  return {
    type: MESH_SERVICE,
    mesh: key.mesh,
    zone: key.zone,
    name: key.name,
    labels,
    spec,
    vips,
    contentHash: message.contentHash,
    revision,
    creationTime,
    modificationTime,
  };
}

/**
 * 64 lower-case hex digits (a SHA-256), checked without a branch per character: on a hash's random
 * digits the branches of /^[0-9a-f]{64}$/ mispredicted, which made it about a third of the fast
 * path's time.
 */
function isContentHash(hash: string): boolean {
  if (hash.length !== 64) return false;
  let outside = 0;
  for (let i = 0; i < 64; i++) {
    const c = hash.charCodeAt(i);
    // (c - low) | (high - c) is negative exactly when c is outside [low, high]: the sign bit is set
    // for a character outside both 0-9 and a-f.
    outside |= ((c - 0x30) | (0x39 - c)) & ((c - 0x61) | (0x66 - c));
  }
  return outside >= 0;
}

/** `decodeMeshServiceFast`'s ports: `{ port, appProtocol, name?, targetPort? }` each, or undefined. */
function fastPorts(source: readonly MeshServicePortMessage[]): MeshServicePort[] | undefined {
  if (source.length < 1 || source.length > MAX_PORTS) return undefined;
  const ports: MeshServicePort[] = [];
  for (let i = 0; i < source.length; i++) {
    const { name, port: number, targetPort, appProtocol } = source[i] as MeshServicePortMessage;
    // Written so that NaN (from a hand-built message) goes the slow way: its range check lets NaN
    // through, and its duplicate check finds two NaNs equal where === would not.
    if (!(number >= 1 && number <= 65535)) return undefined;
    // Names are optional for a lone port only.
    if (name === "" ? source.length > 1 : dnsLabelProblem(name) !== undefined) return undefined;
    for (let j = 0; j < i; j++) {
      const earlier = source[j] as MeshServicePortMessage;
      if (earlier.port === number || earlier.name === name) return undefined;
    }
    const protocol = appProtocol === "" ? "tcp" : appProtocol;
    if (!APP_PROTOCOL_NAMES.includes(protocol)) return undefined;
    const port: MeshServicePort = { port: number, appProtocol: protocol as AppProtocol };
    if (name !== "") port.name = name;
    if (targetPort !== "") {
      // One string on the wire for a port name or number: digits (any that pass as a DNS label,
      // leading zeros included) are read as the number, as the slow path reads them.
      if (dnsLabelProblem(targetPort) !== undefined) return undefined;
      if (DIGITS.test(targetPort)) {
        const target = Number(targetPort);
        if (!(target >= 1 && target <= 65535)) return undefined;
        port.targetPort = target;
      } else {
        port.targetPort = targetPort;
      }
    }
    ports.push(port);
  }
  return ports;
}

/** The full decoding: the row, or every problem of a refused resource. */
export function decodeMeshServiceSlow(message: MeshService): Decoded<SyncedRow> {
  const key = decodeKey(message.key);
  if (!key.ok) return key;
  let problems: FieldError[] = [];
  const input = meshServiceInputFromProto(message);
  if (!input.ok) problems = input.problems;
  // Validated and normalised like a local write, but not hashed: the zone stores the global's hash as
  // given. The hash names the content on both sides (diffs, reconcile inventories); recomputing it
  // here would only refuse the content of a newer global that hashes fields this zone does not know.
  const normalized = input.ok ? normalizeMeshServiceContent(key.value, input.input) : undefined;
  if (normalized && !normalized.ok) problems.push(...normalized.problems);
  const vips: string[] = [];
  for (let i = 0; i < message.vips.length; i++) {
    const ip = (message.vips[i] as { ip: string }).ip;
    if (isIP(ip) === 0) problems.push({ field: `vips[${i}].ip`, reason: `${JSON.stringify(ip)} is not an IP address` });
    vips.push(ip);
  }
  if (!isContentHash(message.contentHash)) {
    problems.push({ field: "contentHash", reason: "must be 64 lower-case hex digits (SHA-256)" });
  }
  const revision = safeNumber(message.revision);
  const creationTime = safeNumber(message.creationTimeUnixMs);
  const modificationTime = safeNumber(message.modificationTimeUnixMs);
  const range = "must be between 0 and 2^53-1";
  if (revision === undefined) problems.push({ field: "revision", reason: range });
  if (creationTime === undefined) problems.push({ field: "creationTime", reason: range });
  if (modificationTime === undefined) problems.push({ field: "modificationTime", reason: range });
  if (problems.length > 0 || !normalized?.ok) return { ok: false, problems };
  return {
    ok: true,
    value: {
      type: key.value.type,
      mesh: key.value.mesh,
      zone: key.value.zone,
      name: key.value.name,
      labels: normalized.value.labels,
      spec: normalized.value.spec,
      vips,
      contentHash: message.contentHash,
      revision: revision ?? 0,
      creationTime: creationTime ?? 0,
      modificationTime: modificationTime ?? 0,
    },
  };
}

/** One line for a Nack entry or a log: `spec.ports[0].port: must be 1-65535 (and 1 more)`. */
export function describeProblems(problems: readonly FieldError[]): string {
  const first = problems[0];
  const summary = first ? `${first.field}: ${first.reason}` : "invalid resource";
  return problems.length > 1 ? `${summary} (and ${problems.length - 1} more)` : summary;
}
