// The rows decoder (rows-decoder.ts) against the general path it stands in for: the frame decoded as
// a message, its resource checked by decodeMeshService. For any resource sent in a Changes frame, a
// row from the rows decoder is the general path's row, down to the JSON text the store keeps and
// compares; and it takes every resource the global publishes.
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { decodeSyncResponse, type MeshService, MeshServiceSchema, SyncResponseSchema } from "@mooring/proto";
import { APP_PROTOCOLS, IDENTITY_TYPES, MESH_SERVICE } from "@mooring/shared";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SyncedRow } from "../store/types.js";
import { meshService } from "../test-support.js";
import { type Decoded, decodeMeshService, describeProblems } from "./decode.js";
import { decodeChangesRows } from "./rows-decoder.js";

/** What `create(MeshServiceSchema, ...)` is given; plain objects, so mutations can reach every field. */
interface Init {
  key: { type: string; mesh: string; zone: string; name: string } | undefined;
  labels: Record<string, string>;
  spec:
    | {
        selector: { dataplaneTags: Record<string, string>; dataplaneRefName: string } | undefined;
        ports: Array<{ name: string; port: number; targetPort: string; appProtocol: string }>;
        identities: Array<{ type: string; value: string }>;
      }
    | undefined;
  vips: Array<{ ip: string }>;
  contentHash: string;
  revision: bigint;
  creationTimeUnixMs: bigint;
  modificationTimeUnixMs: bigint;
}

// Valid values. Free text has no surrogates: a well-formed pair is valid but the rows decoder leaves
// it to the general path, and this generator's resources must all take the rows decoder.
const dnsLabel = fc.oneof(
  fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?$/),
  fc.constantFrom("default", "a", "0", "a--b", "x".repeat(63)),
);
const portName = fc.stringMatching(/^[a-z]([-a-z0-9]{0,6}[a-z0-9])?$/);
const labelName = fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,6}[A-Za-z0-9])?$/);
const labelKey = fc.oneof(
  labelName,
  fc
    .tuple(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,4}[a-z0-9])?(\.[a-z0-9]{1,4}){0,2}$/), labelName)
    .map(([prefix, name]) => `${prefix}/${name}`),
  fc.constantFrom("kuma.io/zone", "1", "20", "x".repeat(63), `${"x".repeat(253)}/a`),
);
const labelValue = fc.oneof(labelName, fc.constantFrom("", "v".repeat(63)));
const text = fc.oneof(
  fc.string({ unit: fc.constantFrom("a", "Z", "0", " ", "/", ":", "é", "日", "\u0000"), minLength: 1, maxLength: 12 }),
  fc.constantFrom("spiffe://default/web", "x".repeat(253)),
);
const targetPort = fc.oneof(
  fc.constant(""),
  fc.integer({ min: 1, max: 65535 }).map(String),
  portName,
  fc.constantFrom("00080", "000000080", `${"0".repeat(62)}1`),
);
const hex = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 });
const uint53 = fc.bigInt({ min: 0n, max: 2n ** 53n - 1n });
const entries = <V>(value: fc.Arbitrary<V>, maxLength: number) =>
  fc.uniqueArray(fc.tuple(labelKey, value), { maxLength, selector: ([key]) => key });

const validParts = fc.record({
  mesh: dnsLabel,
  zone: fc.oneof(fc.constant(""), dnsLabel),
  name: dnsLabel,
  labels: entries(labelValue, 4),
  ports: fc.uniqueArray(
    fc.record({
      name: portName,
      port: fc.integer({ min: 1, max: 65535 }),
      targetPort,
      appProtocol: fc.constantFrom("", ...APP_PROTOCOLS),
    }),
    { minLength: 1, maxLength: 4, comparator: (a, b) => a.port === b.port || a.name === b.name },
  ),
  /** A lone port may go without a name. */
  unnamed: fc.boolean(),
  selector: fc.option(fc.record({ tags: entries(text, 3), ref: fc.oneof(fc.constant(""), dnsLabel) }), {
    nil: undefined,
  }),
  identities: fc.array(fc.record({ type: fc.constantFrom(...IDENTITY_TYPES), value: text }), { maxLength: 3 }),
  vips: fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 3 }),
  contentHash: hex,
  revision: uint53,
  creationTime: uint53,
  modificationTime: uint53,
});
type Parts = typeof validParts extends fc.Arbitrary<infer T> ? T : never;

