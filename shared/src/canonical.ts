import { hash } from "node:crypto";

/**
 * JSON with object keys sorted at every depth and no insignificant white space, so equal content
 * always serialises to equal bytes. Arrays keep their order (order is meaningful in a spec).
 * Properties whose value is undefined are omitted, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const child = (value as Record<string, unknown>)[key];
      if (child !== undefined) sorted[key] = sortKeys(child);
    }
    return sorted;
  }
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new TypeError(`canonicalJson: ${value} has no JSON form`);
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

export interface HashedContent {
  readonly mesh: string;
  readonly zone: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: unknown;
}

/**
 * SHA-256 (hex) over the canonical JSON of (mesh, zone, name, labels, spec). Status and metadata are
 * deliberately left out: a write whose hash equals the stored one changes nothing.
 */
export function contentHash(content: HashedContent): string {
  const { mesh, zone, name, labels, spec } = content;
  // The one-shot hash: half the cost of createHash().update().digest() for inputs this small.
  return hash("sha256", canonicalJson({ mesh, zone, name, labels, spec }), "hex");
}
