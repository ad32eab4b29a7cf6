// docker-compose.yml run without Docker: every service started as a local process exactly as the
// file defines it (its command or entrypoint, its environment over the Dockerfile's ENV), in
// depends_on order, each condition waited for the way Compose would (the Dockerfile's HEALTHCHECK
// command until it passes; a job's exit status 0). What a container would provide is mapped:
// - each named volume is a temp dir, shared by every service that mounts it, and container paths
//   under a mount (in the environment and in `sh -c` scripts) point into it;
// - the bins on the image's PATH are shims running this checkout's bins;
// - service hostnames are 127.0.0.1, and only address values are rewritten: a listen address
//   (MOORING_*_ADDR) becomes 127.0.0.1:0, and `global:5685` the port the global actually bound.
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { authorize, putMeshService } from "../helpers/http.js";
import {
  killProcesses,
  makeTempDir,
  REPO_ROOT,
  removeTempDirs,
  runCommand,
  type ServiceProcess,
  startServiceProcess,
} from "../helpers/process.js";
import { syncOf, waitUntil } from "../helpers/sync.js";
import {
  argvOf,
  type ComposeFile,
  type ComposeService,
  healthcheckCommand,
  imageEnv,
  isJob,
  type Mount,
  packageBins,
  parseMount,
  portOf,
  readCompose,
  readDockerfile,
  scriptOf,
} from "./compose-file.js";

const compose = readCompose();
const runtime = readDockerfile().stages.at(-1) ?? [];
const HEALTHCHECK = healthcheckCommand(runtime);
const NAME = "compose-service";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The services of `profiles` (and those without one), dependencies before dependents. */
function startOrder(file: ComposeFile, profiles: readonly string[]): string[] {
  const enabled = (service: ComposeService) => !service.profiles || service.profiles.some((p) => profiles.includes(p));
  const order: string[] = [];
  const visit = (name: string) => {
    if (order.includes(name)) return;
    const service = file.services[name];
    if (!service || !enabled(service)) throw new Error(`${name} is not enabled with profiles [${profiles}]`);
    for (const dependency of Object.keys(service.depends_on ?? {})) visit(dependency);
    order.push(name);
  };
  for (const [name, service] of Object.entries(file.services)) if (enabled(service)) visit(name);
  return order;
}

interface Running {
  readonly env: NodeJS.ProcessEnv;
  readonly process?: ServiceProcess;
  readonly exit?: { code: number | null; stdout: string; stderr: string };
}

