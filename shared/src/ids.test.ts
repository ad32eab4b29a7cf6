import { describe, expect, it } from "vitest";
import { MooringError } from "./errors.js";
import { parseResourceKey, resourceKey, revision, type ZoneId, type ZoneName, zoneId, zoneName } from "./ids.js";

describe("branded ids", () => {
  it("validates at construction", () => {
    expect(zoneName("zone-1")).toBe("zone-1");
    expect(() => zoneName("Zone_1")).toThrow(MooringError);
    expect(zoneId("6f1c2b8e-3a44-4c1e-9d6b-2f0e8a7c5d31")).toBe("6f1c2b8e-3a44-4c1e-9d6b-2f0e8a7c5d31");
    expect(() => zoneId("zone-1")).toThrow(/UUID/);
    expect(() => revision(-1)).toThrow(/non-negative/);
  });

  it("makes comparing a zone name with a zone id a compile error (LXD OVN evacuation bug)", () => {
    const name: ZoneName = zoneName("zone-1");
    const id: ZoneId = zoneId("6f1c2b8e-3a44-4c1e-9d6b-2f0e8a7c5d31");
    // @ts-expect-error ZoneName and ZoneId have no overlap: this comparison must not compile.
    const compared = name === id;
    // @ts-expect-error a plain string is not a ZoneName.
    const unbranded: ZoneName = "zone-1";
    expect([compared, unbranded]).toEqual([false, "zone-1"]);
  });

  it("round-trips resource keys, empty zone included", () => {
    const identity = { type: "MeshService", mesh: "default", zone: "", name: "web" };
    expect(resourceKey(identity)).toBe("MeshService/default//web");
    expect(parseResourceKey(resourceKey(identity))).toEqual(identity);
  });
});
