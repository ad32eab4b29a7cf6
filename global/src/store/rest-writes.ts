// The REST write group of a store: concurrent writes share one transaction and one fsync, each
// acknowledged once durable (see group-commit.ts). The app routes every REST write through it; the
// benchmark runs the same write path without HTTP through it.
import { createGroupCommit, type GroupCommit } from "./group-commit.js";
import type { SqliteStore } from "./sqlite-store.js";

/**
 * Every write passed in must be one manager call: each runs its own transaction, inline when the
 * group runs without savepoints and as a savepoint inside the group's when it falls back to them,
 * so the group adds no savepoint of its own.
 */
export function createRestWrites(store: SqliteStore): GroupCommit {
  return createGroupCommit({
    transaction: store.transaction,
    savepointPerWrite: false,
    withoutSavepoints: {
      run: store.withoutSavepoints,
      totalChanges: store.totalChanges,
      inTransaction: store.inTransaction,
    },
    commitSyncedLater: store.transactionSyncedLater,
  });
}