/** Fresh objects on every call: mutations change them, and fast-check may hand the same parts again. */
function build(parts: Parts): Init {
  return {
    key: { type: MESH_SERVICE, mesh: parts.mesh, zone: parts.zone, name: parts.name },
    labels: Object.fromEntries(parts.labels),
    spec: {
      selector: parts.selector && {
        dataplaneTags: Object.fromEntries(parts.selector.tags),
        dataplaneRefName: parts.selector.ref,
      },
      ports: parts.ports.map((port) => ({ ...port, name: parts.unnamed && parts.ports.length === 1 ? "" : port.name })),
      identities: parts.identities.map((identity) => ({ ...identity })),
    },
    vips: parts.vips.map((ip) => ({ ip })),
    contentHash: parts.contentHash,
    revision: parts.revision,
    creationTimeUnixMs: parts.creationTime,
    modificationTimeUnixMs: parts.modificationTime,
  };
}

// Edge values: mostly invalid, some valid but unusual (63 characters, leading zeros, a surrogate pair).
const lone = ["a\uD800", "\uDC00", "\uDC00\uD800"];
const edgeLabel = fc.constantFrom("", "-a", "a-", "A", "a.b", "a_b", "é", "0", "x".repeat(63), "x".repeat(64), ...lone);
const edgeKey = fc.constantFrom(
  "/app",
  "app/",
  "example.com/app",
  "Example.com/app",
  "a..b/app",
  "-a/app",
  "a/b/c",
  `${"x".repeat(254)}/a`,
  "_a",
  "a_",
  "a b",
  "x".repeat(64),
  "__proto__",
  "constructor",
  "7",
  "é",
  ...lone,
);
const edgeValue = fc.constantFrom("", "v", "-a", "a b", "a/b", "x".repeat(63), "x".repeat(64), "é", ...lone);
const edgeText = fc.constantFrom("", "a", "x".repeat(253), "x".repeat(254), "😀", "a😀b", ...lone);
const edgePort = fc.constantFrom(0, 1, 65535, 65536, -1, 1.5, Number.NaN, 4294967295);
const edgeTargetPort = fc.constantFrom(
  "",
  "0",
  "1",
  "65535",
  "65536",
  "99999",
  "00080",
  "000000080",
  "0000000",
  "123456",
  "1".repeat(64),
  "http",
  "HTTP",
  "-a",
  "a_b",
  ...lone,
);
const edgeIp = fc.constantFrom(
  "",
  "1.2.3",
  "256.1.1.1",
  "01.2.3.4",
  "1.2.3.4 ",
  "::1",
  "fe80::1%eth0",
  "::ffff:1.2.3.4",
  "1:2:3:4:5:6:7:8:9",
  "241.0.0.1",
  "\uD800",
);
const edgeUint64 = fc.constantFrom(0n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n, -1n);

type Mutation =
  | { at: "drop"; field: "key" | "spec" }
  | { at: "key"; field: "type" | "mesh" | "zone" | "name"; value: string }
  | { at: "labels" | "tags"; key: string; value: string }
  | { at: "ref"; value: string }
  | { at: "port"; index: number; value: number }
  | { at: "everyPort"; value: number }
  | { at: "portText"; index: number; field: "name" | "targetPort" | "appProtocol"; value: string }
  | { at: "duplicate"; index: number; from: number; field: "port" | "name" }
  | { at: "ports"; count: number }
  | { at: "identity"; index: number; field: "type" | "value"; value: string }
  | { at: "identities"; count: number }
  | { at: "vip"; index: number; value: string }
  | { at: "contentHash"; value: (hash: string) => string }
  | { at: "uint64"; field: "revision" | "creationTimeUnixMs" | "modificationTimeUnixMs"; value: bigint };

