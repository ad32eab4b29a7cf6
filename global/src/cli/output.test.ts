import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { formatAge, parseDuration } from "./duration.js";
import {
  type LeaseDetailJson,
  leaseDetails,
  leaseTable,
  type MeshServiceJson,
  meshServiceTable,
  renderData,
  renderKeyValues,
  renderTable,
  type ZoneJson,
  zoneDetails,
  zoneTable,
  zoneTokenTable,
} from "./output.js";

const NOW = Date.parse("2026-11-20T12:00:00.000Z");

function service(overrides: Partial<MeshServiceJson>): MeshServiceJson {
  return {
    type: "MeshService",
    mesh: "default",
    name: "web",
    labels: {},
    spec: { ports: [{ port: 80, appProtocol: "http" }] },
    status: { vips: [{ ip: "241.0.0.1" }] },
    creationTime: "2026-11-20T11:59:15.000Z",
    modificationTime: "2026-11-20T11:59:15.000Z",
    revision: 1,
    contentHash: "ab",
    ...overrides,
  };
}

const zone: ZoneJson = {
  name: "east",
  zoneId: "7f9c1d1e-0b7a-4a57-9d1e-1f1c1d1e0b7a",
  online: true,
  connectedAt: "2026-11-20T11:00:00.000Z",
  lastSeenAt: "2026-11-20T11:59:57.500Z",
  ackedRevision: 42,
  lag: 3,
  generation: 2,
  mode: "incremental",
  sessions: { full: 1, incremental: 1, reconcile: 0 },
  upstreamWatermark: 7,
  lastError: null,
};

describe("renderTable", () => {
  it("aligns columns three spaces apart and ends no line in a space", () => {
    expect(
      renderTable(
        ["A", "LONGER", "C"],
        [
          ["xx", "y", ""],
          ["x", "yyyyyyyy", "z"],
        ],
      ),
    ).toBe("A    LONGER     C\nxx   y\nx    yyyyyyyy   z\n");
  });

  it("prints the header alone for no rows", () => {
    expect(renderTable(["IP", "STATE"], [])).toBe("IP   STATE\n");
  });
});

describe("renderKeyValues", () => {
  it("aligns the values after the longest key", () => {
    expect(
      renderKeyValues([
        ["Name", "east"],
        ["Last error", "-"],
      ]),
    ).toBe("Name:       east\nLast error: -\n");
  });
});

describe("renderData", () => {
  it("prints pretty JSON and YAML of the same value", () => {
    const value = [{ name: "web", vips: ["241.0.0.1"] }];
    expect(renderData(value, "json")).toBe(
      '[\n  {\n    "name": "web",\n    "vips": [\n      "241.0.0.1"\n    ]\n  }\n]\n',
    );
    expect(renderData(value, "yaml")).toBe("- name: web\n  vips:\n    - 241.0.0.1\n");
  });

  it("never folds a long string in YAML, so a token stays on one line", () => {
    const token = `eyJ${"a".repeat(300)}.${"b".repeat(60)}`;
    const text = renderData({ token }, "yaml");
    expect(text).toBe(`token: ${token}\n`);
    expect(parse(text)).toEqual({ token });
  });
});

describe("meshServiceTable", () => {
  it("shows zone, VIPs, ports with target ports and protocols, and the age", () => {
    const services = [
      service({}),
      service({
        name: "db",
        zone: "east",
        spec: {
          ports: [
            { name: "pg", port: 5432, targetPort: 15432 },
            { name: "admin", port: 8080, targetPort: 8080, appProtocol: "http" },
          ],
        },
        status: { vips: [{ ip: "241.0.0.2" }, { ip: "fd00:241::2" }] },
        creationTime: "2026-11-18T09:00:00.000Z",
      }),
      service({ name: "new", status: { vips: [] }, creationTime: "2026-11-20T12:00:00.900Z" }),
    ];
    expect(meshServiceTable(services, NOW)).toBe(
      [
        "MESH      NAME   ZONE   VIPS                    PORTS                      AGE",
        "default   web    -      241.0.0.1               80/http                    45s",
        "default   db     east   241.0.0.2,fd00:241::2   5432:15432/tcp,8080/http   2d3h",
        "default   new    -      -                       80/http                    0s",
        "",
      ].join("\n"),
    );
  });
});

