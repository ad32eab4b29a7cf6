// 10,000 MeshServices created by concurrent PUTs against a real global: every one gets its own VIP,
// and after kill -9 and a restart on the same data directory every VIP reads back unchanged.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { killAllGlobals, removeTempDirs, startGlobalProcess } from "../helpers/global-process.js";
import { type LeaseJson, listAll, type MeshServiceJson, putMeshService } from "../helpers/http.js";
import { forEachPool } from "../helpers/pool.js";

const COUNT = 10_000;
const CONCURRENCY = 64;
const MESH = "default";

const nameOf = (i: number) => `svc-${String(i).padStart(5, "0")}`;

afterEach(killAllGlobals);
afterAll(async () => {
  await killAllGlobals();
  await removeTempDirs();
});

describe("concurrent creates", () => {
  it(`gives ${COUNT} services created ${CONCURRENCY} at a time distinct VIPs that survive kill -9`, async () => {
    const global = await startGlobalProcess();

    const statuses = new Array<number>(COUNT);
    const created = new Array<MeshServiceJson>(COUNT);
    const startedAt = performance.now();
    await forEachPool(COUNT, CONCURRENCY, async (i) => {
      const response = await putMeshService(global.http, MESH, nameOf(i), {
        spec: { ports: [{ port: 80, appProtocol: "http" }] },
      });
      statuses[i] = response.status;
      created[i] = response.body;
    });
    const seconds = (performance.now() - startedAt) / 1000;
    // Killed the moment the last PUT is answered: an acknowledgement must already be durable.
    const killed = await global.kill9();
    console.log(
      `[e2e] ${COUNT} creates, ${CONCURRENCY} in flight: ${seconds.toFixed(2)} s, ${Math.round(COUNT / seconds)} creates/s`,
    );

    // Every PUT answered 201, each with exactly one VIP, and no two services share one.
    const statusCounts: Record<number, number> = {};
    for (const status of statuses) statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    expect(statusCounts).toEqual({ 201: COUNT });
    const wrongShape = created.filter((service, i) => service.name !== nameOf(i) || service.status.vips.length !== 1);
    expect(wrongShape).toEqual([]);
    const ips = new Set(created.map((service) => service.status.vips[0]?.ip));
    expect(ips.size).toBe(COUNT);
    const outOfRange = [...ips].filter((ip) => ip === undefined || !/^241\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip));
    expect(outOfRange).toEqual([]);
    expect(killed).toEqual({ code: null, signal: "SIGKILL" });

    const restarted = await startGlobalProcess({ dataDir: global.dataDir });
    console.log(
      `[e2e] restart after kill -9 with ${COUNT} services: ${Math.round(restarted.startupMs)} ms to "listening"`,
    );

    const services = await listAll<MeshServiceJson>(restarted.http, `/meshes/${MESH}/meshservices`);
    expect(services.total).toBe(COUNT);
    expect(services.items.length).toBe(COUNT);
    const byName = new Map(services.items.map((service) => [service.name, service]));
    expect(byName.size).toBe(COUNT);
    const mismatches: string[] = [];
    created.forEach((before, i) => {
      const after = byName.get(nameOf(i));
      if (!after) {
        mismatches.push(`${nameOf(i)}: missing after restart`);
        return;
      }
      const vipsBefore = JSON.stringify(before.status.vips);
      const vipsAfter = JSON.stringify(after.status.vips);
      if (vipsAfter !== vipsBefore) mismatches.push(`${nameOf(i)}: VIPs ${vipsBefore} became ${vipsAfter}`);
      if (after.revision !== before.revision || after.contentHash !== before.contentHash) {
        mismatches.push(
          `${nameOf(i)}: revision/hash ${before.revision}/${before.contentHash} became ${after.revision}/${after.contentHash}`,
        );
      }
    });
    expect(mismatches).toEqual([]);

    const leases = await listAll<LeaseJson>(restarted.http, "/vips");
    expect(leases.total).toBe(COUNT);
    expect(leases.items.length).toBe(COUNT);
    const leaseProblems = leases.items.filter((lease) => {
      const holder = byName.get(lease.name);
      return (
        lease.state !== "bound" ||
        lease.mesh !== MESH ||
        lease.family !== 4 ||
        holder === undefined ||
        holder.status.vips[0]?.ip !== lease.ip
      );
    });
    expect(leaseProblems).toEqual([]);
    expect(new Set(leases.items.map((lease) => lease.ip)).size).toBe(COUNT);

    expect(await restarted.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);
});