const index = fc.nat({ max: 7 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ at: fc.constant("drop"), field: fc.constantFrom("key", "spec") }),
  fc.record({
    at: fc.constant("key"),
    field: fc.constantFrom("type", "mesh", "zone", "name"),
    value: fc.oneof(edgeLabel, fc.constantFrom("meshservice", "MeshServices")),
  }),
  fc.record({ at: fc.constantFrom("labels", "tags"), key: fc.oneof(edgeKey, labelKey), value: edgeValue }),
  fc.record({ at: fc.constantFrom("labels", "tags"), key: edgeKey, value: fc.oneof(labelValue, text) }),
  fc.record({ at: fc.constant("tags"), key: labelKey, value: edgeText }),
  fc.record({ at: fc.constant("ref"), value: edgeLabel }),
  fc.record({ at: fc.constant("port"), index, value: edgePort }),
  fc.record({ at: fc.constant("everyPort"), value: edgePort }),
  fc.record({
    at: fc.constant("portText"),
    index,
    field: fc.constant("name"),
    value: edgeLabel,
  }),
  fc.record({ at: fc.constant("portText"), index, field: fc.constant("targetPort"), value: edgeTargetPort }),
  fc.record({
    at: fc.constant("portText"),
    index,
    field: fc.constant("appProtocol"),
    value: fc.constantFrom("", "tcp", "HTTP", "udp", " tcp", "grpc ", "kafka"),
  }),
  fc.record({ at: fc.constant("duplicate"), index, from: index, field: fc.constantFrom("port", "name") }),
  fc.record({ at: fc.constant("ports"), count: fc.constantFrom(0, 2, 64, 65) }),
  fc.record({ at: fc.constant("identity"), index, field: fc.constant("type"), value: fc.constantFrom("", "spiffeid") }),
  fc.record({ at: fc.constant("identity"), index, field: fc.constant("value"), value: edgeText }),
  fc.record({ at: fc.constant("identities"), count: fc.constantFrom(32, 33) }),
  fc.record({ at: fc.constant("vip"), index, value: edgeIp }),
  fc.record({
    at: fc.constant("contentHash"),
    value: fc.constantFrom(
      (hash: string) => hash.toUpperCase(),
      (hash: string) => hash.slice(1),
      (hash: string) => `${hash}0`,
      (hash: string) => `g${hash.slice(1)}`,
      (hash: string) => `${hash.slice(1)}\uD800`,
      () => "",
    ),
  }),
  fc.record({
    at: fc.constant("uint64"),
    field: fc.constantFrom("revision", "creationTimeUnixMs", "modificationTimeUnixMs"),
    value: edgeUint64,
  }),
);

