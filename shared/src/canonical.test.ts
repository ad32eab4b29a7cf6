import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, contentHash } from "./canonical.js";

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, seed));
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    const rotated = entries.slice(seed % (entries.length || 1)).concat(entries.slice(0, seed % (entries.length || 1)));
    return Object.fromEntries(rotated.reverse().map(([k, v]) => [k, shuffleKeys(v, seed + 1)]));
  }
  return value;
}

describe("canonicalJson", () => {
  it("sorts keys at every depth and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: null } })).toBe('{"a":{"c":null,"d":[3,1]},"b":1}');
  });

  it("omits undefined properties and refuses non-finite numbers", () => {
    expect(canonicalJson({ a: undefined, b: 2 })).toBe('{"b":2}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/no JSON form/);
  });

  it("gives equal bytes for equal content whatever the key order (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, seed) => {
        expect(canonicalJson(shuffleKeys(value, seed))).toBe(canonicalJson(value));
      }),
    );
  });
});

describe("contentHash", () => {
  const base = { mesh: "default", zone: "", name: "web", labels: { app: "web" }, spec: { ports: [{ port: 80 }] } };

  it("is a SHA-256 hex digest, stable for a fixed input", () => {
    expect(contentHash(base)).toMatch(/^[0-9a-f]{64}$/);
    expect(contentHash({ ...base, labels: { app: "web" } })).toBe(contentHash(base));
  });

  it("ignores status and metadata but not identity, labels or spec", () => {
    const withExtras = { ...base, status: { vips: [{ ip: "241.0.0.1" }] }, revision: 9 } as typeof base;
    expect(contentHash(withExtras)).toBe(contentHash(base));
    for (const changed of [
      { ...base, mesh: "other" },
      { ...base, zone: "zone-1" },
      { ...base, name: "api" },
      { ...base, labels: { app: "api" } },
      { ...base, spec: { ports: [{ port: 81 }] } },
    ]) {
      expect(contentHash(changed)).not.toBe(contentHash(base));
    }
  });
});
