// Propagation latency with many zones, and the memory of that deployment.
//
// Mooring: a global with N services and Z zone processes (each its own SQLite, MOORING_DB_SYNC at
// its default), all synced. The benchmark creates services through the global's REST API at a fixed
// rate (open loop: a write is started on schedule whether or not earlier ones have answered). Each
// zone runs at log level debug, where it logs `"applied"` with the batch's revision once a live batch
// is committed and acknowledged; the line's `time` is the zone's clock (the same machine's). A write
// that answered 2xx with revision r at time t has reached zone z at the time of z's first "applied"
// line with revision >= r; its latency is the latest of those times, over every zone, minus t.
// Millisecond resolution (pino's ISO time).
//
// etcd: Z watchers (one client and connection each) in a separate process, on a prefix; the writer
// puts at the same rate; the latency of a put is the time the last watcher saw it minus the put's
// response, on performance.timeOrigin + performance.now() in both processes.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type LogLine, logTime, readMemory } from "../child.js";
import { type Context, meshServiceValue } from "../context.js";
import { createEtcdClient } from "../etcd.js";
import {
  createRestClient,
  isSynced,
  revisionOf,
  SEED_MESH,
  seedGlobalDatabase,
  serviceBody,
  startGlobal,
  startZone,
  type ZoneProcess,
} from "../mooring.js";
import { openLoop } from "../pool.js";
import { max, percentile, sleep } from "../stats.js";
import { makeTempDir, removeTempDir } from "../temp.js";

export interface LatencySummary {
  /** Writes inside the measured window (after the warm-up) that reached every consumer. */
  readonly writes: number;
  /** Writes that failed or never reached every consumer. */
  readonly lost: number;
  /** Writes answered per second over the whole phase. */
  readonly achievedPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** The write itself: request sent to response (REST 2xx or etcd put). */
  readonly writeP50: number;
  readonly writeP99: number;
}

export interface MemoryResult {
  readonly n: number;
  readonly zones: number;
  /** VmHWM: the peak resident set over the process's life. */
  readonly globalPeakRss: number;
  /** VmRSS at the end of the propagation phases. */
  readonly globalRss: number;
  /** VmHWM of zone 1 and the largest of every zone's. */
  readonly zonePeakRss: number;
  readonly zoneMaxPeakRss: number;
  /** etcd's VmHWM at the same point, over its whole run (every scenario so far). */
  readonly etcdPeakRss?: number;
  readonly etcdKeys?: number;
}

export interface PropagationResult {
  readonly n: number;
  readonly zones: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly rates: Array<{ readonly rate: number; mooring?: LatencySummary; etcd?: LatencySummary }>;
  memory?: MemoryResult;
}

interface Write {
  readonly index: number;
  readonly sentAt: number;
  readonly answeredAt: number;
  /** Mooring: the revision of the write; etcd: unused. */
  readonly revision: number;
  readonly key: string;
}

