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

const CONTENT_HASH = /^[0-9a-f]{64}$/;

export type Decoded<T> = { ok: true; value: T } | { ok: false; problems: FieldError[] };

/** `type/mesh/zone/name`: the key diffs and sets are keyed by. */
export function keyString(key: SyncedKey): string {
  return `${key.type}/${key.mesh}/${key.zone}/${key.name}`;
}

/** A uint64/int64 from the wire as a JS number, or undefined when it does not fit one exactly. */
export function safeNumber(value: bigint): number | undefined {
  return value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

export function decodeKey(key: ResourceKey | undefined): Decoded<SyncedKey> {
  const decoded = keyFromProto(key);
  if (!decoded.ok) return decoded;
  return { ok: true, value: { type: MESH_SERVICE, ...decoded.id } };
}

export function decodeMeshService(message: MeshService): Decoded<SyncedRow> {
  const key = decodeKey(message.key);
  if (!key.ok) return key;
  const problems: FieldError[] = [];
  const input = meshServiceInputFromProto(message);
  if (!input.ok) problems.push(...input.problems);
  // Validated and normalised like a local write, but not hashed: the zone keeps the global's hash.
  const normalized = input.ok ? normalizeMeshServiceContent(key.value, input.input) : undefined;
  if (normalized && !normalized.ok) problems.push(...normalized.problems);
  message.vips.forEach((vip, i) => {
    if (isIP(vip.ip) === 0)
      problems.push({ field: `vips[${i}].ip`, reason: `${JSON.stringify(vip.ip)} is not an IP address` });
  });
  if (!CONTENT_HASH.test(message.contentHash)) {
    problems.push({ field: "contentHash", reason: "must be 64 lower-case hex digits (SHA-256)" });
  }
  const numbers = {
    revision: safeNumber(message.revision),
    creationTime: safeNumber(message.creationTimeUnixMs),
    modificationTime: safeNumber(message.modificationTimeUnixMs),
  };
  for (const [field, value] of Object.entries(numbers)) {
    if (value === undefined) problems.push({ field, reason: "must be between 0 and 2^53-1" });
  }
  if (problems.length > 0 || !normalized?.ok) return { ok: false, problems };
  return {
    ok: true,
    value: {
      ...key.value,
      labels: normalized.value.labels,
      spec: normalized.value.spec,
      vips: message.vips.map((vip) => vip.ip),
      // The global's hash names the content; the zone stores it as given and never recomputes it.
      contentHash: message.contentHash,
      revision: numbers.revision ?? 0,
      creationTime: numbers.creationTime ?? 0,
      modificationTime: numbers.modificationTime ?? 0,
    },
  };
}

/** One line for a Nack entry or a log: `spec.ports[0].port: must be 1-65535 (and 1 more)`. */
export function describeProblems(problems: readonly FieldError[]): string {
  const first = problems[0];
  const summary = first ? `${first.field}: ${first.reason}` : "invalid resource";
  return problems.length > 1 ? `${summary} (and ${problems.length - 1} more)` : summary;
}
