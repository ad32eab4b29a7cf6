// First sync and resume at one data-set size N, for both systems. Every connection goes through
// the TCP proxy of test/helpers, which counts the bytes the server sends on the wire.
//
// Mooring: a global whose database holds N services, measured once it has built its snapshot cache
// (logged as "snapshot cache built").
// - First sync: a new zone process; from its "listening" line (its sync client starts right after)
//   to its "synced" line (the snapshot stored message by message, made visible by the commit that
//   stores the cursor, acknowledged), both stamped by the zone's clock.
// - Resume: one zone process stays up; its connection is cut and refused while k services change,
//   then let through. From the "connecting" line of the attempt that succeeds to "synced" (the
//   reconnect backoff's wait is not counted).
//
// etcd: N keys under a prefix.
// - First sync: a new consumer process (etcd-consumer.ts) reads the prefix in one range and opens a
//   watch from the next revision; timed inside it from creating the client.
// - Resume: a new client (a new connection) opens a watch from the revision the last one had seen
//   and receives the k events.
import { fileURLToPath } from "node:url";
import type { Etcd3 } from "etcd3";
import { startTcpProxy } from "../../test/helpers/tcp-proxy.js";
import { type LogLine, logTime, startChild } from "../child.js";
import { REPO_ROOT } from "../config.js";
import { type Context, meshServiceValue, prefixEnd } from "../context.js";
import { createEtcdClient, seedEtcd } from "../etcd.js";
import {
  createRestClient,
  type GlobalProcess,
  isSynced,
  metric,
  type RestClient,
  revisionOf,
  SEED_MESH,
  seedGlobalDatabase,
  seedName,
  serviceBody,
  startGlobal,
  startZone,
  type ZoneProcess,
} from "../mooring.js";
import { forEachPool } from "../pool.js";
import { makeTempDir, removeTempDir } from "../temp.js";

export interface SyncRun {
  /** Until in sync. */
  readonly ms: number;
  /** From the server, on the wire (TCP payload through the proxy: HTTP/2 framing and all). */
  readonly wireBytes: number;
  /** Mooring only: `mooring_global_sync_bytes_sent_total` over the run. */
  readonly metricBytes?: number;
  /** First sync: from spawning the zone (consumer) process to in sync. */
  readonly processMs?: number;
  /** Resources (Mooring) or events/keys (etcd) received. */
  readonly received: number;
  /** Mooring: the session's mode as logged with "synced". */
  readonly mode?: string;
  /** Mooring resume: batches applied until in sync (the first is the one "synced" is logged for). */
  readonly batches?: number;
  /** Mooring resume: until the "synced" line, which can come before the zone is at the head. */
  readonly syncedLineMs?: number;
}

export interface SizeResult {
  readonly n: number;
  /** Seeding time of the global's database (0 when it came from the cache). */
  readonly seededMs: number;
  readonly firstSync: { readonly mooring: SyncRun[]; readonly etcd: SyncRun[] };
  readonly resume: Array<{ readonly k: number; readonly mooring: SyncRun[]; readonly etcd: SyncRun[] }>;
}

const REST_CONCURRENCY = 64;

export async function runSyncAtSize(
  ctx: Context,
  n: number,
  which: { readonly firstSync: boolean; readonly resume: boolean },
): Promise<SizeResult> {
  const { profile } = ctx.options;
  const ks = which.resume ? profile.resumeChanges(n) : [];
  const firstSyncRuns = which.firstSync ? profile.firstSyncRuns(n) : 0;

  // Mooring.
  const dataDir = makeTempDir("mooring-bench-global-");
  const { seededMs } = seedGlobalDatabase(ctx.cacheDir, dataDir, n);
  const result: SizeResult = {
    n,
    seededMs,
    firstSync: { mooring: [], etcd: [] },
    resume: ks.map((k) => ({ k, mooring: [], etcd: [] })),
  };
  if (seededMs > 0) ctx.log(`  seeded ${n} services into the global's database in ${(seededMs / 1000).toFixed(1)} s`);
  const global = await startGlobal(dataDir, ctx.profile(`global-sync-n${n}`));
  const rest = createRestClient(global.http, REST_CONCURRENCY);
  try {
    // A global that has just started builds its snapshot cache in the background; the runs measure
    // zones against a global that has it, as etcd's are measured against a member that is up.
    const built = await global.waitForLog((line) => line.msg === "snapshot cache built", 120_000);
    ctx.log(`  the global built its snapshot cache of ${built.resources} services in ${built.ms} ms`);
    for (let run = 1; run <= firstSyncRuns; run++) {
      const sample = await mooringFirstSync(ctx, global, rest, `fs-n${n}-${run}`, n);
      result.firstSync.mooring.push(sample);
      ctx.log(`  mooring first sync N=${n} #${run}: ${sample.ms} ms, ${sample.wireBytes} B on the wire`);
    }
    if (ks.length > 0) await mooringResumes(ctx, global, rest, n, result.resume);
  } finally {
    rest.close();
    await global.stop();
    removeTempDir(dataDir);
  }

  // etcd.
  const etcd = ctx.etcd;
  if (etcd !== undefined) {
    const prefix = `/bench/n${n}/meshservices/`;
    const seeder = createEtcdClient(etcd.address);
    try {
      await seedEtcd(
        seeder,
        n,
        (i) => `${prefix}${SEED_MESH}/${seedName(i)}`,
        (i) => meshServiceValue(seedName(i), i),
      );
      for (let run = 1; run <= firstSyncRuns; run++) {
        const sample = await etcdFirstSync(etcd.address, prefix, n);
        result.firstSync.etcd.push(sample);
        ctx.log(`  etcd first sync N=${n} #${run}: ${sample.ms.toFixed(1)} ms, ${sample.wireBytes} B on the wire`);
      }
      let round = 0;
      for (const entry of result.resume) {
        for (let run = 1; run <= profile.resumeRuns(entry.k); run++) {
          round += 1;
          // The revision the disconnected watcher had seen: the head before the changes.
          const seen = await headRevision(seeder, prefix);
          await forEachPool(entry.k, REST_CONCURRENCY, async (i) => {
            await seeder
              .put(`${prefix}${SEED_MESH}/${seedName(i % n)}`)
              .value(meshServiceValue(seedName(i % n), i % n, round));
          });
          const sample = await etcdResume(etcd.address, prefix, seen, entry.k);
          entry.etcd.push(sample);
          ctx.log(
            `  etcd resume N=${n} k=${entry.k} #${run}: ${sample.ms.toFixed(1)} ms, ${sample.wireBytes} B on the wire`,
          );
        }
      }
    } finally {
      seeder.close();
    }
  }
  return result;
}

