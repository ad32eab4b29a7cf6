// The etcd side of the benchmark: Debian's etcd (installed if missing), one member on loopback
// with a temporary data directory, and the etcd3 client (grpc-js) that the scenarios use.
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { Etcd3 } from "etcd3";
import { type Child, startChild } from "./child.js";
import { REPO_ROOT } from "./config.js";
import { makeTempDir, removeTempDir } from "./temp.js";

export interface EtcdServer {
  /** `127.0.0.1:<port>` of the client URL. */
  readonly address: string;
  readonly child: Child;
  /** The etcd binary it runs: a scenario that needs an empty etcd starts another from it. */
  readonly bin: string;
  stop(): Promise<void>;
}

function which(command: string): string | undefined {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  const path = found.stdout.trim();
  return found.status === 0 && path !== "" ? path : undefined;
}

/** `etcd` from Debian's packages (etcd-server, etcd-client), installed with apt-get when missing. */
export function ensureEtcd(log: (message: string) => void): { bin: string; version: string } {
  let bin = which("etcd");
  if (bin === undefined) {
    log("etcd is not installed; installing etcd-server and etcd-client with apt-get");
    const install = () =>
      spawnSync("apt-get", ["install", "-y", "etcd-server", "etcd-client"], {
        stdio: ["ignore", "ignore", "pipe"],
        encoding: "utf8",
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      });
    let result = install();
    if (result.status !== 0) {
      // A fresh image has no package lists yet.
      spawnSync("apt-get", ["update"], { stdio: "ignore" });
      result = install();
    }
    if (result.status !== 0) throw new Error(`apt-get install etcd-server etcd-client failed: ${result.stderr}`);
    bin = which("etcd");
    if (bin === undefined) throw new Error("etcd is still not on PATH after apt-get install etcd-server");
  }
  const output = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout;
  const version = /etcd Version:\s*(\S+)/.exec(output)?.[1] ?? "unknown";
  return { bin, version };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One etcd member on loopback, default settings otherwise (fsync on every commit, like Mooring's `full`). */
export async function startEtcd(bin: string): Promise<EtcdServer> {
  const dataDir = makeTempDir("mooring-bench-etcd-");
  const clientPort = await freePort();
  const peerPort = await freePort();
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const child = startChild({
    name: "etcd",
    command: bin,
    args: [
      "--name=bench",
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=bench=${peerUrl}`,
      "--logger=zap",
      "--log-level=warn",
    ],
    env: { ...process.env },
    cwd: REPO_ROOT,
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`${clientUrl}/health`);
      const body = (await response.json()) as { health?: string };
      if (response.status === 200 && body.health === "true") break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await child.kill9();
      throw new Error(`etcd did not become healthy within 30 s: ${child.describe()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    address: `127.0.0.1:${clientPort}`,
    child,
    bin,
    async stop() {
      await child.stop();
      removeTempDir(dataDir);
    },
  };
}

/** A client with its own connection; big ranges need more than grpc-js's default 4 MiB receive limit. */
export function createEtcdClient(address: string): Etcd3 {
  return new Etcd3({
    hosts: `http://${address}`,
    grpcOptions: { "grpc.max_receive_message_length": -1 },
  });
}

/** etcd refuses transactions of more than 128 operations by default (--max-txn-ops). */
const TXN_OPS = 128;

/** Writes `count` keys in transactions of 128 puts, a few in flight: set-up, not measured. */
export async function seedEtcd(
  client: Etcd3,
  count: number,
  keyOf: (i: number) => string,
  valueAt: (i: number) => string,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const start = next;
      next = Math.min(count, next + TXN_OPS);
      const success = [];
      for (let i = start; i < next; i++) {
        success.push({ request_put: { key: Buffer.from(keyOf(i)), value: Buffer.from(valueAt(i)) } });
      }
      await client.kv.txn({ success });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}
