// How the zone reacts to the end of a sync stream, decided in one place (proto/PROTOCOL.md,
// "Errors that end a stream"). The zone's job is to stay connected: nearly every ending is retried
// with backoff, because a global that restarts, is redeployed or refuses a bad message today may
// well accept the next session. Only the global's explicit "never come back" stops the loop.
import { status as GrpcStatus } from "@grpc/grpc-js";

export interface StreamEnd {
  /** The gRPC status the stream ended with (CANCELLED when the zone ended it itself). */
  readonly code: GrpcStatus;
  readonly reason: string;
  /** A Goodbye the global sent before ending the stream, if any. */
  readonly goodbye?: { readonly reason: string; readonly final: boolean };
}

export interface RetryDecision {
  readonly action: "retry" | "stop";
  /** Ask for RECONCILE in the next Hello. */
  readonly reconcile: boolean;
  /** How loudly to log the ending: expected turbulence is a warning, a broken contract is an error. */
  readonly level: "info" | "warn" | "error";
}

export function classifyStreamEnd(end: StreamEnd): RetryDecision {
  // Superseded by another process of this zone, or decommissioned: reconnecting would fight the
  // new owner (or resurrect a deleted zone). The process stops; main exits with status 3.
  if (end.goodbye?.final) return { action: "stop", reconcile: false, level: "error" };
  switch (end.code) {
    // The global holds an older database of the same epoch than our cursor (restored backup): our
    // cursor is "from the future", so the next Hello asks to reconcile instead of resuming.
    case GrpcStatus.OUT_OF_RANGE:
      return { action: "retry", reconcile: true, level: "warn" };
    // Global restarting or shutting down (a non-final Goodbye), the network, heartbeat silence:
    // the ordinary life of a long stream.
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DEADLINE_EXCEEDED:
    case GrpcStatus.CANCELLED:
    case GrpcStatus.OK:
      return { action: "retry", reconcile: false, level: end.goodbye ? "info" : "warn" };
    // Fell behind the compaction horizon (not final): the global answers the next Hello with RECONCILE.
    case GrpcStatus.ABORTED:
      return { action: "retry", reconcile: false, level: "warn" };
    // A missing, expired, revoked or foreign zone token. Retried with backoff, loudly: the token
    // file is read again on every attempt, so an operator can fix it without restarting the zone.
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.PERMISSION_DENIED:
      return { action: "retry", reconcile: false, level: "error" };
    // One side broke the contract (a bad message, a message over the limit, a frame that does not
    // decode), or the global does not serve sync at all. Retrying with backoff is still right: the
    // operator can fix the global without restarting every zone.
    default:
      return { action: "retry", reconcile: false, level: "error" };
  }
}

/** `UNAVAILABLE` for 14: the name is what logs, events and metrics carry. */
export function statusName(code: GrpcStatus): string {
  return GrpcStatus[code] ?? `STATUS_${code}`;
}
