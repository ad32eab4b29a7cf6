// One sync stream, from Hello to its status (proto/PROTOCOL.md). Messages from the global are
// handled strictly one at a time, in order; every write goes through one queue that waits for
// 'drain' when grpc-js says its buffer is full. The session never reconnects: it resolves `done`
// with how it ended, and the client's loop decides what happens next.
import { create, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type Changes,
  type Goodbye,
  type GrpcClient,
  ResourceErrorSchema,
  type SyncRequest,
  SyncRequestSchema,
  SyncResponseSchema,
  type UpstreamAck,
  type Welcome,
  type ZoneSyncService,
} from "@mooring/proto";
import type { Logger } from "pino";
import type { ZoneMetrics } from "../metrics.js";
import type { ZoneStore } from "../store/zone-store.js";
import type { Applier, SessionApplier } from "../sync/apply.js";
import { safeNumber } from "../sync/decode.js";
import { inventoryChunks } from "../sync/inventory.js";
import { type SessionMode, sessionMode } from "../sync/mode.js";
import { type DecodedChanges, isDecodedChanges, type SyncFrame } from "../sync/rows-decoder.js";
import { adoptWatermark, applyUpstreamAck, nextUpstreamChunk, type UpstreamChunk } from "../sync/upstream.js";
import type { SyncEvents } from "./events.js";
import type { StreamEnd } from "./retry.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Received messages waiting to be handled before the stream is paused (and resumed below the low mark). */
const INBOX_HIGH = 64;
const INBOX_LOW = 16;
/** After the status, how long to wait for the last buffered messages before giving up on them. */
const END_GRACE_MS = 1000;
/** Silence, in heartbeat intervals, after which the stream is taken for dead. */
const SILENT_INTERVALS = 3;

export interface SessionOptions {
  readonly client: GrpcClient<typeof ZoneSyncService>;
  readonly store: ZoneStore;
  readonly applier: Applier;
  readonly metrics: ZoneMetrics;
  /** The sync component's logger; the session binds `session` once it is welcomed. */
  readonly logger: Logger;
  readonly instanceId: string;
  /** The zone token presented in Hello ("" for none). */
  readonly token: string;
  readonly version: string;
  /** Ask for RECONCILE: the global refused this cursor as being ahead of its head. */
  readonly reconcile: boolean;
  readonly maxMessageBytes: number;
  /** How long the global has to answer the Hello. */
  readonly helloTimeoutMs: number;
  readonly onConnected: (event: SyncEvents["connected"]) => void;
  readonly onSynced: (event: SyncEvents["synced"]) => void;
}

export interface SessionResult extends StreamEnd {
  /** The global answered with a Welcome. */
  readonly welcomed: boolean;
  /** The session's first batch was applied: the backoff may start again from its minimum. */
  readonly initialSynced: boolean;
}

export interface Session {
  readonly done: Promise<SessionResult>;
  /** Local writes happened: send the outbox if the session is ready and nothing is in flight. */
  nudge(): void;
  /** Says Goodbye (not final), half-closes, and waits up to `graceMs` for the global to end the stream. */
  close(graceMs: number): Promise<SessionResult>;
}

/** The global broke the contract: the stream is dropped and the zone reconnects from its cursor. */
class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