/** A new zone: from its "listening" line to "synced"; stopped afterwards. */
async function mooringFirstSync(
  ctx: Context,
  global: GlobalProcess,
  rest: RestClient,
  zone: string,
  n: number,
): Promise<SyncRun> {
  const dataDir = makeTempDir("mooring-bench-zone-");
  const proxy = await startTcpProxy(global.grpc);
  const before = await metric(rest, "mooring_global_sync_bytes_sent_total");
  const spawnedAt = Date.now();
  let zoneProcess: ZoneProcess | undefined;
  try {
    zoneProcess = await startZone({ zone, global: proxy.address, dataDir, profile: ctx.profile(`zone-${zone}`) });
    const synced = await zoneProcess.waitForLog(isSynced, 600_000);
    const wireBytes = proxy.bytes().fromTarget;
    const after = await metric(rest, "mooring_global_sync_bytes_sent_total");
    const received = Number(synced.received);
    if (received !== n) ctx.warn(`zone ${zone}: the first sync received ${received} resources, expected ${n}`);
    return {
      ms: logTime(synced) - zoneProcess.listeningAt,
      processMs: logTime(synced) - spawnedAt,
      wireBytes,
      metricBytes: after - before,
      received,
      mode: String(synced.mode),
    };
  } finally {
    await zoneProcess?.stop();
    await proxy.close();
    removeTempDir(dataDir);
  }
}

/**
 * One zone process, synced, then for each run: its connection is cut and refused, k services change,
 * and connections are let through again. The zone reconnects on its own (its backoff capped at 1 s so
 * the run does not wait long); the time runs from its "connecting" line of the attempt that succeeds
 * to "synced", so the backoff's wait is not counted.
 */
