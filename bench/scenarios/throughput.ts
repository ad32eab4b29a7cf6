// Write throughput at a fixed concurrency. Mooring: REST PUTs that each create a new service (a VIP
// leased and the service stored in one durable transaction) on a fresh global with no zones, at the
// default MOORING_DB_SYNC=full and, for comparison, at `normal`. etcd: puts of new keys with
// MeshService-sized values into an etcd of its own, started empty (etcd fsyncs every commit,
// batching concurrent puts into one), twice: with the lean client of etcd-lean.ts, and with the
// etcd3 library the other scenarios use.
//
// The load comes from this process, on the same cores as the server, so each run also records the
// CPU both used: the server's (every thread) and this process's. With the etcd3 library it is the
// client that is busy, not etcd; the lean client's rate is the one the target is judged by.
// One second of warm-up is not counted.
//
// Two reference runs show where Mooring's bound is: the same load generator against a node:http
// server that does no work (http-floor.ts: the HTTP floor per request, and the load generator's
// own ceiling), and Mooring's write path (store, allocator, manager, the REST group commit, fsync
// per group) driven in this process with no HTTP at all.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRestWrites } from "@mooring/global";
import { readCpuMs, startChild } from "../child.js";
import { REPO_ROOT } from "../config.js";
import { type Context, meshServiceValue } from "../context.js";
import { createEtcdClient, type EtcdServer, startEtcd } from "../etcd.js";
import { createLeanEtcdClient } from "../etcd-lean.js";
import { createRestClient, openGlobalStore, type RestClient, SEED_MESH, serviceBody, startGlobal } from "../mooring.js";
import { type ClosedLoopResult, closedLoop } from "../pool.js";
import { makeTempDir, removeTempDir } from "../temp.js";

/** A closed-loop run and the CPU spent meanwhile, in cores (1 = one core busy the whole run). */
export interface LoadRun extends ClosedLoopResult {
  readonly serverCores: number;
  readonly clientCores: number;
}

/** A closed-loop run of server code inside this process, and the CPU the process spent meanwhile. */
export interface InProcessRun extends ClosedLoopResult {
  readonly serverCores: number;
}

export interface ThroughputResult {
  readonly concurrency: number;
  readonly seconds: number;
  mooring?: LoadRun;
  /** The same with MOORING_DB_SYNC=normal (WAL, no fsync per commit; survives a process crash). */
  mooringDbSyncNormal?: LoadRun;
  /** Puts through the lean client (etcd-lean.ts). */
  etcdLean?: LoadRun;
  /** Puts through the etcd3 library. */
  etcd?: LoadRun;
  /** Reference: the same PUTs to a node:http server that parses the body and answers, nothing else. */
  httpFloor?: LoadRun;
  /** Reference: Mooring's creates without HTTP, in this process (so no client CPU of its own). */
  writePath?: InProcessRun;
}

const WARMUP_MS = 1000;

export async function runThroughput(ctx: Context): Promise<ThroughputResult> {
  const { concurrency, seconds } = ctx.options.profile.throughput;
  const result: ThroughputResult = { concurrency, seconds };
  const report = (label: string, run: LoadRun, unit: string) =>
    ctx.log(
      `  ${label}: ${run.perSecond.toFixed(0)} ${unit}/s (${run.failed} failed); CPU: server ${run.serverCores.toFixed(2)}, client ${run.clientCores.toFixed(2)} cores`,
    );

  result.mooring = await mooringCreates(ctx, concurrency, seconds, {});
  report("mooring", result.mooring, "creates");
  result.mooringDbSyncNormal = await mooringCreates(ctx, concurrency, seconds, { MOORING_DB_SYNC: "normal" });
  report("mooring, MOORING_DB_SYNC=normal", result.mooringDbSyncNormal, "creates");

  const bin = ctx.etcd?.bin;
  if (bin !== undefined) {
    // A new, empty etcd for each client, as each Mooring run gets a new global: the shared one
    // holds the other scenarios' keys and their history by now, which slows its puts.
    result.etcdLean = await withEtcd(bin, async (etcd) => {
      const client = createLeanEtcdClient(etcd.address);
      try {
        const run = await measured(etcd.child.pid, () =>
          closedLoop(concurrency, WARMUP_MS, seconds, (index) =>
            client.put(putKey(index), meshServiceValue(`tp-${index}`, index)),
          ),
        );
        await checkStored(etcd, run);
        return run;
      } finally {
        client.close();
      }
    });
    report("etcd, lean client", result.etcdLean, "puts");
    result.etcd = await withEtcd(bin, async (etcd) => {
      const client = createEtcdClient(etcd.address);
      try {
        return await measured(etcd.child.pid, () =>
          closedLoop(concurrency, WARMUP_MS, seconds, async (index) => {
            await client.put(putKey(index)).value(meshServiceValue(`tp-${index}`, index));
          }),
        );
      } finally {
        client.close();
      }
    });
    report("etcd, etcd3 library", result.etcd, "puts");
  }

  result.httpFloor = await httpFloor(concurrency, seconds);
  report("reference: node:http answering without work", result.httpFloor, "requests");
  result.writePath = await writePathWithoutHttp(concurrency, seconds);
  ctx.log(
    `  reference: Mooring's write path without HTTP: ${result.writePath.perSecond.toFixed(0)} creates/s (${result.writePath.failed} failed); CPU ${result.writePath.serverCores.toFixed(2)} cores`,
  );
  return result;
}

