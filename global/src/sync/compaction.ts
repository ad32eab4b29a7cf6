// Change-log compaction by count and by age. The horizon (`compacted_through`) is what makes it
// safe: a zone whose cursor is behind it is sent to RECONCILE, so a delete it never saw is still
// delivered (as the absence of the key from the global's inventory).
import { revision } from "@mooring/shared";
import type { SqliteStore } from "../store/sqlite-store.js";

export interface CompactionOptions {
  /** Entries kept: revisions at or below head - maxEntries go. */
  readonly maxEntries: number;
  /**
   * Entries written before now - maxAgeMs go. Undefined: the age limit is not checked this time.
   * Finding aged entries scans the change log (it has no index by time: ~5 ms at 100,000 entries),
   * so the hub checks the count after every commit and the age on a timer.
   */
  readonly maxAgeMs?: number;
  readonly now: number;
}

/**
 * Compacts if the log is over either limit; returns how many entries were removed. The count limit
 * acts once the log is 1% over it (any excess when the limit is under 100), so a busy log is trimmed
 * in one transaction per 1% of writes rather than in one after every commit.
 */
export function compactChangeLog(store: SqliteStore, options: CompactionOptions): number {
  const head = store.headRevision();
  const compacted = store.compactedThrough();
  const slack = Math.floor(options.maxEntries / 100);
  const byCount = head - options.maxEntries;
  let horizon = byCount > compacted + slack ? byCount : compacted;
  const aged = options.maxAgeMs === undefined ? undefined : store.lastRevisionBefore(options.now - options.maxAgeMs);
  if (aged !== undefined && aged > horizon) horizon = aged;
  if (horizon <= compacted) return 0;
  return store.transaction(() => store.compactChanges(revision(horizon)));
}