function request(message: NonNullable<MessageInitShape<typeof SyncRequestSchema>["message"]>): SyncRequest {
  return create(SyncRequestSchema, { message });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export function startSession(options: SessionOptions): Session {
  const { store, metrics } = options;
  const call = options.client.sync();
  let log = options.logger;

  let phase: "hello" | "initial" | "live" = "hello";
  let mode: SessionMode | undefined;
  let applier: SessionApplier | undefined;
  let initialReceived = 0;
  let initialSynced = false;
  let goodbye: { reason: string; final: boolean } | undefined;

  // How the stream ends: `local` when the zone ended it (and why), `status` when grpc-js reports it.
  let local: { code: grpc.status; reason: string } | undefined;
  let status: grpc.StatusObject | undefined;
  let readEnded = false;
  let finished = false;
  let signalClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    signalClosed = resolve;
  });
  let resolveDone!: (result: SessionResult) => void;
  const done = new Promise<SessionResult>((resolve) => {
    resolveDone = resolve;
  });

  const inbox: SyncFrame[] = [];
  let handling = false;
  let lastReceivedAt = Date.now();

  let upstreamReady = false;
  let inflight: UpstreamChunk | undefined;

  let writeChain: Promise<unknown> = Promise.resolve();
  let writesPending = 0;

  const timers = new Set<NodeJS.Timeout>();
  function timer(ms: number, fn: () => void, repeat = false): NodeJS.Timeout {
    const handle = repeat ? setInterval(fn, ms) : setTimeout(fn, ms);
    timers.add(handle);
    return handle;
  }

  const isOver = () => local !== undefined || status !== undefined;

  /** Ends the stream from the zone's side; the first reason given is the one reported. */
  function abort(code: grpc.status, reason: string): void {
    if (isOver()) return;
    local = { code, reason };
    signalClosed();
    call.cancel();
  }

  function finish(): void {
    if (finished || !status) return;
    // A stream the global ended may still hold messages (a final Goodbye before its status): handle them first.
    if (!local && !(readEnded && inbox.length === 0 && !handling)) return;
    finished = true;
    for (const handle of timers) clearTimeout(handle);
    timers.clear();
    const code = local?.code ?? status.code;
    const reason = local?.reason ?? (status.details || grpc.status[status.code] || "stream ended");
    resolveDone({
      code,
      reason,
      ...(goodbye ? { goodbye } : {}),
      welcomed: phase !== "hello",
      initialSynced,
    });
  }

  // Frames as decodeSyncFrame returns them: Changes frames mostly as rows already.
  call.on("data", (response: SyncFrame) => {
    lastReceivedAt = Date.now();
    inbox.push(response);
    if (inbox.length >= INBOX_HIGH) call.pause();
    void handleInbox();
  });
  call.on("end", () => {
    readEnded = true;
    finish();
  });
  call.on("status", (received: grpc.StatusObject) => {
    status = received;
    signalClosed();
    // Let the last buffered messages through, but do not wait for them forever.
    call.resume();
    timer(END_GRACE_MS, () => {
      readEnded = true;
      inbox.length = 0;
      finish();
    });
    finish();
  });
  // The status event carries the error; this listener only keeps it from being thrown.
  call.on("error", () => {});

  /** Writes in order, one at a time, waiting for 'drain' when asked to. False if the stream is over. */
  function send(message: SyncRequest): Promise<boolean> {
    writesPending += 1;
    const written = writeChain.then(async () => {
      try {
        if (isOver()) return false;
        if (log.isLevelEnabled("trace")) log.trace({ message: toJson(SyncRequestSchema, message) }, "sent");
        if (!call.write(message)) {
          await new Promise<void>((resolve) => {
            const drained = () => resolve();
            call.once("drain", drained);
            void closed.then(() => {
              call.off("drain", drained);
              resolve();
            });
          });
        }
        return !isOver();
      } finally {
        writesPending -= 1;
      }
    });
    writeChain = written.catch(() => false);
    return written;
  }

  async function handleInbox(): Promise<void> {
    if (handling) return;
    handling = true;
    try {
      for (let next = inbox.shift(); next && !local; next = inbox.shift()) {
        if (call.isPaused() && inbox.length <= INBOX_LOW && !status) call.resume();
        await handle(next);
      }
    } catch (error) {
      if (error instanceof ProtocolError) {
        log.error({ reason: error.message }, "the global broke the sync contract; dropping the stream");
        abort(grpc.status.INTERNAL, `protocol error: ${error.message}`);
      } else {
        log.error({ err: error }, "failed to handle a message from the global; dropping the stream");
        abort(grpc.status.INTERNAL, `the zone failed to handle a message: ${String(error)}`);
      }
    } finally {
      handling = false;
      finish();
    }
  }

  async function handle(frame: SyncFrame): Promise<void> {
    if (isDecodedChanges(frame)) {
      if (phase === "hello") throw new ProtocolError("the first message was changes, not Welcome");
      if (log.isLevelEnabled("trace")) log.trace({ message: { changes: { ...frame, kind: undefined } } }, "received");
      return onChanges(frame);
    }
    const response = frame;
    if (log.isLevelEnabled("trace")) log.trace({ message: toJson(SyncResponseSchema, response) }, "received");
    const message = response.message;
    if (phase === "hello" && message.case !== "welcome") {
      throw new ProtocolError(`the first message was ${message.case ?? "empty"}, not Welcome`);
    }
    switch (message.case) {
      case "welcome":
        if (phase !== "hello") throw new ProtocolError("a second Welcome on one stream");
        return onWelcome(message.value);
      case "changes":
        return onChanges(message.value);
      case "upstreamAck":
        return onUpstreamAck(message.value);
      case "goodbye":
        return onGoodbye(message.value);
      case "heartbeat":
        return;
      case "inventory":
        // The contract has only the zone send an inventory; a newer global may do more. Ignored.
        log.warn("the global sent an Inventory, which this zone does not expect; ignored");
        return;
      default:
        log.debug("ignored a message of a kind this zone does not know");
        return;
    }
  }

  async function onWelcome(welcome: Welcome): Promise<void> {
    const welcomed = sessionMode(welcome.mode);
    if (!welcomed) throw new ProtocolError(`Welcome names mode ${welcome.mode}, which this zone does not know`);
    if (welcome.sessionId === "") throw new ProtocolError("Welcome has no session_id");
    if (!UUID.test(welcome.globalEpoch)) throw new ProtocolError("Welcome's global_epoch is not a lower-case UUID");
    if (welcome.heartbeatIntervalMs < 1) throw new ProtocolError("Welcome's heartbeat_interval_ms is 0");
    const generation = safeNumber(welcome.generation);
    const watermark = safeNumber(welcome.upstreamWatermark);
    const head = safeNumber(welcome.headRevision);
    if (generation === undefined || watermark === undefined || head === undefined) {
      throw new ProtocolError("a Welcome number does not fit in 2^53-1");
    }
    const cursor = store.cursor();
    if (welcomed === "incremental" && cursor?.epoch !== welcome.globalEpoch) {
      // Resuming from a cursor of another database would skip whatever that database never had.
      throw new ProtocolError(`INCREMENTAL offered for a cursor of epoch ${cursor?.epoch ?? "none"}`);
    }
    mode = welcomed;
    phase = "initial";
    applier = options.applier.session({ mode, epoch: welcome.globalEpoch });
    log = log.child({ session: welcome.sessionId });
    const restamped = adoptWatermark(store, watermark);
    if (restamped > 0) {
      log.warn(
        { upstreamWatermark: watermark, restamped },
        "the global has applied upstream revisions this store never made (a restored zone database?); resending the outbox",
      );
    }
    const intervalMs = welcome.heartbeatIntervalMs;
    lastReceivedAt = Date.now();
    timer(
      intervalMs,
      () => {
        const silentMs = Date.now() - lastReceivedAt;
        if (silentMs >= SILENT_INTERVALS * intervalMs) {
          log.warn({ silentMs, heartbeatMs: intervalMs }, "no message from the global for 3 heartbeat intervals");
          abort(grpc.status.UNAVAILABLE, `no message from the global for ${silentMs}ms (heartbeat ${intervalMs}ms)`);
          return;
        }
        // A heartbeat stuck behind a draining write would say nothing the write does not.
        if (writesPending === 0) {
          void send(request({ case: "heartbeat", value: { sentAtUnixMs: BigInt(Date.now()) } }));
        }
      },
      true,
    );
    metrics.sessions.inc({ mode });
    log.info(
      {
        mode,
        generation,
        globalEpoch: welcome.globalEpoch,
        headRevision: head,
        upstreamWatermark: watermark,
        heartbeatMs: intervalMs,
      },
      "connected",
    );
    options.onConnected({ sessionId: welcome.sessionId, mode, generation, globalEpoch: welcome.globalEpoch });

    // The outbox goes first, in every mode. In RECONCILE the global holds what arrives before the
    // inventory's end and applies it before computing the difference, so own services the global
    // lacks (a replaced database) are re-created rather than first deleted and then re-added.
    upstreamReady = true;
    const upstream = pumpUpstream();
    if (mode === "reconcile") {
      let entries = 0;
      let messages = 0;
      for (const inventory of inventoryChunks(store, options.maxMessageBytes)) {
        entries += inventory.entries.length;
        messages += 1;
        if (!(await send(request({ case: "inventory", value: inventory })))) return;
      }
      log.info({ entries, messages }, "inventory sent");
    }
    await upstream;
  }

  async function onChanges(changes: Changes | DecodedChanges): Promise<void> {
    if (!applier || !mode) throw new ProtocolError("Changes before Welcome");
    const outcome = applier.apply(changes);
    if (!outcome.ok) throw new ProtocolError(outcome.reason);
    metrics.resourcesReceived.inc(outcome.received);
    if (phase === "initial") initialReceived += outcome.received;
    const completed = outcome.completed;
    if (!completed) return;
    const revision = BigInt(completed.cursor.revision);
    if (completed.errors.length > 0) {
      metrics.resourcesRefused.inc(completed.errors.length);
      log.warn(
        {
          revision: completed.cursor.revision,
          refused: completed.errors.map((error) => toJson(ResourceErrorSchema, error)),
        },
        "refused resources of a batch; sending Nack",
      );
      await send(request({ case: "nack", value: { revision, errors: [...completed.errors] } }));
    } else {
      await send(request({ case: "ack", value: { revision } }));
    }
    if (phase === "initial") {
      phase = "live";
      initialSynced = true;
      log.info({ mode, revision: completed.cursor.revision, received: initialReceived }, "synced");
      if (!isOver()) options.onSynced({ mode, revision: completed.cursor.revision, received: initialReceived });
    } else {
      log.debug({ revision: completed.cursor.revision, received: outcome.received }, "applied");
    }
  }

  function onUpstreamAck(ack: UpstreamAck): void {
    const zoneRevision = safeNumber(ack.zoneRevision);
    if (!inflight || zoneRevision !== inflight.zoneRevision) {
      throw new ProtocolError(
        `UpstreamAck for zone revision ${ack.zoneRevision}, but ${inflight ? `${inflight.zoneRevision} is` : "nothing is"} in flight`,
      );
    }
    const { rejections, droppedTombstones } = applyUpstreamAck(store, inflight, ack.rejected, options.maxMessageBytes);
    for (const rejection of rejections) {
      log.warn(rejection, "the global refused an own service");
    }
    metrics.upstreamRejected.inc(rejections.length);
    log.debug({ zoneRevision, rejected: rejections.length, droppedTombstones }, "upstream acknowledged");
    inflight = undefined;
    void pumpUpstream().catch((error: unknown) => {
      log.error({ err: error }, "failed to send the outbox; dropping the stream");
      abort(grpc.status.INTERNAL, `the zone failed to send its outbox: ${String(error)}`);
    });
  }

  function onGoodbye(message: Goodbye): void {
    goodbye = { reason: message.reason, final: message.final };
    if (!message.final) {
      log.info({ reason: message.reason }, "the global is ending the session");
      return;
    }
    log.warn({ reason: message.reason }, "the global ended this zone's sessions for good");
    // The global ends the stream itself (ABORTED); half-close, and stop waiting if it does not.
    try {
      call.end();
    } catch {
      // Already closed: the status is on its way.
    }
    timer(END_GRACE_MS, () => abort(grpc.status.ABORTED, message.reason || "final Goodbye"));
  }

  /** Sends the next chunk of the outbox, unless one is in flight: one UpstreamChanges at a time. */
  async function pumpUpstream(): Promise<void> {
    if (!upstreamReady || inflight || isOver()) return;
    const chunk = nextUpstreamChunk(store, store.upstreamAcked(), options.maxMessageBytes);
    if (!chunk) return;
    inflight = chunk;
    log.debug(
      {
        after: chunk.after,
        zoneRevision: chunk.zoneRevision,
        upserts: chunk.message.upserts.length,
        deletes: chunk.message.deletes.length,
      },
      "sending upstream",
    );
    if (await send(request({ case: "upstream", value: chunk.message }))) {
      metrics.resourcesSent.inc(chunk.message.upserts.length + chunk.message.deletes.length);
    }
  }

  timer(options.helloTimeoutMs, () => {
    if (phase === "hello") abort(grpc.status.DEADLINE_EXCEEDED, `no Welcome within ${options.helloTimeoutMs}ms`);
  });
  const cursor = store.cursor();
  void send(
    request({
      case: "hello",
      value: {
        zone: store.zone,
        instanceId: options.instanceId,
        token: options.token,
        storeId: store.storeId,
        version: options.version,
        ...(cursor ? { cursor: { globalEpoch: cursor.epoch, revision: BigInt(cursor.revision) } } : {}),
        reconcile: options.reconcile,
      },
    }),
  );

  return {
    done,
    nudge() {
      void pumpUpstream().catch((error: unknown) => {
        log.error({ err: error }, "failed to send the outbox; dropping the stream");
        abort(grpc.status.INTERNAL, `the zone failed to send its outbox: ${String(error)}`);
      });
    },
    async close(graceMs: number): Promise<SessionResult> {
      if (finished) return done;
      if (phase === "hello" || isOver()) {
        abort(grpc.status.CANCELLED, "closed by the zone");
        return done;
      }
      await Promise.race([
        send(request({ case: "goodbye", value: { reason: "zone shutting down", final: false } })),
        delay(graceMs),
      ]);
      try {
        call.end();
      } catch {
        // Already closed: the status is on its way.
      }
      const grace = timer(graceMs, () => abort(grpc.status.CANCELLED, "closed by the zone"));
      const result = await done;
      clearTimeout(grace);
      return result;
    },
  };
}