async function mooringResumes(
  ctx: Context,
  global: GlobalProcess,
  rest: RestClient,
  n: number,
  entries: SizeResult["resume"],
): Promise<void> {
  const zone = `resume-n${n}`;
  const dataDir = makeTempDir("mooring-bench-zone-");
  const proxy = await startTcpProxy(global.grpc);
  let zoneProcess: ZoneProcess | undefined;
  try {
    zoneProcess = await startZone({
      zone,
      global: proxy.address,
      dataDir,
      profile: ctx.profile(`zone-${zone}`),
      // "connecting" is a debug line.
      env: { MOORING_LOG_LEVEL: "debug", MOORING_RECONNECT_MAX: "1s" },
    });
    const first = await zoneProcess.waitForLog(isSynced, 600_000);
    ctx.log(`  mooring resume zone synced (${logTime(first) - zoneProcess.listeningAt} ms)`);
    let round = 0;
    for (const entry of entries) {
      for (let run = 1; run <= ctx.options.profile.resumeRuns(entry.k); run++) {
        round += 1;
        zoneProcess.clearLog();
        const seen: LogLine[] = [];
        const off = zoneProcess.onLog((line) => seen.push(line));
        proxy.setMode("refuse");
        proxy.cut();
        await zoneProcess.waitForLog((line) => line.msg === "disconnected");
        await changeServices(rest, entry.k, round);
        const head = await metric(rest, "mooring_global_head_revision");
        const wireBefore = proxy.bytes().fromTarget;
        const metricBefore = await metric(rest, "mooring_global_sync_bytes_sent_total");
        const sentBefore = await metric(rest, "mooring_global_sync_resources_sent_total");
        proxy.setMode("pass");
        // In sync once a batch up to the head is applied: "synced" ends the session's first batch, but
        // that batch can stop short of the head (see the README), and later ones are logged as "applied".
        const current = await zoneProcess.waitForLog(
          (line) => (line.msg === "synced" || line.msg === "applied") && Number(line.revision) >= head,
          600_000,
        );
        const wireBytes = proxy.bytes().fromTarget - wireBefore;
        const metricBytes = (await metric(rest, "mooring_global_sync_bytes_sent_total")) - metricBefore;
        // The zone's "applied" line counts only a batch's last message; the global's counter is exact.
        const sent = (await metric(rest, "mooring_global_sync_resources_sent_total")) - sentBefore;
        off();
        const synced = seen.findLast((line) => line.msg === "synced");
        const syncedIndex = synced === undefined ? -1 : seen.indexOf(synced);
        const from = seen.slice(0, syncedIndex).findLast((line) => line.msg === "connecting");
        if (synced === undefined || from === undefined)
          throw new Error(`zone ${zone}: no "connecting" and "synced" lines`);
        const batches = seen.slice(syncedIndex, seen.indexOf(current) + 1);
        const sample: SyncRun = {
          ms: logTime(current) - logTime(from),
          wireBytes,
          metricBytes,
          received: sent,
          mode: String(synced.mode),
          batches: batches.length,
          syncedLineMs: logTime(synced) - logTime(from),
        };
        if (sample.received !== entry.k || sample.mode !== "incremental") {
          ctx.warn(
            `mooring resume N=${n} k=${entry.k} #${run}: a ${sample.mode} session, ${sample.received} resources sent`,
          );
        }
        entry.mooring.push(sample);
        ctx.log(
          `  mooring resume N=${n} k=${entry.k} #${run}: ${sample.ms} ms in ${sample.batches} batches ("synced" after ${sample.syncedLineMs} ms), ${sample.wireBytes} B on the wire, ${sample.metricBytes} B by the metric`,
        );
      }
    }
  } finally {
    await zoneProcess?.stop();
    await proxy.close();
    removeTempDir(dataDir);
  }
}

/** k distinct seeded services get a new label (a real change: new revision, change-log entry). */
async function changeServices(rest: RestClient, k: number, round: number): Promise<void> {
  await forEachPool(k, REST_CONCURRENCY, async (i) => {
    const name = seedName(i);
    revisionOf(
      await rest.put(`/meshes/${SEED_MESH}/meshservices/${name}`, serviceBody(name, { round: String(round) })),
    );
  });
}

async function headRevision(client: Etcd3, prefix: string): Promise<bigint> {
  const response = await client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix), count_only: true });
  return BigInt(response.header.revision);
}

/** A fresh consumer process (etcd-consumer.ts), as a fresh zone is one. */
async function etcdFirstSync(address: string, prefix: string, n: number): Promise<SyncRun> {
  const proxy = await startTcpProxy(address);
  try {
    const spawnedAt = performance.now();
    const consumer = startChild({
      name: "etcd-consumer",
      command: process.execPath,
      args: [fileURLToPath(new URL("../etcd-consumer.js", import.meta.url)), proxy.address, prefix],
      env: { ...process.env },
      cwd: REPO_ROOT,
    });
    const line = await consumer.waitForLog((line) => typeof line.ms === "number", 600_000);
    await consumer.exited;
    const processMs = performance.now() - spawnedAt;
    if (line.keys !== n) throw new Error(`the etcd range returned ${String(line.keys)} keys, expected ${n}`);
    return { ms: Number(line.ms), processMs, wireBytes: proxy.bytes().fromTarget, received: n };
  } finally {
    await proxy.close();
  }
}

async function etcdResume(address: string, prefix: string, seen: bigint, k: number): Promise<SyncRun> {
  const proxy = await startTcpProxy(address);
  const client = createEtcdClient(proxy.address);
  try {
    const started = performance.now();
    let events = 0;
    const watcher = client
      .watch()
      .prefix(prefix)
      .startRevision(String(seen + 1n))
      .watcher();
    await new Promise<void>((resolve, reject) => {
      let connected = false;
      const timer = setTimeout(() => reject(new Error(`etcd watch: ${events} of ${k} events after 120 s`)), 120_000);
      const check = () => {
        if (connected && events >= k) {
          clearTimeout(timer);
          resolve();
        }
      };
      watcher.on("connected", () => {
        connected = true;
        check();
      });
      watcher.on("put", () => {
        events += 1;
        check();
      });
      watcher.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    const ms = performance.now() - started;
    const wireBytes = proxy.bytes().fromTarget;
    await watcher.cancel();
    return { ms, wireBytes, received: events };
  } finally {
    client.close();
    await proxy.close();
  }
}
