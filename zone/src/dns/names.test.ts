import { describe, expect, it } from "vitest";
import { isInDnsDomain, normalizeName, serviceDnsName } from "./names.js";

describe("DNS names", () => {
  it("names a global-owned service NAME.MESH.mesh.local and a zone-owned one NAME.ZONE.MESH.mesh.local", () => {
    expect(serviceDnsName({ mesh: "default", zone: "", name: "web" })).toBe("web.default.mesh.local");
    expect(serviceDnsName({ mesh: "payments", zone: "east", name: "db" })).toBe("db.east.payments.mesh.local");
  });

  it.each([
    ["Web.Default.MESH.local.", "web.default.mesh.local"],
    ["web.default.mesh.local", "web.default.mesh.local"],
    ["MESH.LOCAL", "mesh.local"],
    [".", ""],
  ])("normalizes %j to %j (case-insensitive, trailing dot tolerated)", (raw, normalized) => {
    expect(normalizeName(raw)).toBe(normalized);
  });

  it.each([
    ["mesh.local", true],
    ["web.default.mesh.local", true],
    ["example.com", false],
    ["local", false],
    ["notmesh.local", false],
    ["mesh.local.example.com", false],
    ["", false],
  ])("%j is inside mesh.local: %s", (name, inside) => {
    expect(isInDnsDomain(name)).toBe(inside);
  });
});
