// A service must hash the same on both sides of the sync stream, or a zone's own service would look
// changed to the global (and back) on every round trip.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { APP_PROTOCOLS, type MeshServiceInput, normalizeMeshService } from "./meshservice.js";
import { keyFromProto, meshServiceInputFromProto, meshServiceToProto } from "./meshservice-proto.js";

const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
const input: fc.Arbitrary<MeshServiceInput> = fc.record(
  {
    labels: fc.dictionary(label, label, { maxKeys: 3 }),
    spec: fc.record(
      {
        selector: fc.record(
          {
            dataplaneTags: fc.dictionary(label, label, { maxKeys: 2 }),
            dataplaneRef: fc.record({ name: label }),
          },
          { requiredKeys: [] },
        ),
        ports: fc.uniqueArray(
          fc.record(
            {
              port: fc.integer({ min: 1, max: 65535 }),
              appProtocol: fc.constantFrom(...APP_PROTOCOLS),
              targetPort: fc.oneof(fc.integer({ min: 1, max: 65535 }), label),
            },
            { requiredKeys: ["port"] },
          ),
          { minLength: 1, maxLength: 1, selector: (p) => p.port },
        ),
        identities: fc.array(
          fc.record({ type: fc.constantFrom("ServiceTag" as const, "SpiffeID" as const), value: label }),
          {
            maxLength: 2,
          },
        ),
      },
      { requiredKeys: ["ports"] },
    ),
  },
  { requiredKeys: ["spec"] },
);

describe("MeshService over protobuf", () => {
  it("hashes the same after a round trip through the sync stream's message", () => {
    fc.assert(
      fc.property(input, (service) => {
        const id = { mesh: "default", zone: "zone-1", name: "web" };
        const before = normalizeMeshService(id, service);
        if (!before.ok) throw new Error(JSON.stringify(before.problems));
        const message = meshServiceToProto({
          ...before.value,
          vips: ["241.0.0.1"],
          revision: 3,
          creationTime: 1,
          modificationTime: 2,
        });
        const decoded = meshServiceInputFromProto(message);
        if (!decoded.ok) throw new Error(JSON.stringify(decoded.problems));
        const after = normalizeMeshService(id, decoded.input);
        expect(after.ok && after.value.contentHash).toBe(before.value.contentHash);
        expect(after.ok && after.value.spec).toEqual(before.value.spec);
      }),
      { numRuns: 200 },
    );
  });

  it("treats an empty tag map, an empty selector and an empty identity list like leaving them out", () => {
    const id = { mesh: "default", zone: "", name: "web" };
    const bare = normalizeMeshService(id, { spec: { ports: [{ port: 80 }] } });
    const empty = normalizeMeshService(id, {
      spec: { ports: [{ port: 80 }], selector: { dataplaneTags: {} }, identities: [] },
    });
    expect(bare.ok && empty.ok && empty.value.contentHash === bare.value.contentHash).toBe(true);
  });

  it("names the field of a bad key", () => {
    const parsed = keyFromProto({
      $typeName: "mooring.v1.ResourceKey",
      type: "Mesh",
      mesh: "Default",
      zone: "",
      name: "web",
    });
    expect(parsed).toEqual({
      ok: false,
      problems: [
        { field: "key.type", reason: 'must be "MeshService"' },
        { field: "key.mesh", reason: expect.stringMatching(/lowercase|DNS|must/) },
      ],
    });
  });
});