/** `concurrency` PUTs in flight, each of a new service, each expected to answer 201 Created. */
function restCreates(rest: RestClient, concurrency: number, seconds: number): Promise<ClosedLoopResult> {
  return closedLoop(concurrency, WARMUP_MS, seconds, async (index) => {
    const name = `tp-${index}`;
    const response = await rest.put(`/meshes/${SEED_MESH}/meshservices/${name}`, serviceBody(name));
    if (response.status !== 201) throw new Error(`PUT ${name} answered ${response.status}: ${response.body}`);
  });
}

const HTTP_FLOOR_SCRIPT = fileURLToPath(new URL("../http-floor.js", import.meta.url));

async function httpFloor(concurrency: number, seconds: number): Promise<LoadRun> {
  const child = startChild({
    name: "http-floor",
    command: process.execPath,
    args: [HTTP_FLOOR_SCRIPT],
    env: process.env,
    cwd: REPO_ROOT,
  });
  try {
    const ready = await child.waitForLog((line) => line.msg === "listening", 10_000);
    const rest = createRestClient(`http://${String(ready.http)}`, concurrency);
    try {
      return await measured(child.pid, () => restCreates(rest, concurrency, seconds));
    } finally {
      rest.close();
    }
  } finally {
    await child.stop();
  }
}

/** The global's store, allocator, manager and REST write group, as the global wires them, at MOORING_DB_SYNC=full. */
async function writePathWithoutHttp(concurrency: number, seconds: number): Promise<InProcessRun> {
  const dataDir = makeTempDir("mooring-bench-write-path-");
  const { store, manager } = openGlobalStore(join(dataDir, "global.db"), "full");
  try {
    const writes = createRestWrites(store);
    const started = process.cpuUsage();
    const startedAt = performance.now();
    const run = await closedLoop(concurrency, WARMUP_MS, seconds, async (index) => {
      const name = `tp-${index}`;
      const { outcome } = await writes.run(() =>
        manager.putMeshService({ mesh: SEED_MESH, zone: "", name }, serviceBody(name)),
      );
      if (outcome !== "created") throw new Error(`${name} was ${outcome}, not created`);
    });
    const used = process.cpuUsage(started);
    return { ...run, serverCores: (used.user + used.system) / 1000 / (performance.now() - startedAt) };
  } finally {
    store.close();
    removeTempDir(dataDir);
  }
}

const PUT_PREFIX = `/bench/throughput/${SEED_MESH}/`;
const putKey = (index: number) => `${PUT_PREFIX}tp-${index}`;

async function withEtcd<T>(bin: string, fn: (etcd: EtcdServer) => Promise<T>): Promise<T> {
  const etcd = await startEtcd(bin);
  try {
    return await fn(etcd);
  } finally {
    await etcd.stop();
  }
}

/** Every put the lean client counted must be in etcd (it checks grpc-status itself; this checks the data). */
async function checkStored(etcd: EtcdServer, run: ClosedLoopResult): Promise<void> {
  const reader = createEtcdClient(etcd.address);
  try {
    const stored = await reader.getAll().prefix(PUT_PREFIX).count();
    if (stored < run.completed) {
      throw new Error(`the lean client counted ${run.completed} puts, etcd holds ${stored} keys`);
    }
  } finally {
    reader.close();
  }
}

async function measured(serverPid: number, load: () => Promise<ClosedLoopResult>): Promise<LoadRun> {
  const server = readCpuMs(serverPid);
  const client = process.cpuUsage();
  const started = performance.now();
  const run = await load();
  const elapsed = performance.now() - started;
  const clientUsage = process.cpuUsage(client);
  return {
    ...run,
    serverCores: (readCpuMs(serverPid) - server) / elapsed,
    clientCores: (clientUsage.user + clientUsage.system) / 1000 / elapsed,
  };
}

/** A fresh global with no zones; `concurrency` PUTs in flight, each creating a new service. */
async function mooringCreates(
  ctx: Context,
  concurrency: number,
  seconds: number,
  env: Record<string, string>,
): Promise<LoadRun> {
  const dataDir = makeTempDir("mooring-bench-global-");
  const label = env.MOORING_DB_SYNC === undefined ? "global-throughput" : `global-throughput-${env.MOORING_DB_SYNC}`;
  const global = await startGlobal(dataDir, ctx.profile(label), env);
  const rest = createRestClient(global.http, concurrency);
  try {
    return await measured(global.pid, () => restCreates(rest, concurrency, seconds));
  } finally {
    rest.close();
    await global.stop();
    removeTempDir(dataDir);
  }
}
