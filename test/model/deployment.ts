// One global and one zone, both real and in this process, with the zone dialling the global through
// a fault-injecting TCP proxy. The sync model test drives it; nothing here decides what is right.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@mooring/shared";
import { loadZoneConfig, type RunningZone, type SessionMode, startZone } from "@mooring/zone";
import { startTestGlobal, type TestGlobal } from "../../global/src/sync/sync-harness.js";
import { requestJson } from "../helpers/http.js";
import { metric, type SyncStatus } from "../helpers/sync.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

export const ZONE = "zone-1";

/** A change log that keeps one entry: a zone that misses two revisions is behind the horizon. */
export const TIGHT_CHANGELOG = "1";
const LOOSE_CHANGELOG = "100000";

function globalEnv(tight: boolean): Record<string, string> {
  return {
    // Authentication is being added elsewhere and is not what this test is about.
    MOORING_AUTH: "off",
    MOORING_SYNC_HEARTBEAT: "200ms",
    MOORING_CHANGELOG_MAX_ENTRIES: tight ? TIGHT_CHANGELOG : LOOSE_CHANGELOG,
    MOORING_LOG_LEVEL: "silent",
    // The test reconnects on purpose, far more often than a real zone: the global's per-zone
    // reconnect rate limit would only slow it down.
    MOORING_SYNC_RECONNECT_BURST: "100000",
  };
}

/** A zone process's sessions, in the order their Welcomes arrived. */
interface ZoneRun {
  readonly zone: RunningZone;
  readonly http: string;
  readonly modes: SessionMode[];
}

export class Deployment {
  /** Every session's mode, over every zone process on this data dir, in order. */
  readonly sessions: SessionMode[] = [];
  /** The change log is tight (see TIGHT_CHANGELOG) in the running global. */
  tight = false;
  /** Global restarts whose close() was still hanging on a black-holed zone connection (see restartGlobal). */
  globalCloseHangs = 0;

  private constructor(
    readonly globalDir: string,
    readonly zoneDir: string,
    public global: TestGlobal,
    readonly proxy: TcpProxy,
    private zoneRun: ZoneRun | undefined,
  ) {}

  /** Starts a global on a fresh data dir and the proxy in front of its gRPC port; no zone yet. */
  static async start(): Promise<Deployment> {
    const globalDir = mkdtempSync(join(tmpdir(), "mooring-model-global-"));
    const zoneDir = mkdtempSync(join(tmpdir(), "mooring-model-zone-"));
    let global: TestGlobal | undefined;
    try {
      global = await startTestGlobal(globalEnv(false), globalDir);
      const proxy = await startTcpProxy(global.running.grpcAddress);
      return new Deployment(globalDir, zoneDir, global, proxy, undefined);
    } catch (error) {
      // No Deployment for the caller to close: what was started is stopped and removed here.
      await global?.close();
      rmSync(globalDir, { recursive: true, force: true });
      rmSync(zoneDir, { recursive: true, force: true });
      throw error;
    }
  }

  get globalHttp(): string {
    return this.global.http;
  }

  get zoneHttp(): string {
    if (!this.zoneRun) throw new Error("the zone is not running");
    return this.zoneRun.http;
  }

  /** Starts a zone process on the zone's data dir (fresh the first time), dialling the proxy. */
  async startZone(): Promise<void> {
    if (this.zoneRun) throw new Error("the zone is already running");
    const config = loadZoneConfig(
      [],
      {
        MOORING_AUTH: "off",
        MOORING_ZONE: ZONE,
        MOORING_GLOBAL: this.proxy.address,
        MOORING_DATA_DIR: this.zoneDir,
        MOORING_HTTP_ADDR: "127.0.0.1:0",
        MOORING_DB_SYNC: "normal",
        MOORING_RECONNECT_MIN: "10ms",
        MOORING_RECONNECT_MAX: "100ms",
        MOORING_LOG_LEVEL: "silent",
        MOORING_DNS_ADDR: "off",
      },
      "test",
    );
    const zone = await startZone(config, createLogger({ level: "silent", service: "zone" }));
    // startZone has only just started dialling: no Welcome can have arrived before this listener.
    const run: ZoneRun = { zone, http: `http://${zone.httpAddress}`, modes: [] };
    zone.client.on("connected", (event) => {
      run.modes.push(event.mode);
      this.sessions.push(event.mode);
    });
    this.zoneRun = run;
  }

