// Checks the first message of a sync stream and decides the session's mode
// (proto/PROTOCOL.md, "Session start").
import * as grpc from "@grpc/grpc-js";
import type { Hello } from "@mooring/proto";
import { dnsLabelProblem } from "@mooring/shared";
import type { SyncModeName } from "../store/types.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A stream-ending failure: a gRPC status and the message the zone (and the log) gets. */
export class StreamError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = "StreamError";
  }
}

export interface ValidHello {
  readonly zone: string;
  readonly instanceId: string;
  readonly storeId: string;
  readonly version: string;
  /** Checked by the session when authentication is on; never logged. */
  readonly token: string;
  readonly cursor?: { readonly epoch: string; readonly revision: number };
  readonly reconcile: boolean;
}

export function validateHello(hello: Hello): ValidHello {
  const invalid = (field: string, reason: string) =>
    new StreamError(grpc.status.INVALID_ARGUMENT, `hello.${field}: ${reason}`);
  const zoneProblem = dnsLabelProblem(hello.zone);
  if (zoneProblem) throw invalid("zone", `${JSON.stringify(hello.zone)} ${zoneProblem}`);
  if (!UUID.test(hello.instanceId)) throw invalid("instance_id", "must be a UUID");
  if (!UUID.test(hello.storeId)) throw invalid("store_id", "must be a UUID");
  let cursor: ValidHello["cursor"];
  if (hello.cursor) {
    if (!UUID.test(hello.cursor.globalEpoch)) {
      throw invalid("cursor.global_epoch", `${JSON.stringify(hello.cursor.globalEpoch)} is not an epoch (a UUID)`);
    }
    if (hello.cursor.revision > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw invalid("cursor.revision", "is beyond any revision this global can have");
    }
    cursor = { epoch: hello.cursor.globalEpoch.toLowerCase(), revision: Number(hello.cursor.revision) };
  }
  return {
    zone: hello.zone,
    instanceId: hello.instanceId,
    storeId: hello.storeId,
    version: hello.version,
    token: hello.token,
    reconcile: hello.reconcile,
    ...(cursor ? { cursor } : {}),
  };
}

export interface LogPosition {
  readonly epoch: string;
  readonly head: number;
  readonly compactedThrough: number;
}

/** The session's mode, or a StreamError for a cursor that cannot be right (from the future). */
export function chooseMode(hello: ValidHello, log: LogPosition): { mode: SyncModeName; why: string } {
  const cursor = hello.cursor;
  if (!cursor) return { mode: "full", why: "first connect: the zone has no cursor" };
  if (cursor.epoch !== log.epoch) {
    return { mode: "reconcile", why: `cursor epoch ${cursor.epoch} is not this database's (${log.epoch})` };
  }
  if (cursor.revision > log.head) {
    throw new StreamError(
      grpc.status.OUT_OF_RANGE,
      `cursor revision ${cursor.revision} is ahead of head revision ${log.head} of epoch ${log.epoch}; reconnect with reconcile`,
    );
  }
  if (hello.reconcile) return { mode: "reconcile", why: "the zone asked to reconcile" };
  if (cursor.revision < log.compactedThrough) {
    return {
      mode: "reconcile",
      why: `cursor revision ${cursor.revision} is behind the compaction horizon ${log.compactedThrough}`,
    };
  }
  return { mode: "incremental", why: `resuming after revision ${cursor.revision}` };
}
