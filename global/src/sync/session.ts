// One zone's sync stream on the global (proto/PROTOCOL.md). Messages are handled one at a time,
// in order; writes wait for the stream's buffer to drain; every way the stream can end goes through
// `end()`, which logs it once with its status.
import { randomUUID } from "node:crypto";
import { setImmediate as setImmediatePromise } from "node:timers/promises";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type Inventory,
  preEncoded,
  SyncMode,
  type SyncRequest,
  type SyncResponse,
  SyncResponseSchema,
  type UpstreamChanges,
  undecodableReason,
} from "@mooring/proto";
import { isMooringError, keyFromProto, type Logger } from "@mooring/shared";
import type { InventoryClaim } from "../manager/zones.js";
import type { ServiceIdentity, SyncModeName } from "../store/types.js";
import { createBatchBuilder, type EncodedBatch, encodeDelete } from "./encode.js";
import { chooseMode, StreamError, type ValidHello, validateHello } from "./hello.js";
import { keyText, type SyncHub } from "./hub.js";
import { type CachedResource, fingerprint } from "./snapshot-cache.js";

export type SyncCall = grpc.ServerDuplexStream<SyncRequest, SyncResponse>;

const MODES: Record<SyncModeName, SyncMode> = {
  full: SyncMode.FULL,
  incremental: SyncMode.INCREMENTAL,
  reconcile: SyncMode.RECONCILE,
};

/** Resources added to a snapshot or reconcile batch between handing its frames to the stream. */
const SEND_STEP = 500;
/** A zone silent for this many heartbeat intervals is gone. */
const HEARTBEAT_TOLERANCE = 3;
/** Extra silence allowed while a zone has not yet acknowledged its initial batch. */
const INITIAL_APPLY_GRACE_MS = 60_000;

export interface SyncSession {
  readonly id: string;
  instanceId(): string | undefined;
  /** The id of the zone token the session authenticated with (authentication on). */
  tokenId(): string | undefined;
  /** Sends whatever the change log holds beyond what this zone was sent (no-op while busy). */
  kick(): void;
  ackedRevision(): number;
  lastSeenAt(): number | undefined;
  /** Ends the stream: a Goodbye first when `final` is given, then the status. */
  end(code: grpc.status, reason: string, final?: boolean): void;
}

type Phase = "hello" | "inventory" | "initial" | "live" | "ended";

interface InventoryState {
  /** What the zone holds, by key: its identity, `contentHash|vips` and the revision it has. */
  readonly held: Map<string, { readonly id: ServiceIdentity; readonly fingerprint: string; readonly revision: number }>;
  readonly claims: InventoryClaim[];
  readonly upstream: UpstreamChanges[];
}