  /**
   * Stops the zone process. Before that, checks that its GET /sync counts the sessions per mode that
   * it announced as Welcomes (one may arrive while the request is in flight).
   */
  async stopZone(): Promise<void> {
    const run = this.zoneRun;
    if (!run) return;
    const count = () => {
      const counted = { full: 0, incremental: 0, reconcile: 0 };
      for (const mode of run.modes) counted[mode] += 1;
      return counted;
    };
    const before = count();
    const reported = (await this.zoneSync()).sessions;
    const after = count();
    this.zoneRun = undefined;
    await run.zone.close();
    for (const mode of ["full", "incremental", "reconcile"] as const) {
      if (reported[mode] < before[mode] || reported[mode] > after[mode]) {
        throw new Error(
          `zone /sync counted sessions ${JSON.stringify(reported)}, its Welcomes ${JSON.stringify(before)} to ${JSON.stringify(after)}`,
        );
      }
    }
  }

  async restartZone(): Promise<void> {
    await this.stopZone();
    await this.startZone();
  }

  /**
   * Restarts the global on the same data dir; new connections go to its new gRPC port.
   *
   * `blackholed`: the proxy is black-holing. KNOWN BUG (reported, not fixed here): the global's
   * close() never finishes while a zone connection is black-holed — grpc-js's tryShutdown waits for
   * the half-open socket and the 5 s forceShutdown does not release it. Unless
   * MOORING_MODEL_NO_WORKAROUNDS=1, the global's side of those connections is reset after 300 ms
   * (the zone's side stays silent, as if the close was lost in the partition).
   */
  async restartGlobal(tight: boolean, blackholed = false): Promise<void> {
    let closed = false;
    const closing = this.global.running.close().then(() => {
      closed = true;
    });
    if (blackholed && process.env.MOORING_MODEL_NO_WORKAROUNDS !== "1") {
      await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 300))]);
      if (!closed) this.globalCloseHangs += 1;
      this.proxy.cutTargets();
    }
    await closing;
    this.global = await this.global.restart(globalEnv(tight));
    this.tight = tight;
    this.proxy.setTarget(this.global.running.grpcAddress);
  }

  /** The zone's GET /sync. */
  async zoneSync(): Promise<ZoneSyncJson> {
    const response = await requestJson<ZoneSyncJson>("GET", `${this.zoneHttp}/sync`);
    if (response.status !== 200) throw new Error(`GET /sync answered ${response.status}`);
    return response.body;
  }

  async headRevision(): Promise<number> {
    return metric(this.globalHttp, "mooring_global_head_revision");
  }

  /** The global's record of this zone (GET /zones/{name}). */
  async zoneOnGlobal(): Promise<GlobalZoneJson> {
    const response = await requestJson<GlobalZoneJson>("GET", `${this.globalHttp}/zones/${ZONE}`);
    if (response.status !== 200) throw new Error(`GET /zones/${ZONE} answered ${response.status}`);
    return response.body;
  }

  async close(): Promise<void> {
    try {
      // The proxy first: a black-holed connection would keep the global from closing (see restartGlobal).
      await this.proxy.close();
      await this.zoneRun?.zone.close();
      this.zoneRun = undefined;
      await this.global.close();
    } finally {
      rmSync(this.globalDir, { recursive: true, force: true });
      rmSync(this.zoneDir, { recursive: true, force: true });
    }
  }
}

export interface ZoneSyncJson extends SyncStatus {
  readonly lastError: string | null;
  readonly upstream: { readonly pending: number; readonly acked: number };
}

export interface GlobalZoneJson {
  readonly name: string;
  readonly online: boolean;
  readonly ackedRevision: number;
  readonly lag: number;
  readonly mode: SessionMode | null;
  readonly sessions: Record<SessionMode, number>;
  readonly upstreamWatermark: number;
}
