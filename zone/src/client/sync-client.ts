// The zone's connection to the global: one reconnect loop with exactly one attempt in flight, a
// jittered capped backoff reset once a session has synced, and typed status events. Each attempt
// gets its own gRPC channel, so a stream declared dead (heartbeat silence) never reuses the
// connection that went silent.
import { createClient, type MessageSizes, ZoneSyncService } from "@mooring/proto";
import { createBackoff, formatAddress } from "@mooring/shared";
import type { Logger } from "pino";
import type { ZoneConfig } from "../config.js";

import type { SyncState, ZoneMetrics } from "../metrics.js";
import type { ZoneStore } from "../store/zone-store.js";
import { type Applier, type ChangesListener, createApplier } from "../sync/apply.js";
import { SESSION_MODES, type SessionMode } from "../sync/mode.js";
import { decodeSyncFrame } from "../sync/rows-decoder.js";
import { VERSION } from "../version.js";
import { channelSecurity, type ZoneCredentialSettings, zoneToken } from "./credentials.js";
import { createEmitter, type SyncEventEmitter, type SyncEvents } from "./events.js";
import { classifyStreamEnd, statusName } from "./retry.js";
import { type Session, startSession } from "./session.js";

/**
 * The receive window of the sync channel's HTTP/2 connection and stream, in bytes. With the default
 * (64 KiB) the global stalls every 64 KiB of a snapshot until the zone's event loop, busy applying,
 * sends a window update: the global's sending phase of a first sync of 100,000 services took ~25%
 * longer. A snapshot frame or so in flight is enough (256 KiB to 4 MiB measured within noise of each
 * other); a larger window only lets more bytes pile up in front of a slow zone.
 */
const FLOW_CONTROL_WINDOW = 256 * 1024;

export interface SyncClientOptions {
  /** The connection settings; the credentials (token, TLS) are absent when none are used. */
  readonly config: Pick<ZoneConfig, "global" | "reconnectMin" | "reconnectMax" | "syncMaxMessage"> &
    Partial<ZoneCredentialSettings>;
  readonly store: ZoneStore;
  readonly logger: Logger;
  readonly metrics: ZoneMetrics;
  /** A UUID per zone process: tells the global a second process from a reconnect of this one. */
  readonly instanceId: string;
  /** Where received changes are applied; one is made over `store` if not given. */
  readonly applier?: Applier;
  readonly version?: string;
  /** The backoff's jitter source, in [0, 1); tests make it deterministic. Default Math.random. */
  readonly random?: () => number;
  /** How long the global has to answer a Hello; default 15 s. */
  readonly helloTimeoutMs?: number;
  /** How long close() waits for the global to end the stream after the Goodbye; default 2 s. */
  readonly closeGraceMs?: number;
}

/** What `GET /sync` reports. */
export interface SyncStatus {
  readonly state: SyncState;
  readonly mode: SessionMode | null;
  readonly globalEpoch: string | null;
  readonly appliedRevision: number;
  readonly sessions: Readonly<Record<SessionMode, number>>;
  readonly connectedAt: string | null;
  readonly lastError: string | null;
  readonly upstream: { readonly pending: number; readonly acked: number };
  readonly instanceId: string;
  readonly storeId: string;
}

export interface SyncClient extends SyncEventEmitter {
  /** Starts the loop; it runs until close() or a final Goodbye. */
  start(): void;
  /** Says Goodbye (not final) to the global, ends the stream and stops the loop. */
  close(): Promise<void>;
  /** The outbox has new writes: send them now if a session is up. */
  nudge(): void;
  status(): SyncStatus;
  /** Subscribes to the diffs of every committed batch. */
  onChanges(listener: ChangesListener): () => void;
}

