// The global as a process: start-up refuses bad settings with status 2 and one line naming the
// setting, SIGTERM is a clean exit 0, data survives a clean restart, and the workspace bin link works.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  childEnv,
  killAllGlobals,
  makeTempDir,
  removeTempDirs,
  runCommand,
  runGlobalOnce,
  startGlobalProcess,
} from "../helpers/global-process.js";
import { type LeaseJson, listAll, type MeshServiceJson, putMeshService, requestJson } from "../helpers/http.js";

afterEach(killAllGlobals);
afterAll(async () => {
  await killAllGlobals();
  await removeTempDirs();
});

describe("bad configuration", () => {
  const cases: Array<{ setting: string; env: Record<string, string>; args: string[] }> = [
    { setting: "MOORING_VIP_CIDRS", env: { MOORING_VIP_CIDRS: "300.1.0.0/8" }, args: [] },
    { setting: "MOORING_HTTP_ADDR", env: { MOORING_HTTP_ADDR: "nope" }, args: [] },
    { setting: "MOORING_DB_SYNC", env: { MOORING_DB_SYNC: "sometimes" }, args: [] },
    { setting: "--vip-quarantine", env: {}, args: ["--vip-quarantine", "forever"] },
  ];

  it.each(cases)("$setting: exits 2 with one stderr line naming it", async ({ setting, env, args }) => {
    const dataDir = await makeTempDir();
    const result = await runGlobalOnce(args, {
      MOORING_DATA_DIR: dataDir,
      MOORING_HTTP_ADDR: "127.0.0.1:0",
      MOORING_GRPC_ADDR: "127.0.0.1:0",
      ...env,
    });
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 2, signal: null });
    const lines = result.stderr.split("\n").filter((line) => line !== "");
    expect(lines).toHaveLength(1);
    expect(result.stderr).toBe(`${lines[0]}\n`);
    expect(lines[0]).toContain(setting);
    // Refused before anything started: no log line, no "listening".
    expect(result.stdout).toBe("");
  });
});

describe("lifecycle", () => {
  it("exits 0 on SIGTERM, logs stopped, and keeps its data across a clean restart", async () => {
    const global = await startGlobalProcess();
    const ready = await requestJson<{ status: string; epoch: string }>("GET", `${global.http}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe("ready");

    const written = new Map<string, MeshServiceJson>();
    for (const name of ["alpha", "beta", "gamma"]) {
      const response = await putMeshService(global.http, "default", name, {
        labels: { team: name },
        spec: { ports: [{ port: 8080, appProtocol: "http" }] },
      });
      expect(response.status).toBe(201);
      written.set(name, response.body);
    }
    const edit = await putMeshService(global.http, "default", "beta", {
      labels: { team: "beta" },
      spec: { ports: [{ port: 9090, appProtocol: "grpc" }] },
    });
    expect(edit.status).toBe(200);
    expect(edit.body.status.vips).toEqual(written.get("beta")?.status.vips);
    expect(edit.body.revision).toBeGreaterThan(written.get("beta")?.revision ?? Number.POSITIVE_INFINITY);
    written.set("beta", edit.body);

    expect(await global.stop()).toEqual({ code: 0, signal: null });
    const messages = global.logLines().map((line) => line.msg);
    expect(messages).toContain("stopped");
    expect(messages.indexOf("shutting down")).toBeLessThan(messages.indexOf("stopped"));
    expect(global.logLines().find((line) => line.msg === "shutting down")?.signal).toBe("SIGTERM");
    expect(global.stderr()).toBe("");

    const restarted = await startGlobalProcess({ dataDir: global.dataDir });
    const readyAgain = await requestJson<{ status: string; epoch: string }>("GET", `${restarted.http}/readyz`);
    expect(readyAgain.body.epoch).toBe(ready.body.epoch);
    for (const [name, before] of written) {
      const after = await requestJson<MeshServiceJson>("GET", `${restarted.http}/meshes/default/meshservices/${name}`);
      expect(after.status).toBe(200);
      expect(after.body).toEqual(before);
    }
    const services = await listAll<MeshServiceJson>(restarted.http, "/meshes/default/meshservices");
    expect(services.total).toBe(3);
    const leases = await listAll<LeaseJson>(restarted.http, "/vips");
    expect(leases.total).toBe(3);
    expect(leases.items.map((lease) => lease.ip).sort()).toEqual(
      [...written.values()].map((service) => service.status.vips[0]?.ip).sort(),
    );
    expect(await restarted.stop()).toEqual({ code: 0, signal: null });
  });
});

describe("workspace bin", () => {
  it("`npx mooring-global --help` at the repo root exits 0 and prints the usage", async () => {
    // --no: never fetch from the registry; a missing bin link must fail, not be downloaded.
    const result = await runCommand("npx", ["--no", "--", "mooring-global", "--help"], {
      env: childEnv({ npm_config_update_notifier: "false" }),
      timeoutMs: 25_000,
    });
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null });
    expect(result.stdout).toMatch(/^Usage: mooring-global /);
    expect(result.stdout).toContain("--vip-cidrs <value>");
    expect(result.stdout).toContain("MOORING_VIP_CIDRS");
  }, 30_000);
});