export function createSession(hub: SyncHub, call: SyncCall): SyncSession {
  const { store, metrics, heartbeatMs } = hub.options;
  const id = randomUUID();
  let log: Logger = hub.log.child({ session: id });
  let phase: Phase = "hello";
  let hello: ValidHello | undefined;
  let tokenId: string | undefined;
  let generation = 0;
  let sent = 0;
  let acked = 0;
  /** The revision that completes the zone's initial batch; until it is acked the zone may be busy applying it. */
  let initialTarget = Number.POSITIVE_INFINITY;
  let lastSeen = hub.now();
  let pumping = false;
  let inventory: InventoryState | undefined;
  let chain: Promise<void> = Promise.resolve();
  let heartbeat: NodeJS.Timeout | undefined;
  // The open-streams gauge follows the gRPC call: a cancelled call (the zone or the network went
  // away) is closed at once, while the session itself may wait for its heartbeat to notice.
  let streamOpen = true;
  metrics.syncStreams.inc();
  function streamClosed(): void {
    if (!streamOpen) return;
    streamOpen = false;
    metrics.syncStreams.dec();
  }

  function encodeResponse(response: MessageInitShape<typeof SyncResponseSchema>["message"]): SyncResponse {
    return create(SyncResponseSchema, { message: response });
  }

  /** Resolves when the frame is handed to the stream and its buffer has room again (or it ended). */
  async function write(message: SyncResponse): Promise<void> {
    if (phase === "ended") return;
    // What a frame carries was read from commits that may still be waiting for their fsync (see
    // wal-sync.ts): none leaves before they are on disk, so a power loss cannot take back a revision
    // a zone has already seen.
    const durable = store.settled();
    if (durable) await durable;
    // The await may have outlived the stream.
    if ((phase as Phase) === "ended") return;
    if (call.write(message)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        call.off("drain", done);
        call.off("close", done);
        call.off("error", done);
        resolve();
      };
      call.on("drain", done);
      call.on("close", done);
      call.on("error", done);
    });
  }

  async function writeFrames(frames: readonly Buffer[]): Promise<void> {
    for (const frame of frames) {
      await write(preEncoded(SyncResponseSchema, frame));
      metrics.syncBytesSent.inc(frame.byteLength);
    }
  }

  async function sendBatch(batch: EncodedBatch): Promise<void> {
    await writeFrames(batch.frames);
    if (phase === "ended") return;
    sent = batch.to;
    metrics.syncResourcesSent.inc(batch.resources);
  }

  function end(code: grpc.status, reason: string, final?: boolean): void {
    if (phase === "ended") return;
    if (final !== undefined) {
      call.write(encodeResponse({ case: "goodbye", value: { reason, final } }));
    }
    const codeName = grpc.status[code] ?? String(code);
    const fields = { zone: hello?.zone, generation, code: codeName, reason };
    if (code === grpc.status.OK) log.info(fields, "sync stream closed");
    else log.warn(fields, "sync stream ended");
    settle(codeName, code === grpc.status.OK ? undefined : `${codeName}: ${reason}`);
    if (code === grpc.status.OK) call.end();
    else call.emit("error", { code, details: reason });
  }

  /** Bookkeeping of a stream that is over, however it ended: once. */
  function settle(codeName: string, error?: string): void {
    phase = "ended";
    clearInterval(heartbeat);
    streamClosed();
    metrics.syncStreamsClosed.inc({ code: codeName });
    if (!hello) return;
    hub.unregister(hello.zone, session);
    if (!store.isOpen()) return;
    store.recordZoneProgress(hello.zone, generation, acked, lastSeen);
    if (error) store.recordZoneError(hello.zone, generation, error);
  }

  function fail(error: unknown): void {
    if (error instanceof StreamError) end(error.code, error.message);
    else if (isMooringError(error) && error.code === "STALE_SESSION") end(grpc.status.ABORTED, error.message);
    else {
      log.error({ err: error }, "sync session failed");
      end(grpc.status.INTERNAL, "internal error on the global; see its log");
    }
  }

  /** Live phase: catch up from the change log, one batch at a time, never two pumps at once. */
  async function pump(): Promise<void> {
    if (pumping || phase !== "live") return;
    pumping = true;
    try {
      while (phase === "live") {
        const batch = hub.batchFrom(sent);
        if (batch === undefined) break;
        if (batch === "compacted") {
          end(grpc.status.ABORTED, `fell behind the change-log horizon (at revision ${sent}); reconnect to reconcile`);
          break;
        }
        await sendBatch(batch);
      }
    } catch (error) {
      fail(error);
    } finally {
      pumping = false;
    }
  }

  async function sendSnapshot(): Promise<void> {
    const startedAt = performance.now();
    const { head, resources } = await hub.snapshots.snapshot();
    const builder = createBatchBuilder(0, head, hub.options.maxMessageBytes);
    for (let i = 0; i < resources.length; i++) {
      builder.upsertLatin1((resources[i] as CachedResource).encoded);
      if ((i + 1) % SEND_STEP !== 0) continue;
      await writeFrames(builder.take());
      if (phase === "ended") return;
      // Let the frames written so far reach the socket while the next ones are built: the zone
      // decodes them meanwhile instead of waiting for the whole snapshot.
      await setImmediatePromise();
    }
    const batch = builder.finish();
    await writeFrames(batch.frames);
    metrics.syncResourcesSent.inc(batch.resources);
    sent = head;
    log.info(
      { resources: batch.resources, revision: head, ms: Math.round(performance.now() - startedAt) },
      "snapshot sent",
    );
  }

  /** RECONCILE, once the zone's inventory is complete: adopt its VIPs if needed, then send the difference. */
  async function reconcile(state: InventoryState): Promise<void> {
    const zone = hello?.zone ?? "";
    // A zone that fell behind the compaction horizon counts revisions as this database does; one
    // whose cursor is from another epoch held a replaced database, whose VIPs are re-adopted first.
    const sameEpoch = hello?.cursor?.epoch === store.epoch;
    if (hello?.cursor && !sameEpoch) {
      const result = hub.options.zones.adopt(state.claims, `inventory of zone ${zone}`);
      for (const refusal of result.refused) log.warn(refusal, "VIP claim from a zone inventory refused");
      log.info({ adopted: result.adopted, held: result.held, refused: result.refused.length }, "VIPs re-adopted");
      if (result.adopted > 0) hub.notify();
    }
    for (const upstream of state.upstream) await applyUpstream(upstream);
    const { head, resources } = await hub.snapshots.snapshot();
    const builder = createBatchBuilder(0, head, hub.options.maxMessageBytes);
    const remaining = new Map(state.held);
    // In the same epoch a resource changed and changed back while the zone was away has its content
    // and VIPs but an older revision, and goes again (the zone stores the revision and reports no
    // change). After a replaced database the zone's revisions mean nothing here: content decides.
    let same = 0;
    for (let i = 0; i < resources.length; i++) {
      const resource = resources[i] as CachedResource;
      const held = remaining.get(resource.key);
      remaining.delete(resource.key);
      if (held?.fingerprint === resource.fingerprint && (!sameEpoch || held.revision === resource.revision)) same++;
      else builder.upsertLatin1(resource.encoded);
      if ((i + 1) % SEND_STEP !== 0) continue;
      await writeFrames(builder.take());
      if (phase === "ended") return;
    }
    for (const { id } of remaining.values()) builder.delete(encodeDelete(id));
    const batch = builder.finish();
    await writeFrames(batch.frames);
    metrics.syncResourcesSent.inc(batch.resources);
    sent = head;
    log.info(
      { sent: batch.resources, deleted: remaining.size, unchanged: same, revision: head },
      "reconciled with the zone's inventory",
    );
  }

  async function applyUpstream(message: UpstreamChanges): Promise<void> {
    const zone = hello?.zone ?? "";
    if (message.zoneRevision === 0n || message.zoneRevision > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new StreamError(grpc.status.INVALID_ARGUMENT, "upstream.zone_revision must be a revision above 0");
    }
    const result = hub.options.zones.applyUpstream(zone, generation, {
      zoneRevision: Number(message.zoneRevision),
      upserts: message.upserts,
      deletes: message.deletes,
    });
    metrics.syncResourcesReceived.inc({ outcome: "applied" }, result.applied);
    metrics.syncResourcesReceived.inc({ outcome: "unchanged" }, result.unchanged);
    metrics.syncResourcesReceived.inc({ outcome: "rejected" }, result.rejected.length);
    for (const rejected of result.rejected) {
      metrics.syncUpstreamRejected.inc({ zone, code: rejected.code });
      log.warn(
        { key: rejected.key && keyFromProto(rejected.key), code: rejected.code, reason: rejected.message },
        "upstream resource rejected",
      );
    }
    await write(
      encodeResponse({
        case: "upstreamAck",
        value: {
          zoneRevision: message.zoneRevision,
          rejected: result.rejected.map((r) => ({ key: r.key, code: r.code, message: r.message })),
        },
      }),
    );
    if (result.applied > 0) hub.notify();
  }

  async function start(first: SyncRequest): Promise<void> {
    if (first.message.case !== "hello") {
      throw new StreamError(
        grpc.status.INVALID_ARGUMENT,
        `the first message on a sync stream must be Hello, not ${first.message.case ?? "an empty message"}`,
      );
    }
    const valid = validateHello(first.message.value);
    tokenId = await authenticate(valid);
    const waitMs = hub.options.reconnectLimit?.take(valid.zone);
    if (waitMs !== undefined) {
      metrics.syncRateLimited.inc({ zone: valid.zone });
      throw new StreamError(
        grpc.status.RESOURCE_EXHAUSTED,
        `zone ${valid.zone} opened sync sessions faster than MOORING_SYNC_RECONNECT_BURST/INTERVAL allow; retry in ${Math.ceil(waitMs / 1000)}s`,
      );
    }
    // Only an authenticated zone gets to touch its record or take over its name.
    hello = valid;
    log = log.child({ zone: valid.zone });
    const { mode, why } = chooseMode(valid, {
      epoch: store.epoch,
      head: store.headRevision(),
      compactedThrough: store.compactedThrough(),
    });
    const row = store.transaction(() =>
      store.startZoneSession({
        name: valid.zone,
        zoneId: store.getZone(valid.zone)?.zoneId ?? randomUUID(),
        instanceId: valid.instanceId,
        storeId: valid.storeId,
        mode,
        at: hub.now(),
      }),
    );
    generation = row.generation;
    const previous = hub.register(valid.zone, session);
    if (previous) {
      // The same process reconnecting (its old stream half-dead) needs no goodbye; another process
      // claiming the name is told why it is being stopped, and must not come back on its own.
      const sameProcess = previous.instanceId() === valid.instanceId;
      const by = sameProcess ? "a newer session of the same instance" : `instance ${valid.instanceId}`;
      previous.end(
        grpc.status.ABORTED,
        `superseded by ${by} (generation ${generation})`,
        sameProcess ? undefined : true,
      );
    }
    metrics.syncSessions.inc({ mode });
    acked = valid.cursor?.epoch === store.epoch ? valid.cursor.revision : 0;
    log.info({ mode, why, generation, instance: valid.instanceId, version: valid.version }, "zone connected");
    await write(
      encodeResponse({
        case: "welcome",
        value: {
          sessionId: id,
          generation: BigInt(generation),
          mode: MODES[mode],
          globalEpoch: store.epoch,
          headRevision: BigInt(store.headRevision()),
          upstreamWatermark: BigInt(row.upstreamWatermark),
          heartbeatIntervalMs: heartbeatMs,
        },
      }),
    );
    heartbeat = setInterval(beat, heartbeatMs);
    if (mode === "reconcile") {
      phase = "inventory";
      inventory = { held: new Map(), claims: [], upstream: [] };
      return;
    }
    phase = "initial";
    if (mode === "full") {
      await sendSnapshot();
    } else {
      sent = valid.cursor?.revision ?? 0;
      // Nothing to resume: an empty batch still tells the zone it is in sync.
      if (sent === store.headRevision())
        await sendBatch(createBatchBuilder(sent, sent, hub.options.maxMessageBytes).finish());
    }
    goLive();
  }

  /** The zone token's id, or a StreamError; undefined when authentication is off. */
  async function authenticate(valid: ValidHello): Promise<string | undefined> {
    const check = hub.options.authenticate;
    if (!check) return undefined;
    try {
      return (await check(valid.token, valid.zone)).id;
    } catch (error) {
      if (!isMooringError(error)) throw error;
      metrics.authRefused.inc({ kind: "zone", reason: error.code.toLowerCase() });
      log.warn(
        { zone: valid.zone, instance: valid.instanceId, code: error.code, reason: error.message },
        "zone authentication failed",
      );
      throw new StreamError(error.grpcStatus, error.message);
    }
  }

  function goLive(): void {
    if (phase === "ended") return;
    phase = "live";
    initialTarget = sent;
    void pump();
  }

  function beat(): void {
    const silent = hub.now() - lastSeen;
    // A zone committing a large initial batch (100,000 services is seconds of SQLite on a busy
    // machine) sends nothing meanwhile; ending it then would restart the snapshot forever.
    const applyingInitial = acked < initialTarget;
    const tolerance = heartbeatMs * HEARTBEAT_TOLERANCE + (applyingInitial ? INITIAL_APPLY_GRACE_MS : 0);
    if (silent > tolerance) {
      end(grpc.status.UNAVAILABLE, `no message from the zone for ${silent} ms; marking it offline`);
      return;
    }
    if (hello && store.isOpen()) store.recordZoneProgress(hello.zone, generation, acked, lastSeen);
    // write() rejects only when the WAL cannot be synced (see wal-sync.ts): end the stream on it.
    write(encodeResponse({ case: "heartbeat", value: { sentAtUnixMs: BigInt(hub.now()) } })).catch(fail);
  }

  async function handle(request: SyncRequest): Promise<void> {
    if (phase === "ended") return;
    const undecodable = undecodableReason(request);
    if (undecodable !== undefined) {
      throw new StreamError(
        grpc.status.INVALID_ARGUMENT,
        `a frame that does not decode as mooring.v1.SyncRequest: ${undecodable}`,
      );
    }
    lastSeen = hub.now();
    if (phase === "hello") return start(request);
    const message = request.message;
    switch (message.case) {
      case "hello":
        throw new StreamError(grpc.status.INVALID_ARGUMENT, "a second Hello on the same stream");
      case "heartbeat":
        return;
      case "ack":
        acked = Math.max(acked, checkedRevision(message.value.revision, "ack"));
        return;
      case "nack":
        // A Nack still applies the rest of the batch and advances the zone's cursor.
        acked = Math.max(acked, checkedRevision(message.value.revision, "nack"));
        metrics.syncNacks.inc(message.value.errors.length);
        log.warn(
          {
            revision: String(message.value.revision),
            errors: message.value.errors.map((e) => ({
              key: e.key && keyFromProto(e.key),
              code: e.code,
              message: e.message,
            })),
          },
          "zone could not apply resources",
        );
        return;
      case "inventory":
        return receiveInventory(message.value);
      case "upstream":
        if (phase === "inventory" && inventory) {
          // Applied after the inventory: its VIPs must be re-adopted before these are leased.
          inventory.upstream.push(message.value);
          return;
        }
        return applyUpstream(message.value);
      case "goodbye":
        end(grpc.status.OK, `zone said goodbye: ${message.value.reason || "no reason given"}`);
        return;
      default:
        throw new StreamError(grpc.status.INVALID_ARGUMENT, "an empty or unknown message on a sync stream");
    }
  }

  function checkedRevision(revision: bigint, field: "ack" | "nack"): number {
    if (revision > BigInt(sent)) {
      throw new StreamError(
        grpc.status.INVALID_ARGUMENT,
        `${field}.revision ${revision} is beyond the last revision sent (${sent})`,
      );
    }
    return Number(revision);
  }

  async function receiveInventory(value: Inventory): Promise<void> {
    if (phase !== "inventory" || !inventory) {
      throw new StreamError(grpc.status.INVALID_ARGUMENT, "an Inventory outside a RECONCILE session's start");
    }
    for (const entry of value.entries) {
      const parsed = keyFromProto(entry.key);
      if (!parsed.ok) {
        throw new StreamError(
          grpc.status.INVALID_ARGUMENT,
          `inventory entry: ${parsed.problems.map((p) => `${p.field} ${p.reason}`).join("; ")}`,
        );
      }
      const vips = entry.vips.map((vip) => vip.ip);
      inventory.held.set(keyText(parsed.id), {
        id: parsed.id,
        fingerprint: fingerprint(entry.contentHash, vips),
        revision: Number(entry.revision),
      });
      if (vips.length > 0) inventory.claims.push({ key: entry.key, vips, revision: Number(entry.revision) });
    }
    if (!value.last) return;
    const state = inventory;
    inventory = undefined;
    phase = "initial";
    await reconcile(state);
    goLive();
  }

  call.on("data", (request: SyncRequest) => {
    // Liveness is noted on receipt: while a snapshot is being sent, the zone's heartbeats queue
    // behind it in `chain`, and must not make the zone look silent.
    lastSeen = hub.now();
    chain = chain.then(() => handle(request)).catch(fail);
  });
  call.on("end", () => end(grpc.status.OK, "the zone closed the stream"));
  call.on("cancelled", streamClosed);
  call.on("close", streamClosed);
  call.on("error", (error: unknown) => {
    // Cancelled by the zone or the transport: nothing more can be written.
    if (phase === "ended") return;
    log.info({ zone: hello?.zone, err: error }, "sync stream dropped by the zone or the network");
    settle("CANCELLED");
  });

  const session: SyncSession = {
    id,
    instanceId: () => hello?.instanceId,
    tokenId: () => tokenId,
    kick: () => void pump(),
    ackedRevision: () => acked,
    lastSeenAt: () => lastSeen,
    end,
  };
  return session;
}