/** A compose project brought up as local processes. */
function createDeployment() {
  const volumes = new Map<string, string>();
  /** `service:containerPort` -> the `127.0.0.1:port` its process bound. */
  const endpoints = new Map<string, string>();
  const running = new Map<string, Running>();
  let shims: string | undefined;

  async function volumeDir(volume: string): Promise<string> {
    let dir = volumes.get(volume);
    if (dir === undefined) {
      dir = await makeTempDir(`mooring-compose-${volume}-`);
      volumes.set(volume, dir);
    }
    return dir;
  }

  /** A directory of executables named like the image's bins, running this checkout's. */
  async function shimDir(): Promise<string> {
    if (shims) return shims;
    const dir = await makeTempDir("mooring-compose-bin-");
    for (const [name, path] of packageBins()) {
      const shim = join(dir, name);
      await writeFile(shim, `#!/bin/sh\nexec "${process.execPath}" "${join(REPO_ROOT, path)}" "$@"\n`);
      await chmod(shim, 0o755);
    }
    shims = dir;
    return dir;
  }

  async function mapPaths(text: string, mounts: readonly Mount[]): Promise<string> {
    let mapped = text;
    for (const mount of [...mounts].sort((a, b) => b.target.length - a.target.length)) {
      const dir = await volumeDir(mount.volume);
      mapped = mapped.replace(new RegExp(`(^|\\s)${escapeRegExp(mount.target)}(?=/|\\s|$)`, "g"), `$1${dir}`);
    }
    return mapped;
  }

  /** `global:5685` or `http://global:5681` -> the address the global's process bound for that port. */
  function mapDial(value: string): string {
    const match = /^([a-z]+:\/\/)?([a-z0-9-]+):(\d+)(\/.*)?$/.exec(value);
    if (!match?.[2] || !compose.services[match[2]]) return value;
    const bound = endpoints.get(`${match[2]}:${match[3]}`);
    if (!bound) throw new Error(`${value}: ${match[2]} does not listen on container port ${match[3]}`);
    return `${match[1] ?? ""}${bound}${match[4] ?? ""}`;
  }

  async function environmentOf(
    service: ComposeService,
  ): Promise<{ env: NodeJS.ProcessEnv; listen: Map<string, number> }> {
    const mounts = (service.volumes ?? []).map(parseMount);
    const listen = new Map<string, number>();
    const env: NodeJS.ProcessEnv = {};
    // The test runner's own MOORING_* settings must not leak in.
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("MOORING_")) env[key] = value;
    for (const [key, value] of Object.entries({ ...imageEnv(runtime), ...service.environment })) {
      if (key.startsWith("MOORING_") && key.endsWith("_ADDR") && value !== "off") {
        listen.set(key, portOf(value));
        env[key] = "127.0.0.1:0";
        continue;
      }
      const mapped = await mapPaths(mapDial(value), mounts);
      if (mapped.startsWith("/") && ![...volumes.values()].some((dir) => mapped.startsWith(dir))) {
        throw new Error(`${key}=${value} names a container path outside the service's volumes`);
      }
      env[key] = mapped;
    }
    return { env, listen };
  }

  /** Runs the Dockerfile's HEALTHCHECK command for a started service: its exit status. */
  async function healthcheck(name: string): Promise<number | null> {
    const started = running.get(name);
    const http = started?.process?.ready.http;
    if (!started || typeof http !== "string") throw new Error(`${name} is not a started control plane`);
    const [command, ...args] = HEALTHCHECK;
    if (command !== "node") throw new Error(`the HEALTHCHECK runs ${command}, not node`);
    // The service's environment, with the address it bound instead of port 0.
    const env = { ...started.env, MOORING_HTTP_ADDR: http };
    return (await runCommand(process.execPath, args, { env, name: NAME, timeoutMs: 10_000 })).code;
  }

  async function waitFor(dependent: string, service: ComposeService): Promise<void> {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      if (condition === "service_healthy") {
        await waitUntil(
          async () => (await healthcheck(dependency)) === 0,
          () => `${dependent}: ${dependency} never became healthy`,
          30_000,
          200,
        );
      } else if (condition === "service_completed_successfully") {
        const exit = running.get(dependency)?.exit;
        if (exit?.code !== 0) throw new Error(`${dependent}: ${dependency} did not complete: ${JSON.stringify(exit)}`);
      } else {
        throw new Error(`${dependent}: condition ${condition} is not simulated`);
      }
    }
  }

  async function start(name: string): Promise<void> {
    const service = compose.services[name];
    if (!service) throw new Error(`no service ${name}`);
    await waitFor(name, service);
    const { env, listen } = await environmentOf(service);
    const script = scriptOf(service);
    if (isJob(service)) {
      if (script === undefined) throw new Error(`${name}: a job is expected to be a sh -c script`);
      const mapped = await mapPaths(script, (service.volumes ?? []).map(parseMount));
      const jobEnv = { ...env, PATH: `${await shimDir()}:${process.env.PATH ?? ""}` };
      const exit = await runCommand("sh", ["-c", mapped], { env: jobEnv, name: NAME, timeoutMs: 90_000 });
      running.set(name, { env: jobEnv, exit });
      return;
    }
    const [bin, ...args] = argvOf(service);
    const path = bin === undefined ? undefined : packageBins().get(bin);
    if (!path) throw new Error(`${name} runs ${bin}, not a bin of the workspace`);
    const dataDir = env.MOORING_DATA_DIR ?? "";
    const started = await startServiceProcess({ name: NAME, bin: join(REPO_ROOT, path), env, args, dataDir });
    for (const [key, containerPort] of listen) {
      const logged = started.ready[key.slice("MOORING_".length, -"_ADDR".length).toLowerCase()];
      if (typeof logged !== "string") throw new Error(`${name} did not log the address of ${key}`);
      endpoints.set(`${name}:${containerPort}`, logged);
    }
    running.set(name, { env, process: started });
  }

  return {
    volumes,
    running,
    healthcheck,
    /** `docker compose [--profile P] up`: starts what is not running yet, in order. */
    async up(profiles: readonly string[] = []): Promise<string[]> {
      const started: string[] = [];
      for (const name of startOrder(compose, profiles)) {
        if (running.has(name)) continue;
        await start(name);
        started.push(name);
      }
      return started;
    },
    http(name: string): string {
      const http = running.get(name)?.process?.ready.http;
      if (typeof http !== "string") throw new Error(`${name} has no REST address`);
      return `http://${http}`;
    },
  };
}