/** Sets an own property even for `__proto__`, as a decoded protobuf map would hold it. */
function put(map: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

function mutate(init: Init, m: Mutation): void {
  const spec = init.spec;
  switch (m.at) {
    case "drop":
      init[m.field] = undefined;
      return;
    case "key":
      if (init.key) init.key[m.field] = m.value;
      return;
    case "labels":
      put(init.labels, m.key, m.value);
      return;
    case "tags":
      if (spec) {
        spec.selector ??= { dataplaneTags: {}, dataplaneRefName: "" };
        put(spec.selector.dataplaneTags, m.key, m.value);
      }
      return;
    case "ref":
      if (spec) spec.selector = { dataplaneTags: spec.selector?.dataplaneTags ?? {}, dataplaneRefName: m.value };
      return;
    case "port": {
      const port = spec?.ports[m.index % spec.ports.length];
      if (port) port.port = m.value;
      return;
    }
    case "everyPort":
      for (const port of spec?.ports ?? []) port.port = m.value;
      return;
    case "portText": {
      const port = spec?.ports[m.index % spec.ports.length];
      if (port) port[m.field] = m.value;
      return;
    }
    case "duplicate": {
      const port = spec?.ports[m.index % spec.ports.length];
      const from = spec?.ports[m.from % spec.ports.length];
      if (port && from) {
        if (m.field === "port") port.port = from.port;
        else port.name = from.name;
      }
      return;
    }
    case "ports":
      if (spec) {
        spec.ports = Array.from({ length: m.count }, (_, i) => ({
          name: `p${i}`,
          port: 1000 + i,
          targetPort: "",
          appProtocol: "",
        }));
      }
      return;
    case "identity":
      if (spec) {
        if (spec.identities.length === 0) spec.identities.push({ type: "ServiceTag", value: "web" });
        const identity = spec.identities[m.index % spec.identities.length];
        if (identity) identity[m.field] = m.value;
      }
      return;
    case "identities":
      if (spec) spec.identities = Array.from({ length: m.count }, (_, i) => ({ type: "SpiffeID", value: `id-${i}` }));
      return;
    case "vip": {
      // One past the end appends.
      init.vips[m.index % (init.vips.length + 1)] = { ip: m.value };
      return;
    }
    case "contentHash":
      init.contentHash = m.value(init.contentHash);
      return;
    case "uint64":
      init[m.field] = m.value;
      return;
  }
}

const valid = validParts.map((parts) => create(MeshServiceSchema, build(parts)));
const anyMessage = fc.tuple(validParts, fc.array(mutation, { maxLength: 3 })).map(([parts, mutations]) => {
  const init = build(parts);
  for (const m of mutations) mutate(init, m);
  return create(MeshServiceSchema, init);
});

/** `message` alone in a Changes frame, as the global sends it; undefined when it cannot be encoded. */
function frameOf(message: MeshService): Buffer | undefined {
  const response = create(SyncResponseSchema, {
    message: { case: "changes", value: { fromRevision: 0n, toRevision: 1n, upserts: [message], last: true } },
  });
  try {
    return Buffer.from(toBinary(SyncResponseSchema, response));
  } catch {
    // A value no encoder writes (a negative uint64, a port that is not an integer): never on the wire.
    return undefined;
  }
}

function encoded(message: MeshService): Buffer {
  const frame = frameOf(message);
  if (frame === undefined) throw new Error("the message does not encode");
  return frame;
}

/** The rows decoder's row for the frame's one resource, or undefined when it leaves the frame alone. */
function fastRow(frame: Buffer): SyncedRow | undefined {
  return decodeChangesRows(frame)?.upserts[0];
}

/** The general path: the frame decoded as a message, its one resource checked by decodeMeshService. */
function generalRow(frame: Buffer): Decoded<SyncedRow> {
  const response = decodeSyncResponse(frame);
  if (response.message.case !== "changes") throw new Error("not a Changes frame");
  return decodeMeshService(response.message.value.upserts[0] as MeshService);
}

/** `fast` is the general path's row: equal objects, and the same JSON text for what the store keeps. */
function expectGeneralRow(fast: SyncedRow, general: Decoded<SyncedRow>): void {
  if (!general.ok) {
    throw new Error(`the rows decoder took a resource the general path refuses: ${describeProblems(general.problems)}`);
  }
  expect(fast).toStrictEqual(general.value);
  expect(JSON.stringify(fast.labels)).toBe(JSON.stringify(general.value.labels));
  expect(JSON.stringify(fast.spec)).toBe(JSON.stringify(general.value.spec));
  expect(JSON.stringify(fast.vips)).toBe(JSON.stringify(general.value.vips));
  expect(JSON.stringify(fast)).toBe(JSON.stringify(general.value));
}

describe("the rows decoder", () => {
  it("takes every valid resource, with the general path's row", () => {
    fc.assert(
      fc.property(valid, (message) => {
        const frame = encoded(message);
        const fast = fastRow(frame);
        if (fast === undefined) {
          throw new Error(
            `the rows decoder left a resource alone; the general path says ${JSON.stringify(generalRow(frame))}`,
          );
        }
        expectGeneralRow(fast, generalRow(frame));
      }),
      { numRuns: 1000 },
    );
  });

  it("returns the general path's row or nothing for any resource", () => {
    let taken = 0;
    let left = 0;
    fc.assert(
      fc.property(anyMessage, (message) => {
        const frame = frameOf(message);
        if (frame === undefined) return;
        const fast = fastRow(frame);
        if (fast === undefined) {
          left++;
          return;
        }
        taken++;
        expectGeneralRow(fast, generalRow(frame));
      }),
      { numRuns: 3000 },
    );
    // Both ways are exercised: mutations leave many resources valid, and refuse many.
    expect(taken).toBeGreaterThan(300);
    expect(left).toBeGreaterThan(300);
  });
});

describe("decoding a resource", () => {
  it("takes a resource as the global publishes it into a row directly", () => {
    const message = meshService("web", { vips: ["241.0.0.1"], labels: { app: "web", team: "payments" } });
    expect(fastRow(encoded(message))).toStrictEqual({
      type: "MeshService",
      mesh: "default",
      zone: "",
      name: "web",
      labels: { app: "web", team: "payments" },
      spec: { ports: [{ port: 80, appProtocol: "http" }] },
      vips: ["241.0.0.1"],
      contentHash: message.contentHash,
      revision: 1,
      creationTime: 1_767_225_600_000,
      modificationTime: 1_767_225_600_000,
    });
  });

  it("takes tags, identities, a digits targetPort and IPv4 and IPv6 VIPs into a row, in the stored key order", () => {
    const message = create(MeshServiceSchema, {
      key: { type: MESH_SERVICE, mesh: "default", zone: "east", name: "web" },
      labels: { "kuma.io/zone": "east", app: "web" },
      spec: {
        selector: { dataplaneTags: { app: "web", "kuma.io/protocol": "http" } },
        ports: [
          { name: "http", port: 80, targetPort: "8080", appProtocol: "http" },
          { name: "admin", port: 9901, targetPort: "admin" },
        ],
        identities: [
          { type: "ServiceTag", value: "web" },
          { type: "SpiffeID", value: "spiffe://default/web" },
        ],
      },
      vips: [{ ip: "241.0.0.1" }, { ip: "fd00::1" }],
      contentHash: "0123456789abcdef".repeat(4),
      revision: 7n,
      creationTimeUnixMs: 1_767_225_600_000n,
      modificationTimeUnixMs: 1_767_225_600_001n,
    });
    const frame = encoded(message);
    const row = fastRow(frame);
    expect(JSON.stringify(row)).toBe(
      JSON.stringify({
        type: "MeshService",
        mesh: "default",
        zone: "east",
        name: "web",
        labels: { "kuma.io/zone": "east", app: "web" },
        spec: {
          ports: [
            { port: 80, appProtocol: "http", name: "http", targetPort: 8080 },
            { port: 9901, appProtocol: "tcp", name: "admin", targetPort: "admin" },
          ],
          selector: { dataplaneTags: { app: "web", "kuma.io/protocol": "http" } },
          identities: [
            { type: "ServiceTag", value: "web" },
            { type: "SpiffeID", value: "spiffe://default/web" },
          ],
        },
        vips: ["241.0.0.1", "fd00::1"],
        contentHash: "0123456789abcdef".repeat(4),
        revision: 7,
        creationTime: 1_767_225_600_000,
        modificationTime: 1_767_225_600_001,
      }),
    );
    expect(generalRow(frame)).toStrictEqual({ ok: true, value: row });
  });

  it("drops an empty selector, and keeps a selector by dataplane name", () => {
    expect(fastRow(encoded(withSpec({ selector: {}, ports: [{ port: 80 }] })))?.spec).toStrictEqual({
      ports: [{ port: 80, appProtocol: "tcp" }],
    });
    const byName = withSpec({ selector: { dataplaneRefName: "web-1" }, ports: [{ port: 80 }] });
    expect(fastRow(encoded(byName))?.spec).toStrictEqual({
      ports: [{ port: 80, appProtocol: "tcp" }],
      selector: { dataplaneRef: { name: "web-1" } },
    });
  });

  it("accepts exactly the content hashes /^[0-9a-f]{64}$/ matches", () => {
    // Valid hashes with up to two characters replaced by one on either side of 0-9 or a-f (or an
    // upper-case digit), and some a character too short or too long.
    const near = fc.constantFrom("0", "9", "a", "f", "/", ":", "`", "g", "A", "F", "\u0130");
    const hash = fc
      .tuple(
        fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 }),
        fc.array(fc.tuple(fc.nat(63), near), { maxLength: 2 }),
        fc.constantFrom(0, 0, 0, -1, 1),
      )
      .map(([valid, replaced, length]) => {
        const chars = [...valid];
        for (const [at, char] of replaced) chars[at] = char;
        const text = chars.join("");
        return length < 0 ? text.slice(1) : length > 0 ? `${text}0` : text;
      });
    let refused = 0;
    fc.assert(
      fc.property(hash, (contentHash) => {
        const message = withSpec({ ports: [{ port: 80 }] });
        message.contentHash = contentHash;
        const decoded = decodeMeshService(message);
        const valid = /^[0-9a-f]{64}$/.test(contentHash);
        expect(decoded.ok).toBe(valid);
        expect(fastRow(encoded(message)) !== undefined).toBe(valid);
        if (!decoded.ok) {
          refused++;
          expect(decoded.problems.map((problem) => problem.field)).toEqual(["contentHash"]);
        }
      }),
      { numRuns: 1000 },
    );
    expect(refused).toBeGreaterThan(100);
  });

  it("names the field of a refused resource, which the rows decoder leaves alone", () => {
    const message = meshService("web", { port: 0 });
    expect(fastRow(encoded(message))).toBeUndefined();
    expect(decodeMeshService(message)).toStrictEqual({
      ok: false,
      problems: [{ field: "spec.ports[0].port", reason: "must be 1-65535" }],
    });
  });

  it("takes a surrogate pair in a tag value the general way, and refuses a lone one", () => {
    const pair = withSpec({ selector: { dataplaneTags: { mood: "😀" } }, ports: [{ port: 80 }] });
    expect(fastRow(encoded(pair))).toBeUndefined();
    expect(decodeMeshService(pair)).toMatchObject({
      ok: true,
      value: { spec: { selector: { dataplaneTags: { mood: "😀" } } } },
    });
    const lone = withSpec({ selector: { dataplaneTags: { mood: "\uD83D" } }, ports: [{ port: 80 }] });
    expect(decodeMeshService(lone)).toStrictEqual({
      ok: false,
      problems: [
        { field: 'spec.selector.dataplaneTags["mood"]', reason: "must be well-formed Unicode (a lone surrogate)" },
      ],
    });
  });
});

/** A valid global service with this spec. */
function withSpec(spec: MessageInitShape<typeof MeshServiceSchema>["spec"]): MeshService {
  return create(MeshServiceSchema, {
    key: { type: MESH_SERVICE, mesh: "default", zone: "", name: "web" },
    spec,
    contentHash: "f".repeat(64),
  });
}
