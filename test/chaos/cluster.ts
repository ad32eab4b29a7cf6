// The chaos deployment: a real `mooring-global` and three real `mooring-zone` processes, each zone
// dialling the global through a TCP proxy of its own. It knows how to break things (kill -9, cut,
// black-hole, refuse, delay) and how to put them back; it decides nothing about what is right.
import { type ExitStatus, type GlobalProcess, makeTempDir, startGlobalProcess } from "../helpers/global-process.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { startZoneProcess, type ZoneProcess } from "../helpers/zone-process.js";

export const ZONES = ["zone-1", "zone-2", "zone-3"] as const;
export type ZoneName = (typeof ZONES)[number];

/** Three silent heartbeats (900 ms) mark a zone offline, so black-holes time out quickly. */
export const HEARTBEAT_MS = 300;
const GLOBAL_ENV = { MOORING_SYNC_HEARTBEAT: `${HEARTBEAT_MS}ms`, MOORING_DB_SYNC: "normal" };
const ZONE_ENV = { MOORING_RECONNECT_MIN: "10ms", MOORING_RECONNECT_MAX: "200ms", MOORING_DB_SYNC: "normal" };

export type LinkMode = "pass" | "blackhole" | "refuse";

export interface ZoneSlot {
  readonly name: ZoneName;
  readonly proxy: TcpProxy;
  readonly dataDir: string;
  readonly token: string;
  /** Undefined while killed. */
  process: ZoneProcess | undefined;
  mode: LinkMode;
  delayMs: number;
  /** When the link was black-holed (Date.now()), while it is. */
  blackholedAt: number | undefined;
}

export class Cluster {
  private constructor(
    readonly globalDir: string,
    private globalProcess: GlobalProcess | undefined,
    readonly zones: ReadonlyMap<ZoneName, ZoneSlot>,
  ) {}

  static async start(): Promise<Cluster> {
    const globalDir = await makeTempDir("mooring-chaos-global-");
    const global = await startGlobalProcess({ dataDir: globalDir, env: GLOBAL_ENV });
    const zones = new Map<ZoneName, ZoneSlot>();
    for (const name of ZONES) {
      const slot: ZoneSlot = {
        name,
        proxy: await startTcpProxy(global.grpc),
        dataDir: await makeTempDir(`mooring-chaos-${name}-`),
        // Zone tokens live in the global's database: they outlast its restarts on the same data dir.
        token: await global.zoneToken(name, "24h"),
        process: undefined,
        mode: "pass",
        delayMs: 0,
        blackholedAt: undefined,
      };
      zones.set(name, slot);
    }
    const cluster = new Cluster(globalDir, global, zones);
    await Promise.all(ZONES.map((name) => cluster.startZone(name)));
    return cluster;
  }

  get global(): GlobalProcess | undefined {
    return this.globalProcess;
  }

  zone(name: ZoneName): ZoneSlot {
    const slot = this.zones.get(name);
    if (!slot) throw new Error(`no zone ${name}`);
    return slot;
  }

  /** Zones whose process is running. */
  liveZones(): ZoneSlot[] {
    return [...this.zones.values()].filter((slot) => slot.process !== undefined);
  }

  /** kill -9, or (graceful) SIGTERM and wait for the exit, which must be a clean one. */
  async killGlobal(graceful = false): Promise<void> {
    const global = this.globalProcess;
    if (!global) return;
    this.globalProcess = undefined;
    if (!graceful) await global.kill9();
    else await expectCleanExit("the global", global, await global.stop(20_000));
  }

  /** Restarts the global on its data dir and points every proxy's new connections at it. */
  async startGlobal(): Promise<GlobalProcess> {
    if (this.globalProcess) throw new Error("the global is already running");
    const global = await startGlobalProcess({ dataDir: this.globalDir, env: GLOBAL_ENV });
    this.globalProcess = global;
    for (const slot of this.zones.values()) slot.proxy.setTarget(global.grpc);
    return global;
  }

  async killZone(name: ZoneName, graceful = false): Promise<void> {
    const slot = this.zone(name);
    const running = slot.process;
    if (!running) return;
    slot.process = undefined;
    if (!graceful) await running.kill9();
    else await expectCleanExit(name, running, await running.stop(20_000));
  }

  async startZone(name: ZoneName): Promise<ZoneProcess> {
    const slot = this.zone(name);
    if (slot.process) throw new Error(`${name} is already running`);
    slot.process = await startZoneProcess({
      zone: name,
      global: slot.proxy.address,
      dataDir: slot.dataDir,
      token: slot.token,
      env: ZONE_ENV,
    });
    return slot.process;
  }

  setMode(name: ZoneName, mode: LinkMode): void {
    const slot = this.zone(name);
    slot.proxy.setMode(mode);
    slot.mode = mode;
    if (mode !== "blackhole") slot.blackholedAt = undefined;
    else slot.blackholedAt ??= Date.now();
  }

  setDelay(name: ZoneName, ms: number): void {
    const slot = this.zone(name);
    slot.proxy.setDelay(ms);
    slot.delayMs = ms;
  }

  /** A zone is cut off from the global: its link is not passing, or the global is down. */
  isDisconnected(name: ZoneName): boolean {
    return this.globalProcess === undefined || this.zone(name).mode !== "pass";
  }

  /** Processes that exited although nobody killed them (a zone told to stop for good, a crash). */
  unexpectedExits(): string[] {
    const exited: string[] = [];
    const describe = (what: string, p: GlobalProcess | ZoneProcess) =>
      `${what} (pid ${p.child.pid}) exited with code ${p.child.exitCode}, signal ${p.child.signalCode}:\n${p.stdout().slice(-3000)}\n${p.stderr().slice(-2000)}`;
    const global = this.globalProcess;
    if (global && (global.child.exitCode !== null || global.child.signalCode !== null)) {
      exited.push(describe("the global", global));
    }
    for (const slot of this.zones.values()) {
      const p = slot.process;
      if (p && (p.child.exitCode !== null || p.child.signalCode !== null)) exited.push(describe(slot.name, p));
    }
    return exited;
  }

  async close(): Promise<void> {
    await Promise.all([...this.zones.keys()].map((name) => this.killZone(name)));
    await this.killGlobal();
    for (const slot of this.zones.values()) await slot.proxy.close();
  }
}

async function expectCleanExit(what: string, process: GlobalProcess | ZoneProcess, status: ExitStatus): Promise<void> {
  if (status.code !== 0) {
    throw new Error(
      `${what} exited with code ${status.code}, signal ${status.signal} after SIGTERM:\n${process.stdout().slice(-3000)}\n${process.stderr().slice(-2000)}`,
    );
  }
}
