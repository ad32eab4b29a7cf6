import { ConfigError } from "@mooring/shared";
import { describe, expect, it } from "vitest";
import { loadZoneConfig, ZONE_SETTINGS } from "./config.js";

const load = (argv: string[], env: Record<string, string> = {}) =>
  loadZoneConfig(argv, { MOORING_ZONE: "east", ...env }, "test");

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("no ConfigError was thrown");
}

describe("zone configuration", () => {
  it("has the documented defaults", () => {
    const config = load([]);
    expect(config).toEqual({
      zone: "east",
      global: { host: "127.0.0.1", port: 5685 },
      dataDir: "./data",
      httpAddr: { host: "0.0.0.0", port: 5682 },
      httpBodyLimit: 1_048_576,
      dbSync: "full",
      reconnectMin: 100,
      reconnectMax: 10_000,
      syncMaxMessage: 4_194_304,
      auth: "on",
      authReads: "open",
      zoneToken: "",
      zoneTokenFile: undefined,
      globalCa: undefined,
      globalServerName: "",
      tlsCert: undefined,
      tlsKey: undefined,
      logLevel: "info",
      dnsAddr: { host: "0.0.0.0", port: 5653 },
    });
  });

  it.each([
    ["off", undefined],
    [" OFF ", undefined],
    ["127.0.0.1:0", { host: "127.0.0.1", port: 0 }],
    ["[::1]:53", { host: "::1", port: 53 }],
    [":1053", { host: "0.0.0.0", port: 1053 }],
  ])("reads MOORING_DNS_ADDR=%j", (value, expected) => {
    expect(load([], { MOORING_DNS_ADDR: value }).dnsAddr).toEqual(expected);
  });

  it("takes a flag over the environment", () => {
    const config = loadZoneConfig(["--zone", "west", "--global", "global.example:7000"], { MOORING_ZONE: "east" }, "t");
    expect(config.zone).toBe("west");
    expect(config.global).toEqual({ host: "global.example", port: 7000 });
  });

  it("requires the zone's name", () => {
    expect(errorOf(() => loadZoneConfig([], {}, "test")).message).toBe("MOORING_ZONE is required: the zone's name");
    expect(errorOf(() => loadZoneConfig([], { MOORING_ZONE: "" }, "test")).message).toBe(
      "MOORING_ZONE is required: the zone's name",
    );
  });

  it.each([
    ["MOORING_ZONE", "East_1", /^invalid MOORING_ZONE="East_1": must be a DNS-1123 label/],
    ["MOORING_ZONE", "a".repeat(64), /: must be at most 63 characters$/],
    ["MOORING_GLOBAL", ":5685", /^invalid MOORING_GLOBAL=":5685": .*the host is missing$/],
    ["MOORING_GLOBAL", "global:0", /: port 0 cannot be dialled/],
    ["MOORING_GLOBAL", "global", /: expected host:port/],
    ["MOORING_GLOBAL", "global:70000", /: port 70000 is out of range 0-65535$/],
    ["MOORING_RECONNECT_MIN", "0ms", /^invalid MOORING_RECONNECT_MIN="0ms": must be at least 1ms$/],
    ["MOORING_RECONNECT_MAX", "soon", /^invalid MOORING_RECONNECT_MAX="soon": expected a duration/],
    ["MOORING_SYNC_MAX_MESSAGE", "1KiB", /: must be at least 64KiB \(65536 bytes\)$/],
    ["MOORING_DB_SYNC", "off", /expected one of full, normal/],
    ["MOORING_HTTP_ADDR", "nowhere", /^invalid MOORING_HTTP_ADDR="nowhere"/],
    ["MOORING_HTTP_BODY_LIMIT", "0", /at least 1 byte/],
    ["MOORING_LOG_LEVEL", "loud", /expected one of fatal, error/],
    [
      "MOORING_DNS_ADDR",
      "disabled",
      /^invalid MOORING_DNS_ADDR="disabled": expected host:port, \[ipv6\]:port or :port, or off to disable DNS$/,
    ],
    ["MOORING_DNS_ADDR", ":65536", /^invalid MOORING_DNS_ADDR=":65536": port 65536 is out of range 0-65535, or off/],
  ])("rejects %s=%s with one line naming it", (env, value, message) => {
    const error = errorOf(() => load([], { [env]: value }));
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("\n");
  });

  it("rejects a reconnect maximum below the minimum", () => {
    expect(errorOf(() => load(["--reconnect-min", "2s", "--reconnect-max", "1s"])).message).toBe(
      "MOORING_RECONNECT_MAX (1000ms) must not be less than MOORING_RECONNECT_MIN (2000ms)",
    );
    expect(load(["--reconnect-min", "1s", "--reconnect-max", "1s"]).reconnectMax).toBe(1000);
  });

  it("names every setting with an MOORING_ variable and a kebab-case flag", () => {
    for (const setting of Object.values(ZONE_SETTINGS)) {
      expect(setting.env).toMatch(/^MOORING_[A-Z_]+$/);
      expect(setting.flag).toMatch(/^[a-z]+(-[a-z]+)*$/);
    }
  });
});