export async function runPropagation(ctx: Context): Promise<PropagationResult> {
  const { n, zones: zoneCount, rates, seconds } = ctx.options.profile.propagation;
  const warmupSeconds = Math.min(2, seconds / 4);
  const result: PropagationResult = {
    n,
    zones: zoneCount,
    seconds,
    warmupSeconds,
    rates: rates.map((rate) => ({ rate })),
  };

  // Mooring.
  const dataDir = makeTempDir("mooring-bench-global-");
  seedGlobalDatabase(ctx.cacheDir, dataDir, n);
  const global = await startGlobal(dataDir, ctx.profile("global-propagation"));
  const zoneDirs: string[] = [];
  const zones: ZoneProcess[] = [];
  const rest = createRestClient(global.http, 512);
  try {
    const started = performance.now();
    const starting = Array.from({ length: zoneCount }, async (_, i) => {
      const zoneDir = makeTempDir("mooring-bench-zone-");
      zoneDirs.push(zoneDir);
      const zone = await startZone({
        zone: `prop-${i + 1}`,
        global: global.grpc,
        dataDir: zoneDir,
        profile: ctx.profile(`zone-prop-${i + 1}`),
        // "applied" is a debug line.
        env: { MOORING_LOG_LEVEL: "debug" },
      });
      zones.push(zone);
      await zone.waitForLog(isSynced, 900_000);
    });
    await Promise.all(starting);
    ctx.log(`  ${zoneCount} zones synced ${n} services in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const zone of zones) zone.clearLog();

    for (const entry of result.rates) {
      entry.mooring = await mooringAtRate(ctx, zones, rest, entry.rate, seconds, warmupSeconds);
      ctx.log(`  mooring ${entry.rate}/s: ${describe(entry.mooring)}`);
    }
    const zonePeaks = zones.map((zone) => zone.memory().peakRss);
    const firstZone = zones.find((zone) => zone.zone === "prop-1");
    const globalMemory = global.memory();
    result.memory = {
      n,
      zones: zoneCount,
      globalPeakRss: globalMemory.peakRss,
      globalRss: globalMemory.rss,
      zonePeakRss: firstZone?.memory().peakRss ?? Number.NaN,
      zoneMaxPeakRss: max(zonePeaks),
    };
  } finally {
    rest.close();
    await Promise.all(zones.map((zone) => zone.stop()));
    await global.stop();
    for (const dir of [dataDir, ...zoneDirs]) removeTempDir(dir);
  }

  // etcd.
  const etcd = ctx.etcd;
  if (etcd !== undefined) {
    const prefix = "/bench/propagation/";
    const script = fileURLToPath(new URL("./etcd-watchers.js", new URL("..", import.meta.url)));
    const watchers = fork(script, [etcd.address, prefix, String(zoneCount)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const messages: Array<(message: unknown) => void> = [];
    watchers.on("message", (message) => messages.shift()?.(message));
    const next = () => new Promise<unknown>((resolve) => messages.push(resolve));
    const writer = createEtcdClient(etcd.address);
    try {
      await next();
      for (const entry of result.rates) {
        const writes: Write[] = [];
        let failed = 0;
        await openLoop(entry.rate, seconds + warmupSeconds, async (index) => {
          const key = `${prefix}r${entry.rate}/${SEED_MESH}/p-${index}`;
          const sentAt = performance.timeOrigin + performance.now();
          try {
            await writer.put(key).value(meshServiceValue(`p-${index}`, index));
            writes.push({ index, sentAt, answeredAt: performance.timeOrigin + performance.now(), revision: 0, key });
          } catch {
            failed += 1;
          }
        });
        const reply = next();
        watchers.send({ type: "collect", expected: writes.length });
        const report = (await reply) as { lastSeen: Record<string, number> };
        const reached = (write: Write) => report.lastSeen[write.key];
        entry.etcd = summarize(writes, reached, failed, entry.rate, warmupSeconds);
        ctx.log(`  etcd ${entry.rate}/s: ${describe(entry.etcd)}`);
      }
      if (result.memory) {
        const memory = readMemory(etcd.child.pid);
        const keys = await writer.getAll().count();
        result.memory = { ...result.memory, etcdPeakRss: memory.peakRss, etcdKeys: keys };
      }
    } finally {
      writer.close();
      watchers.disconnect();
    }
  }
  return result;
}

async function mooringAtRate(
  ctx: Context,
  zones: readonly ZoneProcess[],
  rest: ReturnType<typeof createRestClient>,
  rate: number,
  seconds: number,
  warmupSeconds: number,
): Promise<LatencySummary> {
  // Per zone, the (revision, time) of every applied live batch, in order.
  const applied = zones.map(() => ({ revisions: [] as number[], times: [] as number[] }));
  const unsubscribe = zones.map((zone, z) =>
    zone.onLog((line: LogLine) => {
      if (line.msg !== "applied") return;
      const log = applied[z];
      log?.revisions.push(Number(line.revision));
      log?.times.push(logTime(line));
    }),
  );
  const writes: Write[] = [];
  let failed = 0;
  try {
    await openLoop(rate, seconds + warmupSeconds, async (index) => {
      const name = `p${rate}-${index}`;
      const sentAt = Date.now();
      try {
        const revision = revisionOf(await rest.put(`/meshes/${SEED_MESH}/meshservices/${name}`, serviceBody(name)));
        writes.push({ index, sentAt, answeredAt: Date.now(), revision, key: name });
      } catch {
        failed += 1;
      }
    });
    const head = max(writes.map((write) => write.revision));
    const deadline = Date.now() + 120_000;
    while (!applied.every((log) => (log.revisions.at(-1) ?? 0) >= head)) {
      if (Date.now() > deadline) {
        ctx.log(`  warning: not every zone applied revision ${head} within 120 s of the last write`);
        break;
      }
      await sleep(20);
    }
    const reached = (write: Write) => {
      let latest = Number.NEGATIVE_INFINITY;
      for (const log of applied) {
        const at = firstAtOrAbove(log.revisions, write.revision);
        const time = log.times[at];
        if (time === undefined) return undefined;
        latest = Math.max(latest, time);
      }
      return latest;
    };
    return summarize(writes, reached, failed, rate, warmupSeconds);
  } finally {
    for (const off of unsubscribe) off();
    for (const zone of zones) zone.clearLog();
  }
}

/** The index of the first element >= value in an ascending array (its length if none). */
function firstAtOrAbove(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle] ?? Number.POSITIVE_INFINITY) < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function summarize(
  writes: readonly Write[],
  reached: (write: Write) => number | undefined,
  failed: number,
  rate: number,
  warmupSeconds: number,
): LatencySummary {
  const firstMeasured = Math.ceil(rate * warmupSeconds);
  const latencies: number[] = [];
  const writeTimes: number[] = [];
  let lost = failed;
  for (const write of writes) {
    if (write.index < firstMeasured) continue;
    writeTimes.push(write.answeredAt - write.sentAt);
    const at = reached(write);
    if (at === undefined) lost += 1;
    else latencies.push(at - write.answeredAt);
  }
  const firstSent = writes.reduce((low, write) => Math.min(low, write.sentAt), Number.POSITIVE_INFINITY);
  const span = (max(writes.map((write) => write.answeredAt)) - firstSent) / 1000;
  return {
    writes: latencies.length,
    lost,
    achievedPerSecond: span > 0 ? writes.length / span : Number.NaN,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: max(latencies),
    writeP50: percentile(writeTimes, 50),
    writeP99: percentile(writeTimes, 99),
  };
}

function describe(summary: LatencySummary): string {
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  return `p50 ${ms(summary.p50)}, p99 ${ms(summary.p99)}, max ${ms(summary.max)} over ${summary.writes} writes (${summary.lost} lost, ${summary.achievedPerSecond.toFixed(0)}/s achieved; write p50 ${ms(summary.writeP50)} p99 ${ms(summary.writeP99)})`;
}
