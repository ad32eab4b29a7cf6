// kill -9 in the middle of a burst of creates and edits: every write the global acknowledged is
// there after the restart with the VIP it was answered with, and the database holds nothing
// half-written (resource without lease, lease without resource, revision without its change row).
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type ExitStatus, killAllGlobals, removeTempDirs, startGlobalProcess } from "../helpers/global-process.js";
import { authHeaders, type LeaseJson, listAll, type MeshServiceJson } from "../helpers/http.js";
import { runWorkers } from "../helpers/pool.js";

const MESH = "crash";
const CONCURRENCY = 32;

interface Ack {
  readonly name: string;
  readonly kind: "create" | "edit";
  readonly status: number;
  readonly vips: string;
  readonly revision: number;
  readonly contentHash: string;
}

afterEach(killAllGlobals);
afterAll(async () => {
  await killAllGlobals();
  await removeTempDirs();
});

const randomInt = (below: number) => Math.floor(Math.random() * below);

function bodyOf(version: number) {
  return {
    labels: { version: String(version) },
    spec: { ports: [{ port: 1000 + version, appProtocol: version % 2 === 0 ? "http" : "grpc" }] },
  };
}

const cases: Array<{ label: string; env: Record<string, string> }> = [
  { label: "default synchronous=full", env: {} },
  { label: "MOORING_DB_SYNC=normal", env: { MOORING_DB_SYNC: "normal" } },
];