export function createSyncClient(options: SyncClientOptions): SyncClient {
  const { config, store, metrics, instanceId } = options;
  const log = options.logger.child({ component: "sync" });
  const applier = options.applier ?? createApplier(store, options.logger);
  const address = formatAddress(config.global);
  const security = channelSecurity(config);
  const messageSizes: MessageSizes = {
    request: (bytes) => metrics.bytesSent.inc(bytes),
    response: (bytes) => metrics.bytesReceived.inc(bytes),
  };
  const backoff = createBackoff({
    initialMs: config.reconnectMin,
    maxMs: config.reconnectMax,
    ...(options.random ? { random: options.random } : {}),
  });
  const events = createEmitter((error, name) => log.error({ err: error, event: name }, "a sync event listener threw"));

  let state: SyncState = "disconnected";
  let mode: SessionMode | null = null;
  let globalEpoch: string | null = null;
  let connectedAt: string | null = null;
  let lastError: string | null = null;
  const sessions = Object.fromEntries(SESSION_MODES.map((each) => [each, 0])) as Record<SessionMode, number>;

  let started = false;
  let stopping = false;
  let loop: Promise<void> = Promise.resolve();
  let session: Session | undefined;
  let wake: (() => void) | undefined;
  let attempt = 0;
  // Set after an OUT_OF_RANGE refusal; cleared once a session has synced.
  let reconcile = false;

  function setState(next: SyncState): void {
    state = next;
    metrics.setSyncState(next);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(handle);
        resolve();
      };
    });
  }

  async function run(): Promise<{ reason: string; final: boolean }> {
    while (!stopping) {
      attempt += 1;
      setState("connecting");
      log.debug({ attempt, global: address, reconcile }, "connecting");
      events.emit("connecting", { attempt });
      const client = createClient(
        ZoneSyncService,
        address,
        security.credentials,
        {
          ...security.options,
          "grpc.max_receive_message_length": config.syncMaxMessage,
          "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW,
          // A channel of its own per attempt (see the file comment), not one from grpc-js's shared pool.
          "grpc.use_local_subchannel_pool": 1,
          "grpc.enable_channelz": 0,
        },
        messageSizes,
        decodeSyncFrame,
      );
      const current = startSession({
        client,
        store,
        applier,
        metrics,
        logger: log,
        instanceId,
        token: zoneToken(config, (error) =>
          log.error(
            { err: error, file: config.zoneTokenFile },
            "cannot read the zone token file; connecting without a token",
          ),
        ),
        version: options.version ?? VERSION,
        reconcile,
        maxMessageBytes: config.syncMaxMessage,
        helloTimeoutMs: options.helloTimeoutMs ?? 15_000,
        onConnected(event) {
          mode = event.mode;
          globalEpoch = event.globalEpoch;
          connectedAt = new Date().toISOString();
          sessions[event.mode] += 1;
          setState("syncing");
          events.emit("connected", event);
        },
        onSynced(event) {
          reconcile = false;
          setState("synced");
          events.emit("synced", event);
        },
      });
      session = current;
      const end = await current.done;
      session = undefined;
      client.close();
      connectedAt = null;
      if (end.initialSynced) {
        backoff.reset();
        attempt = 0;
      }

      const code = statusName(end.code);
      const decision = classifyStreamEnd(end);
      metrics.disconnects.inc({ code });
      if (!stopping) lastError = `${code}: ${end.reason}`;
      const fields = { code, reason: end.reason, ...(end.goodbye ? { goodbye: end.goodbye } : {}) };
      log[stopping ? "info" : decision.level](fields, "disconnected");
      events.emit("disconnected", { code, reason: end.reason });
      if (stopping) break;
      if (decision.action === "stop") return { reason: end.goodbye?.reason ?? end.reason, final: true };
      if (decision.reconcile) reconcile = true;

      const delayMs = Math.round(backoff.next());
      setState("disconnected");
      log.debug({ delayMs, attempt: attempt + 1 }, "reconnecting");
      events.emit("reconnecting", { delayMs, attempt: attempt + 1 });
      await sleep(delayMs);
      wake = undefined;
    }
    return { reason: "closed by the zone", final: false };
  }

  function stopped(outcome: { reason: string; final: boolean }): void {
    setState("stopped");
    log.info(outcome, "stopped");
    events.emit("stopped", outcome);
  }

  return {
    on: events.on,
    once: events.once,

    start() {
      if (started) return;
      started = true;
      loop = run().then(stopped, (error: unknown) => {
        // The loop catches what a session can throw; reaching here is a bug, reported as a stop.
        log.error({ err: error }, "the sync loop failed");
        stopped({ reason: `the sync loop failed: ${String(error)}`, final: false });
      });
    },

    async close() {
      if (!started) {
        started = true;
        stopped({ reason: "closed by the zone", final: false });
        return;
      }
      stopping = true;
      wake?.();
      await session?.close(options.closeGraceMs ?? 2000);
      await loop;
    },

    nudge() {
      session?.nudge();
    },

    status(): SyncStatus {
      const cursor = store.isOpen() ? store.cursor() : undefined;
      const acked = store.isOpen() ? store.upstreamAcked() : 0;
      return {
        state,
        mode,
        globalEpoch: globalEpoch ?? cursor?.epoch ?? null,
        appliedRevision: cursor?.revision ?? 0,
        sessions: { ...sessions },
        connectedAt,
        lastError,
        upstream: { pending: store.isOpen() ? store.countOwnedAbove(acked) : 0, acked },
        instanceId,
        storeId: store.storeId,
      };
    },

    onChanges(listener) {
      return applier.onChanges(listener);
    },
  };
}

export type { SyncEvents };
