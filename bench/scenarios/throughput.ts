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
import { readCpuMs } from "../child.js";
import { type Context, meshServiceValue } from "../context.js";
import { createEtcdClient, type EtcdServer, startEtcd } from "../etcd.js";
import { createLeanEtcdClient } from "../etcd-lean.js";
import { createRestClient, SEED_MESH, serviceBody, startGlobal } from "../mooring.js";
import { type ClosedLoopResult, closedLoop } from "../pool.js";
import { makeTempDir, removeTempDir } from "../temp.js";

/** A closed-loop run and the CPU spent meanwhile, in cores (1 = one core busy the whole run). */
export interface LoadRun extends ClosedLoopResult {
  readonly serverCores: number;
  readonly clientCores: number;
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
  return result;
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
    return await measured(global.pid, () =>
      closedLoop(concurrency, WARMUP_MS, seconds, async (index) => {
        const name = `tp-${index}`;
        const response = await rest.put(`/meshes/${SEED_MESH}/meshservices/${name}`, serviceBody(name));
        if (response.status !== 201) throw new Error(`PUT ${name} answered ${response.status}: ${response.body}`);
      }),
    );
  } finally {
    rest.close();
    await global.stop();
    removeTempDir(dataDir);
  }
}
