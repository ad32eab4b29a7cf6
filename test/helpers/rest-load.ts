// A steady REST load on a global from a child process of its own, so that the latencies it measures
// do not include the test process's event loop (which may be busy running in-process zones). Open
// loop: a request is sent every 1/rate seconds whether or not earlier ones have answered, so a slow
// server shows up as latency instead of as fewer requests. The mix is GETs of list pages and PUTs
// (edits of existing services, which keep their VIPs, and creates of new ones).
import { spawn } from "node:child_process";
import { REPO_ROOT } from "./process.js";

export interface RestLoadOptions {
  /** The global's REST base, `http://127.0.0.1:<port>`. */
  readonly http: string;
  /** The admin token PUTs need. */
  readonly token: string | undefined;
  readonly ratePerSecond: number;
  /** The share of requests that are PUTs, in [0, 1]. */
  readonly putShare: number;
  /** Services `<prefix><i>` for i in [0, existing) exist: list offsets and edits pick among them. */
  readonly existing: number;
  readonly prefix: string;
  /** The child exits on its own after this long, should the test never stop it; default 10 minutes. */
  readonly maxDurationMs?: number;
}

export interface RestSample {
  /** When the request was sent (Date.now()). */
  readonly at: number;
  readonly ms: number;
  /** 0 when the request failed without an answer. */
  readonly status: number;
  readonly kind: "list" | "edit" | "create";
}

export interface RestLoad {
  /** Samples of the requests answered so far. */
  samples(): RestSample[];
  /** Stops sending, waits for the requests in flight, and returns every sample. */
  stop(): Promise<RestSample[]>;
}

// Plain JavaScript for `node --input-type=module -e`: no build step, nothing of the repo imported.
const SCRIPT = `
const options = JSON.parse(process.env.REST_LOAD);
const headers = options.token ? { authorization: "Bearer " + options.token } : {};
let created = 0;
let edits = 0;
let inFlight = 0;
let stopping = false;
const report = (sample) => process.stdout.write(JSON.stringify(sample) + "\\n");
async function once() {
  const roll = Math.random();
  const kind = roll >= options.putShare ? "list" : roll < options.putShare / 2 ? "edit" : "create";
  let url;
  let init = { headers };
  if (kind === "list") {
    const offset = Math.floor(Math.random() * options.existing);
    url = options.http + "/meshes/default/meshservices?offset=" + offset + "&size=100";
  } else {
    const name = kind === "edit" ? options.prefix + Math.floor(Math.random() * options.existing) : "load-" + process.pid + "-" + created++;
    const port = 10000 + (edits++ % 50000);
    url = options.http + "/meshes/default/meshservices/" + name;
    init = {
      method: "PUT",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ labels: { app: name, load: String(port) }, spec: { ports: [{ name: "http", port, appProtocol: "http" }] } }),
    };
  }
  const at = Date.now();
  const sentAt = performance.now();
  inFlight++;
  let status = 0;
  try {
    const response = await fetch(url, init);
    await response.arrayBuffer();
    status = response.status;
  } catch {}
  inFlight--;
  report({ at, ms: performance.now() - sentAt, status, kind });
  if (stopping && inFlight === 0) process.exit(0);
}
// Requests are due at a fixed rate from the start; a late timer sends every one that is due, so a
// busy machine does not quietly lower the rate.
const startedAt = performance.now();
let sent = 0;
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - startedAt) * options.ratePerSecond) / 1000);
  for (; sent < due; sent++) void once();
}, 5);
process.stdout.write(JSON.stringify({ msg: "started" }) + "\\n");
// An orphan (the test process gone) stops at its first write, or at the time limit.
process.stdout.on("error", () => process.exit(0));
setTimeout(() => process.exit(0), options.maxDurationMs ?? 600000).unref();
process.on("SIGTERM", () => {
  stopping = true;
  clearInterval(timer);
  if (inFlight === 0) process.exit(0);
  setTimeout(() => process.exit(0), 10000).unref();
});
`;

export async function startRestLoad(options: RestLoadOptions): Promise<RestLoad> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", SCRIPT], {
    cwd: REPO_ROOT,
    env: { ...process.env, REST_LOAD: JSON.stringify(options) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const samples: RestSample[] = [];
  let pending = "";
  let started: () => void = () => {};
  const running = new Promise<void>((resolve) => {
    started = resolve;
  });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    pending += chunk;
    for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
      const line = JSON.parse(pending.slice(0, newline)) as RestSample | { msg: string };
      pending = pending.slice(newline + 1);
      if ("msg" in line) started();
      else samples.push(line);
    }
  });
  await Promise.race([running, exited.then(() => Promise.reject(new Error("the REST load process exited at start")))]);
  return {
    samples: () => [...samples],
    async stop() {
      child.kill("SIGTERM");
      await exited;
      return [...samples];
    },
  };
}

/** p50, p99 and max of the latencies, in ms (0 for no samples). */
export function latencyOf(samples: readonly RestSample[]): { count: number; p50: number; p99: number; max: number } {
  const sorted = samples.map((sample) => sample.ms).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}
