// Turns what arrives from the global into rows the zone can store, or into the precise problems that
// become Nack entries. Validation is the global's own (shared), so the zone refuses exactly what the
// global would never have produced.
import { isIP } from "node:net";
import type { MeshService, ResourceKey } from "@mooring/proto";
import {
  type FieldError,
  keyFromProto,
  MESH_SERVICE,
  meshServiceInputFromProto,
  normalizeMeshServiceContent,
} from "@mooring/shared";
import type { SyncedKey, SyncedRow } from "../store/types.js";

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

/**
 * 64 lower-case hex digits (a SHA-256), checked without a branch per character: on a hash's random
 * digits the branches of /^[0-9a-f]{64}$/ mispredicted, which made it about a third of the time
 * taken to check a resource.
 */
export function isContentHash(hash: string): boolean {
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

/**
 * A resource of a Changes message the general way: the row, or every problem of a refused resource.
 * Frames the global sends as usual are decoded into rows by rows-decoder.ts instead; this path
 * takes the rest (a frame with a refused resource, or with fields this zone does not know).
 */
export function decodeMeshService(message: MeshService): Decoded<SyncedRow> {
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
