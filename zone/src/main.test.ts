import { type ChildProcess, spawn } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { SyncMode } from "@mooring/proto";
import { createLogger } from "@mooring/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadZoneConfig } from "./config.js";
import { type RunningZone, startZone, VERSION } from "./main.js";
import { changes, type FakeGlobal, meshService, startFakeGlobal } from "./test-support.js";

// The built command, as an operator runs it (`npx tsc -b` builds it; `npm test` does so first).
const BIN = fileURLToPath(new URL("../bin/mooring-zone.js", import.meta.url));

describe("zone process", () => {
  let global: FakeGlobal;
  let dataDir: string;
  beforeEach(async () => {
    global = await startFakeGlobal();
    dataDir = mkdtempSync(join(tmpdir(), "mooring-zone-main-"));
  });
  afterEach(() => {
    global.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe("startZone", () => {
    let zone: RunningZone | undefined;
    afterEach(async () => {
      await zone?.close();
      zone = undefined;
    });

    it("logs one listening line, serves REST, syncs, and sends local writes up", async () => {
      const lines: Array<Record<string, unknown>> = [];
      const logger = createLogger({
        level: "info",
        service: "zone",
        destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
      });
      const config = loadZoneConfig(
        [
          "--zone",
          "east",
          "--http-addr",
          "127.0.0.1:0",
          "--global",
          `127.0.0.1:${global.address.port}`,
          "--data-dir",
          dataDir,
          "--dns-addr",
          "127.0.0.1:0",
        ],
        {},
        "test",
      );
      zone = await startZone(config, logger, { instanceId: "3f9d2c41-8b7a-4e6f-9c1d-0a1b2c3d4e5f" });
      const listening = lines.filter((line) => line.msg === "listening");
      expect(listening).toHaveLength(1);
      expect(listening[0]).toMatchObject({
        level: 30,
        service: "zone",
        http: zone.httpAddress,
        dns: zone.dnsAddress,
        zone: "east",
        global: `127.0.0.1:${global.address.port}`,
        dataDir,
        storeId: zone.storeId,
        instanceId: "3f9d2c41-8b7a-4e6f-9c1d-0a1b2c3d4e5f",
        version: VERSION,
      });
      const base = `http://${zone.httpAddress}`;
      expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ status: "ready" });

      const stream = await global.nextStream();
      expect(await stream.take("hello")).toMatchObject({ zone: "east", storeId: zone.storeId });
      stream.welcome({ mode: SyncMode.FULL, headRevision: 2n });
      stream.changes(changes(0, 2, { upserts: [meshService("web", { vips: ["241.0.0.3"] })] }));
      await stream.take("ack");
      const list = (await (await fetch(`${base}/meshes/default/meshservices`)).json()) as {
        items: Array<{ name: string; status: unknown }>;
      };
      expect(list.items.map((item) => [item.name, item.status])).toEqual([["web", { vips: [{ ip: "241.0.0.3" }] }]]);
      expect(zone.dnsAddress).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
      const resolver = new Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([zone.dnsAddress ?? ""]);
      expect(await resolver.resolve4("web.default.mesh.local")).toEqual(["241.0.0.3"]);

      const body = JSON.stringify({ spec: { ports: [{ port: 8080 }] } });
      const headers = { "content-type": "application/json" };
      // Authentication is on by default: a write without the zone's admin token changes nothing.
      const anonymous = await fetch(`${base}/meshes/default/meshservices/api`, { method: "PUT", headers, body });
      expect(anonymous.status).toBe(401);
      expect(lines.some((line) => line.msg === "REST writes need the admin token kept in this file")).toBe(true);
      const adminToken = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
      expect(JSON.stringify(lines)).not.toContain(adminToken);
      const put = await fetch(`${base}/meshes/default/meshservices/api`, {
        method: "PUT",
        headers: { ...headers, authorization: `Bearer ${adminToken}` },
        body,
      });
      expect(put.status).toBe(201);
      // A local write is in DNS at once: the name exists, without a VIP until the global leases one.
      await expect(resolver.resolve4("api.east.default.mesh.local")).rejects.toMatchObject({ code: "ENODATA" });
      const upstream = await stream.take("upstream");
      expect(upstream.upserts.map((s) => [s.key?.zone, s.key?.name])).toEqual([["east", "api"]]);
      expect(lines.some((line) => line.msg === "connected" && line.component === "sync")).toBe(true);

      await zone.close();
      zone = undefined;
      expect(await stream.take("goodbye")).toMatchObject({ final: false });
    });
  });

  describe("the mooring-zone command", () => {
    const children: ChildProcess[] = [];
    afterEach(() => {
      for (const child of children.splice(0)) child.kill("SIGKILL");
    });

    function run(env: Record<string, string>) {
      const child = spawn(process.execPath, [BIN], {
        env: { PATH: process.env.PATH ?? "", MOORING_LOG_LEVEL: "info", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      const lines = () =>
        stdout
          .split("\n")
          .filter((line) => line.startsWith("{"))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      const waitForLine = async (msg: string) => {
        for (let waited = 0; waited < 10_000; waited += 20) {
          if (lines().some((line) => line.msg === msg)) return;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        throw new Error(`no "${msg}" log line within 10s; stdout: ${stdout}`);
      };
      return { child, exited, lines, waitForLine, stderr: () => stderr };
    }

    const envFor = () => ({
      MOORING_ZONE: "east",
      MOORING_GLOBAL: `127.0.0.1:${global.address.port}`,
      MOORING_DATA_DIR: dataDir,
      MOORING_HTTP_ADDR: "127.0.0.1:0",
      MOORING_DNS_ADDR: "127.0.0.1:0",
    });

    it("exits 2 with one line when the zone's name is missing", async () => {
      const zone = run({ MOORING_DATA_DIR: dataDir });
      expect(await zone.exited).toBe(2);
      expect(zone.stderr()).toBe("MOORING_ZONE is required: the zone's name\n");
    });

    it("says Goodbye and exits 0 on SIGTERM", async () => {
      const zone = run(envFor());
      const stream = await global.nextStream(10_000);
      await stream.take("hello");
      stream.welcome();
      // Welcomed: a zone that stops before its Welcome just cancels the call.
      await zone.waitForLine("connected");
      zone.child.kill("SIGTERM");
      expect(await stream.take("goodbye")).toMatchObject({ reason: "zone shutting down", final: false });
      expect(await zone.exited).toBe(0);
      expect(zone.lines().map((line) => line.msg)).toEqual(
        expect.arrayContaining(["listening", "connected", "shutting down", "stopped"]),
      );
    });

    it("exits 3, logging why at error level, after a final Goodbye", async () => {
      const zone = run(envFor());
      const stream = await global.nextStream(10_000);
      await stream.take("hello");
      stream.welcome();
      stream.send({ case: "goodbye", value: { reason: "superseded by instance 9d1c", final: true } });
      stream.fail(grpc.status.ABORTED, "superseded");
      expect(await zone.exited).toBe(3);
      const why = zone.lines().find((line) => line.msg === "the global ended this zone for good; exiting");
      expect(why).toMatchObject({ level: 50, reason: "superseded by instance 9d1c", exitCode: 3, zone: "east" });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(global.streams).toHaveLength(1);
    });
  });
});
