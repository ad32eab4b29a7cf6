// Reading a deployment's sync state for end-to-end tests: the services each side knows (with VIPs),
// a zone's /sync, Prometheus counters, and waiting until a condition holds.
import { listAll, requestJson } from "./http.js";

export interface ServiceState {
  readonly contentHash: string;
  readonly vips: string;
}

interface Listed {
  readonly mesh: string;
  readonly zone?: string;
  readonly name: string;
  readonly contentHash: string;
  readonly status: { vips: Array<{ ip: string }> };
}

/** Every MeshService of a mesh as `zone/name -> {contentHash, vips}` ("" zone for global-owned). */
export async function servicesOf(http: string, mesh = "default"): Promise<Map<string, ServiceState>> {
  const { items } = await listAll<Listed>(http, `/meshes/${mesh}/meshservices`);
  return new Map(
    items.map((item) => [
      `${item.zone ?? ""}/${item.name}`,
      { contentHash: item.contentHash, vips: item.status.vips.map((vip) => vip.ip).join(",") },
    ]),
  );
}

export interface SyncStatus {
  readonly state: string;
  readonly mode: "full" | "incremental" | "reconcile" | null;
  readonly globalEpoch: string | null;
  readonly appliedRevision: number;
  readonly sessions: { full: number; incremental: number; reconcile: number };
  readonly connectedAt: string | null;
}

export async function syncOf(zoneHttp: string): Promise<SyncStatus> {
  const response = await requestJson<SyncStatus>("GET", `${zoneHttp}/sync`);
  if (response.status !== 200) throw new Error(`GET /sync answered ${response.status}`);
  return response.body;
}

/** The value of one Prometheus sample (0 when the series does not exist yet). */
export async function metric(http: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort();
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? "").split(",").filter((part) => part !== "");
    if (wanted.every((label) => have.includes(label)) && have.length === wanted.length) return Number(match[3]);
  }
  return 0;
}

/** Polls `check` until it returns true; fails with `describe()` after `timeoutMs`. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  describe: () => Promise<string> | string,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // The process may be between restarts: keep polling until the deadline.
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${await describe()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Keys whose state differs between two views (missing on one side included). */
export function differences(a: Map<string, ServiceState>, b: Map<string, ServiceState>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((key) => {
    const x = a.get(key);
    const y = b.get(key);
    return !x || !y || x.contentHash !== y.contentHash || x.vips !== y.vips;
  });
}

/** Waits until the zone's view equals the global's; returns how long that took. */
export async function converged(globalHttp: string, zoneHttp: string, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  let last: string[] = [];
  await waitUntil(
    async () => {
      const [g, z] = await Promise.all([servicesOf(globalHttp), servicesOf(zoneHttp)]);
      last = differences(g, z);
      return last.length === 0;
    },
    () => `${last.length} services differ, e.g. ${last.slice(0, 5).join(", ")}`,
    timeoutMs,
    100,
  );
  return Date.now() - started;
}