afterAll(async () => {
  await killProcesses(NAME);
  await removeTempDirs();
});

interface Listed {
  readonly items: Array<{
    readonly name: string;
    readonly zone?: string;
    readonly status: { vips: Array<{ ip: string }> };
  }>;
}

async function vipsOn(http: string, name: string): Promise<string[] | undefined> {
  const list = (await (await fetch(`${http}/meshes/default/meshservices`)).json()) as Listed;
  return list.items.find((item) => item.name === name && item.zone === undefined)?.status.vips.map((vip) => vip.ip);
}

describe("docker-compose.yml, run as local processes", () => {
  it("brings up the global, a token job and zone-1, which syncs; the zone-2 profile adds a second zone", async () => {
    const deployment = createDeployment();
    expect(await deployment.up()).toEqual(["global", "zone-1-token", "zone-1"]);

    // The job printed nothing but wrote the token into the zone's volume, through the rename.
    const job = deployment.running.get("zone-1-token")?.exit;
    expect([job?.code, job?.stdout, job?.stderr]).toEqual([0, "", ""]);
    const zone1Data = deployment.volumes.get("zone-1-data") ?? "";
    expect((await readFile(join(zone1Data, "zone-token"), "utf8")).trim()).toMatch(/^\S{20,}$/);

    const zone1 = deployment.http("zone-1");
    await waitUntil(
      async () => (await syncOf(zone1)).state === "synced",
      async () => `zone-1 /sync: ${JSON.stringify(await syncOf(zone1))}`,
    );
    expect((await syncOf(zone1)).sessions).toEqual({ full: 1, incremental: 0, reconcile: 0 });

    // A service written on the global with the admin token from the global's volume reaches the zone.
    const global = deployment.http("global");
    const adminToken = (
      await readFile(join(deployment.volumes.get("global-data") ?? "", "admin-token"), "utf8")
    ).trim();
    authorize(global, adminToken);
    const put = await putMeshService(global, "default", "web", { spec: { ports: [{ port: 80 }] } });
    expect(put.status).toBe(201);
    const vips = put.body.status.vips.map((vip) => vip.ip);
    expect(vips).toHaveLength(1);
    await waitUntil(
      async () => JSON.stringify(await vipsOn(zone1, "web")) === JSON.stringify(vips),
      async () => `zone-1 has web with ${JSON.stringify(await vipsOn(zone1, "web"))}, want ${JSON.stringify(vips)}`,
    );

    // `docker compose --profile zone-2 up` starts only what the profile adds.
    expect(await deployment.up(["zone-2"])).toEqual(["zone-2-token", "zone-2"]);
    const zone2 = deployment.http("zone-2");
    await waitUntil(
      async () => (await syncOf(zone2)).state === "synced",
      async () => `zone-2 /sync: ${JSON.stringify(await syncOf(zone2))}`,
    );
    expect(await vipsOn(zone2, "web")).toEqual(vips);

    // The healthcheck passes on a zone, and fails once the process is gone.
    expect(await deployment.healthcheck("zone-2")).toBe(0);
    await deployment.running.get("zone-2")?.process?.stop();
    expect(await deployment.healthcheck("zone-2")).toBe(1);
  }, 180_000);
});
