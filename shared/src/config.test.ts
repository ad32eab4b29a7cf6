import { describe, expect, it } from "vitest";
import { ConfigError, ConfigHelp, loadConfig } from "./config.js";
import { parseByteSize, parseDuration, parseListenAddress } from "./parse.js";

const settings = {
  httpAddr: {
    flag: "http-addr",
    env: "MOORING_HTTP_ADDR",
    default: ":5681",
    description: "listen address",
    parse: parseListenAddress,
  },
  quarantine: {
    flag: "quarantine",
    env: "MOORING_QUARANTINE",
    default: "1h",
    description: "quarantine",
    parse: parseDuration,
  },
};

const load = (argv: string[], env: Record<string, string> = {}) =>
  loadConfig(settings, { program: "test", version: "1.0.0", argv, env });

describe("loadConfig", () => {
  it("takes flags over environment over defaults", () => {
    expect(load([]).quarantine).toBe(3_600_000);
    expect(load([], { MOORING_QUARANTINE: "30s" }).quarantine).toBe(30_000);
    expect(load(["--quarantine", "5m"], { MOORING_QUARANTINE: "30s" }).quarantine).toBe(300_000);
    expect(load([], { MOORING_QUARANTINE: "" }).quarantine).toBe(3_600_000);
  });

  it("names the setting and its source in one line when a value is bad", () => {
    expect(() => load([], { MOORING_QUARANTINE: "soon" })).toThrow(
      new ConfigError('invalid MOORING_QUARANTINE="soon": expected a duration such as 500ms, 30s, 5m, 1h or 1h30m'),
    );
    expect(() => load(["--http-addr", "localhost:70000"])).toThrow(
      new ConfigError('invalid --http-addr="localhost:70000": port 70000 is out of range 0-65535'),
    );
    expect(() => load(["--nope"])).toThrow(new ConfigError("unknown option '--nope'"));
    expect(() => load(["stray"])).toThrow(ConfigError);
  });

  it("returns help text instead of exiting", () => {
    try {
      load(["--help"]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigHelp);
      expect((error as ConfigHelp).text).toContain("MOORING_HTTP_ADDR");
    }
  });
});

describe("value parsers", () => {
  it("parse listen addresses", () => {
    expect(parseListenAddress(":5681")).toEqual({ host: "0.0.0.0", port: 5681 });
    expect(parseListenAddress("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseListenAddress("[::1]:5685")).toEqual({ host: "::1", port: 5685 });
    expect(parseListenAddress("global.mooring:5685")).toEqual({ host: "global.mooring", port: 5685 });
    for (const bad of ["5681", "host:", "[zz]:1", "a b:1", "1.2.3.4:99999"]) {
      expect(() => parseListenAddress(bad), bad).toThrow();
    }
  });

  it("parse durations and sizes", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(() => parseDuration("10")).toThrow();
    expect(() => parseDuration("")).toThrow();
    expect(parseByteSize("1MiB")).toBe(1_048_576);
    expect(parseByteSize("4096")).toBe(4096);
    expect(() => parseByteSize("0")).toThrow();
    expect(() => parseByteSize("1 parsec")).toThrow();
  });
});
