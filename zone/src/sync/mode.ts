import { SyncMode } from "@mooring/proto";

/** The three ways a session starts, as the zone names them in events, metrics and `/sync`. */
export type SessionMode = "full" | "incremental" | "reconcile";

export const SESSION_MODES: readonly SessionMode[] = ["full", "incremental", "reconcile"];

/** The mode a Welcome names, or undefined for UNSPECIFIED or a value this build does not know. */
export function sessionMode(mode: SyncMode): SessionMode | undefined {
  switch (mode) {
    case SyncMode.FULL:
      return "full";
    case SyncMode.INCREMENTAL:
      return "incremental";
    case SyncMode.RECONCILE:
      return "reconcile";
    default:
      return undefined;
  }
}