describe.each(cases)("kill -9 during writes ($label)", ({ label, env }) => {
  it("loses no acknowledged write and leaves nothing half-written", async () => {
    const global = await startGlobalProcess({ env });
    const base = `${global.http}/meshes/${MESH}/meshservices`;

    // The kill comes after a random number of acknowledgements, plus a random few milliseconds.
    const killAfter = 300 + randomInt(400);
    const killDelayMs = randomInt(15);
    const acks: Ack[] = [];
    const created: string[] = [];
    const unexpected: string[] = [];
    let nextId = 0;
    let killScheduled = false;
    // Set in the same tick as the SIGKILL: requests keep flowing until then, and only a request
    // that fails after it is an expected casualty.
    let killSent = false;
    let killed: Promise<ExitStatus> | undefined;
    let attempted = 0;
    let unanswered = 0;

    const scheduleKill = () => {
      if (killScheduled) return;
      killScheduled = true;
      setTimeout(() => {
        killSent = true;
        killed = global.kill9();
      }, killDelayMs);
    };

    const worker = async () => {
      while (!killSent) {
        // A global that never acknowledges enough writes still gets killed; the counts then fail.
        if (attempted >= 20 * killAfter) scheduleKill();
        const edit = created.length > 0 && Math.random() < 0.5;
        const name = edit ? (created[randomInt(created.length)] ?? "") : `svc-${nextId++}`;
        const body = bodyOf(edit ? 1 + randomInt(50) : 0);
        attempted++;
        let status: number;
        let service: MeshServiceJson;
        try {
          const response = await fetch(`${base}/${name}`, {
            method: "PUT",
            headers: { "content-type": "application/json", ...authHeaders(base) },
            body: JSON.stringify(body),
          });
          status = response.status;
          // A body cut off by the kill throws here: not an acknowledgement.
          service = (await response.json()) as MeshServiceJson;
        } catch (error) {
          if (!killSent) unexpected.push(`PUT ${name} failed before the kill: ${String(error)}`);
          unanswered++;
          return;
        }
        if (status !== 200 && status !== 201) {
          unexpected.push(`PUT ${name} answered ${status}: ${JSON.stringify(service)}`);
          continue;
        }
        const expectedStatus = edit ? 200 : 201;
        if (status !== expectedStatus) unexpected.push(`PUT ${name} (${edit ? "edit" : "create"}) answered ${status}`);
        acks.push({
          name,
          kind: edit ? "edit" : "create",
          status,
          vips: JSON.stringify(service.status.vips),
          revision: service.revision,
          contentHash: service.contentHash,
        });
        if (!edit) created.push(name);
        if (acks.length >= killAfter) scheduleKill();
      }
    };

    await runWorkers(CONCURRENCY, worker);
    expect(killed).toBeDefined();
    const exit = await killed;
    expect(exit).toEqual({ code: null, signal: "SIGKILL" });
    expect(unexpected).toEqual([]);
    expect(acks.length).toBeGreaterThanOrEqual(killAfter);
    const createAcks = acks.filter((ack) => ack.kind === "create").length;
    console.log(
      `[e2e] ${label}: kill -9 after ${acks.length} acknowledged writes (${createAcks} creates, ` +
        `${acks.length - createAcks} edits; threshold ${killAfter} + ${killDelayMs} ms) of ${attempted} sent; ` +
        `${unanswered} sent but unanswered at the kill`,
    );

    const restarted = await startGlobalProcess({ dataDir: global.dataDir, env });
    console.log(`[e2e] ${label}: restart after kill -9: ${Math.round(restarted.startupMs)} ms to "listening"`);

    const services = await listAll<MeshServiceJson>(restarted.http, `/meshes/${MESH}/meshservices`);
    expect(services.items.length).toBe(services.total);
    const byName = new Map(services.items.map((service) => [service.name, service]));
    expect(byName.size).toBe(services.total);

    // Every acknowledged write is there: same VIP, a revision at least the acknowledged one, and the
    // acknowledged content when nothing later was written.
    const problems: string[] = [];
    const latest = new Map<string, Ack>();
    for (const ack of acks) {
      const stored = byName.get(ack.name);
      if (!stored) {
        problems.push(`${ack.name}: acknowledged (${ack.kind}, revision ${ack.revision}) but missing`);
        continue;
      }
      if (JSON.stringify(stored.status.vips) !== ack.vips) {
        problems.push(`${ack.name}: acknowledged VIPs ${ack.vips}, stored ${JSON.stringify(stored.status.vips)}`);
      }
      if (stored.revision < ack.revision) {
        problems.push(`${ack.name}: acknowledged revision ${ack.revision}, stored ${stored.revision}`);
      }
      const previous = latest.get(ack.name);
      if (!previous || ack.revision > previous.revision) latest.set(ack.name, ack);
    }
    for (const [name, ack] of latest) {
      const stored = byName.get(name);
      if (stored && stored.revision === ack.revision && stored.contentHash !== ack.contentHash) {
        problems.push(
          `${name}: revision ${ack.revision} acknowledged as ${ack.contentHash}, stored ${stored.contentHash}`,
        );
      }
    }
    expect(problems).toEqual([]);
    expect(services.total).toBeGreaterThanOrEqual(createAcks);

    // Every service, acknowledged or not, holds exactly one bound VIP, and no address is held twice.
    const vipProblems = services.items
      .filter((service) => service.status.vips.length !== 1)
      .map((service) => `${service.name}: ${JSON.stringify(service.status.vips)}`);
    expect(vipProblems).toEqual([]);
    const serviceIps = services.items.map((service) => service.status.vips[0]?.ip);
    expect(new Set(serviceIps).size).toBe(services.total);

    const leases = await listAll<LeaseJson>(restarted.http, "/vips");
    expect(leases.total).toBe(services.total);
    expect(new Set(leases.items.map((lease) => lease.ip)).size).toBe(leases.total);
    const leaseProblems = leases.items
      .filter((lease) => lease.state !== "bound" || byName.get(lease.name)?.status.vips[0]?.ip !== lease.ip)
      .map((lease) => JSON.stringify(lease));
    expect(leaseProblems).toEqual([]);

    expect(await restarted.stop()).toEqual({ code: 0, signal: null });

    // The file itself, read-only: every row that belongs together is there together.
    const db = new Database(join(global.dataDir, "global.db"), { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      const resourceCount = db.prepare("SELECT count(*) FROM resources").pluck().get();
      expect(resourceCount).toBe(services.total);

      const withoutLease = db
        .prepare(
          `SELECT r.mesh, r.zone, r.name FROM resources r
           WHERE NOT EXISTS (SELECT 1 FROM vip_leases l
                             WHERE l.mesh = r.mesh AND l.zone = r.zone AND l.name = r.name AND l.state = 'bound')`,
        )
        .all();
      expect(withoutLease).toEqual([]);

      const withoutResource = db
        .prepare(
          `SELECT l.ip, l.mesh, l.zone, l.name FROM vip_leases l
           WHERE l.state = 'bound' AND NOT EXISTS (SELECT 1 FROM resources r
                 WHERE r.type = 'MeshService' AND r.mesh = l.mesh AND r.zone = l.zone AND r.name = l.name)`,
        )
        .all();
      expect(withoutResource).toEqual([]);

      const boundTwice = db
        .prepare(
          `SELECT mesh, zone, name, count(*) AS n FROM vip_leases WHERE state = 'bound'
           GROUP BY mesh, zone, name HAVING n <> 1`,
        )
        .all();
      expect(boundTwice).toEqual([]);

      const withoutChange = db
        .prepare(
          `SELECT r.mesh, r.zone, r.name, r.revision, r.content_hash, c.op, c.content_hash AS change_hash
           FROM resources r LEFT JOIN changes c ON c.revision = r.revision
           WHERE c.revision IS NULL OR c.op <> 'upsert' OR c.content_hash IS NOT r.content_hash
              OR c.type <> r.type OR c.mesh <> r.mesh OR c.zone <> r.zone OR c.name <> r.name`,
        )
        .all();
      expect(withoutChange).toEqual([]);

      const withoutAudit = db
        .prepare(
          `SELECT l.ip FROM vip_leases l
           WHERE NOT EXISTS (SELECT 1 FROM lease_events e WHERE e.ip = l.ip AND e.event = 'allocate')`,
        )
        .all();
      expect(withoutAudit).toEqual([]);

      const changeCount = db.prepare("SELECT count(*) FROM changes").pluck().get();
      expect(changeCount).toBeGreaterThanOrEqual(services.total);
    } finally {
      db.close();
    }
  }, 60_000);
});
