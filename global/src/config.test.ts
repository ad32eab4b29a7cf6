import { ConfigError } from "@mooring/shared";
import { describe, expect, it } from "vitest";
import { loadGlobalConfig } from "./config.js";

describe("global configuration", () => {
  it("has the documented defaults", () => {
    const config = loadGlobalConfig([], {}, "test");
    expect(config.httpAddr).toEqual({ host: "0.0.0.0", port: 5681 });
    expect(config.grpcAddr).toEqual({ host: "0.0.0.0", port: 5685 });
    expect(config.dataDir).toBe("./data");
    expect(config.vipCidrs.map((range) => range.cidr)).toEqual(["241.0.0.0/8"]);
    expect(config.vipQuarantine).toBe(3_600_000);
    expect(config.dbSync).toBe("full");
  });

  it.each([
    ["MOORING_VIP_CIDRS", "300.1.0.0/8", /^invalid MOORING_VIP_CIDRS="300.1.0.0\/8": .*not a CIDR/],
    ["MOORING_VIP_CIDRS", "241.0.0.1/8", /has host bits set; did you mean 241.0.0.0\/8\?/],
    ["MOORING_VIP_CIDRS", "241.0.0.0/8,241.1.0.0/16", /241.0.0.0\/8 overlaps 241.1.0.0\/16/],
    ["MOORING_VIP_CIDRS", ",", /at least one CIDR is required/],
    ["MOORING_VIP_QUARANTINE", "forever", /^invalid MOORING_VIP_QUARANTINE="forever"/],
    ["MOORING_DB_SYNC", "off", /expected one of full, normal/],
    ["MOORING_LOG_LEVEL", "loud", /expected one of fatal, error/],
    ["MOORING_HTTP_BODY_LIMIT", "0", /at least 1 byte/],
  ])("rejects %s=%s with one line naming it", (env, value, message) => {
    let error: unknown;
    try {
      loadGlobalConfig([], { [env]: value }, "test");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(message);
    expect((error as ConfigError).message).not.toContain("\n");
  });

  it("rejects the same address for REST and gRPC", () => {
    expect(() => loadGlobalConfig(["--http-addr", ":7000", "--grpc-addr", ":7000"], {}, "test")).toThrow(
      "MOORING_HTTP_ADDR and MOORING_GRPC_ADDR are both 0.0.0.0:7000; they must differ",
    );
  });

  it("accepts IPv4 and IPv6 ranges together", () => {
    const config = loadGlobalConfig([], { MOORING_VIP_CIDRS: "241.0.0.0/8, fd00:241::/64" }, "test");
    expect(config.vipCidrs.map((range) => [range.cidr, range.family])).toEqual([
      ["241.0.0.0/8", 4],
      ["fd00:241::/64", 6],
    ]);
  });
});