describe("zoneTable and zoneDetails", () => {
  it("lists zones with their sync state", () => {
    const never: ZoneJson = {
      ...zone,
      name: "west",
      online: false,
      mode: null,
      lag: 0,
      ackedRevision: 0,
      lastSeenAt: null,
    };
    expect(zoneTable([zone, never], NOW)).toBe(
      [
        "NAME   ONLINE   MODE          LAG   ACKED   LAST-SEEN",
        "east   yes      incremental   3     42      2s",
        "west   no       -             0     0       -",
        "",
      ].join("\n"),
    );
  });

  it("inspects one zone as a key/value block", () => {
    expect(zoneDetails({ ...zone, lastError: "UNAVAILABLE: connection reset" })).toBe(
      [
        "Name:               east",
        "Zone ID:            7f9c1d1e-0b7a-4a57-9d1e-1f1c1d1e0b7a",
        "Online:             yes",
        "Connected at:       2026-11-20T11:00:00.000Z",
        "Last seen at:       2026-11-20T11:59:57.500Z",
        "Acked revision:     42",
        "Lag:                3",
        "Generation:         2",
        "Mode:               incremental",
        "Sessions:           full=1 incremental=1 reconcile=0",
        "Upstream watermark: 7",
        "Last error:         UNAVAILABLE: connection reset",
        "",
      ].join("\n"),
    );
  });
});

describe("leaseTable and leaseDetails", () => {
  const lease: LeaseDetailJson = {
    ip: "241.0.0.2",
    family: 4,
    mesh: "default",
    zone: "east",
    name: "db",
    state: "quarantined",
    pinned: true,
    leasedAt: "2026-11-20T11:00:00.000Z",
    releasedAt: "2026-11-20T11:30:00.000Z",
    quarantineEndsAt: "2026-11-20T12:30:00.000Z",
    events: [
      {
        at: "2026-11-20T11:30:00.123Z",
        event: "release",
        reason: "service deleted",
        mesh: "default",
        zone: "east",
        name: "db",
      },
      {
        at: "2026-11-20T11:00:00.000Z",
        event: "pin",
        reason: "operator pin",
        mesh: "default",
        zone: "east",
        name: "db",
      },
    ],
  };

  it("lists leases with their family, state, service and pin", () => {
    const { events: _, ...bound } = {
      ...lease,
      ip: "fd00:241::1",
      family: 6 as const,
      zone: undefined,
      state: "bound" as const,
      pinned: false,
    };
    expect(leaseTable([bound, lease])).toBe(
      [
        "IP            FAMILY   STATE         SERVICE           PINNED",
        "fd00:241::1   IPv6     bound         default/db        no",
        "241.0.0.2     IPv4     quarantined   default/east/db   yes",
        "",
      ].join("\n"),
    );
  });

  it("shows one lease and then its audit events", () => {
    expect(leaseDetails(lease)).toBe(
      [
        "IP          FAMILY   STATE         SERVICE           PINNED",
        "241.0.0.2   IPv4     quarantined   default/east/db   yes",
        "",
        "AT                     EVENT     REASON            SERVICE",
        "2026-11-20T11:30:00Z   release   service deleted   default/east/db",
        "2026-11-20T11:00:00Z   pin       operator pin      default/east/db",
        "",
      ].join("\n"),
    );
  });
});

describe("zoneTokenTable", () => {
  it("shows ids and validity to the second", () => {
    expect(
      zoneTokenTable([
        {
          id: "0b6f5a0e-4f3c-4d5e-9a7b-1c2d3e4f5a6b",
          zone: "east",
          issuedAt: "2026-11-20T11:00:00.250Z",
          expiresAt: "2026-11-21T11:00:00.000Z",
          revokedAt: "2026-11-20T11:10:00.999Z",
        },
      ]),
    ).toBe(
      [
        "ID                                     ZONE   ISSUED                 EXPIRES                REVOKED",
        "0b6f5a0e-4f3c-4d5e-9a7b-1c2d3e4f5a6b   east   2026-11-20T11:00:00Z   2026-11-21T11:00:00Z   2026-11-20T11:10:00Z",
        "",
      ].join("\n"),
    );
  });
});

describe("formatAge", () => {
  it.each([
    [-5_000, "0s"],
    [999, "0s"],
    [119_999, "119s"],
    [120_000, "2m"],
    [125_000, "2m5s"],
    [599_000, "9m59s"],
    [600_000, "10m"],
    [179 * 60_000, "179m"],
    [3 * 3_600_000, "3h"],
    [3 * 3_600_000 + 5 * 60_000, "3h5m"],
    [8 * 3_600_000 + 5 * 60_000, "8h"],
    [47 * 3_600_000, "47h"],
    [48 * 3_600_000, "2d"],
    [(7 * 24 + 23) * 3_600_000, "7d23h"],
    [8 * 86_400_000 + 3_600_000, "8d"],
    [400 * 86_400_000, "400d"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});

describe("parseDuration", () => {
  it("reads the grammar of the control planes' settings", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("2d")).toBe(172_800_000);
  });

  it.each(["", "30", "5 m", "1x", "-1s"])("refuses %j", (raw) => {
    expect(() => parseDuration(raw)).toThrow("expected a duration such as 500ms, 30s, 5m, 1h or 1h30m");
  });
});
