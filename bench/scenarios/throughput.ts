// Write throughput at a fixed concurrency. Mooring: REST PUTs that each create a new service (a VIP
// leased and the service stored in one durable transaction) on a fresh global with no zones, at the
// default MOORING_DB_SYNC=full and, for comparison, at `normal`. etcd: puts of new keys with
// MeshService-sized values into an etcd of its own, started empty (etcd fsyncs every commit,
// batching concurrent puts into one).
// One second of warm-up is not counted.
import { type Context, meshServiceValue } from "../context.js";
import { createEtcdClient, startEtcd } from "../etcd.js";
import { createRestClient, SEED_MESH, serviceBody, startGlobal } from "../mooring.js";
import { type ClosedLoopResult, closedLoop } from "../pool.js";
import { makeTempDir, removeTempDir } from "../temp.js";

export interface ThroughputResult {
  readonly concurrency: number;
  readonly seconds: number;
  mooring?: ClosedLoopResult;
  /** The same with MOORING_DB_SYNC=normal (WAL, no fsync per commit; survives a process crash). */
  mooringDbSyncNormal?: ClosedLoopResult;
  etcd?: ClosedLoopResult;
}

const WARMUP_MS = 1000;

export async function runThroughput(ctx: Context): Promise<ThroughputResult> {
  const { concurrency, seconds } = ctx.options.profile.throughput;
  const result: ThroughputResult = { concurrency, seconds };

  result.mooring = await mooringCreates(ctx, concurrency, seconds, {});
  ctx.log(`  mooring: ${result.mooring.perSecond.toFixed(0)} creates/s (${result.mooring.failed} failed)`);
  result.mooringDbSyncNormal = await mooringCreates(ctx, concurrency, seconds, { MOORING_DB_SYNC: "normal" });
  ctx.log(
    `  mooring, MOORING_DB_SYNC=normal: ${result.mooringDbSyncNormal.perSecond.toFixed(0)} creates/s (${result.mooringDbSyncNormal.failed} failed)`,
  );

  if (ctx.etcd !== undefined) {
    // A new, empty etcd, as each Mooring run gets a new global: the shared one holds the other
    // scenarios' keys and their history by now, which slows its puts.
    const etcd = await startEtcd(ctx.etcd.bin);
    const client = createEtcdClient(etcd.address);
    try {
      result.etcd = await closedLoop(concurrency, WARMUP_MS, seconds, async (index) => {
        await client.put(`/bench/throughput/${SEED_MESH}/tp-${index}`).value(meshServiceValue(`tp-${index}`, index));
      });
      ctx.log(`  etcd: ${result.etcd.perSecond.toFixed(0)} puts/s (${result.etcd.failed} failed)`);
    } finally {
      client.close();
      await etcd.stop();
    }
  }
  return result;
}

/** A fresh global with no zones; `concurrency` PUTs in flight, each creating a new service. */
async function mooringCreates(
  ctx: Context,
  concurrency: number,
  seconds: number,
  env: Record<string, string>,
): Promise<ClosedLoopResult> {
  const dataDir = makeTempDir("mooring-bench-global-");
  const label = env.MOORING_DB_SYNC === undefined ? "global-throughput" : `global-throughput-${env.MOORING_DB_SYNC}`;
  const global = await startGlobal(dataDir, ctx.profile(label), env);
  const rest = createRestClient(global.http, concurrency);
  try {
    return await closedLoop(concurrency, WARMUP_MS, seconds, async (index) => {
      const name = `tp-${index}`;
      const response = await rest.put(`/meshes/${SEED_MESH}/meshservices/${name}`, serviceBody(name));
      if (response.status !== 201) throw new Error(`PUT ${name} answered ${response.status}: ${response.body}`);
    });
  } finally {
    rest.close();
    await global.stop();
    removeTempDir(dataDir);
  }
}
