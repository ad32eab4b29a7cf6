// Group commit: REST writes that arrive while the previous group is being made durable are applied
// together in one SQLite transaction and acknowledged only once that transaction is durable (one
// fsync of the WAL with MOORING_DB_SYNC=full). A write that fails is answered with its error and
// leaves nothing behind; the others still commit. Nothing is acknowledged before it is durable, so
// a crash at any instant loses no acknowledged write.
//
// Atomicity of each write. The plain way is a savepoint per write, but a savepoint journals every
// page it first touches, about 15% of a REST create. So when the store allows it the group first
// runs without savepoints, counting SQLite's changes around each write: a write that throws before
// changing anything (a validation error, a revision conflict, an exhausted range) needs no undoing.
// One that throws after a change poisons the attempt: the whole transaction is rolled back and the
// group is run again with a savepoint per write. Writes are functions of the database, so running
// one again gives the same result; only side effects outside SQLite (metric counters) happen twice.

export interface GroupCommit {
  /** Runs `write` in the next group's transaction; resolves once that transaction is durable. */
  run<T>(write: () => T): Promise<T>;
}

/** The store's way to run writes without savepoints (see `sqliteBasics`). */
export interface WithoutSavepoints {
  run<T>(fn: () => T): T;
  totalChanges(): number;
  inTransaction(): boolean;
}

export interface GroupCommitOptions {
  /** Runs a function in a transaction; a nested call must become a savepoint (better-sqlite3 does). */
  readonly transaction: <T>(fn: () => T) => T;
  /** Writes per transaction at most: bounds how long the event loop is held by one group. */
  readonly maxGroup?: number;
  /**
   * Whether each write runs in its own savepoint when savepoints are used (the default). Pass false
   * only when every write is atomic by itself (it runs its own `transaction`, which nests as a
   * savepoint): a second savepoint around it would journal the same pages twice.
   */
  readonly savepointPerWrite?: boolean;
  /** Run each group without savepoints first (see above). */
  readonly withoutSavepoints?: WithoutSavepoints;
  /**
   * Commits the group's transaction without waiting for the disk and says when it is durable (the
   * store's `transactionSyncedLater`). Without it the group commits with `transaction`, whose COMMIT
   * returns once durable.
   */
  readonly commitSyncedLater?: <T>(fn: () => T) => { readonly value: T; readonly durable: Promise<void> };
}

interface Pending {
  readonly write: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/** Thrown out of an attempt without savepoints to roll it back: a write failed half-way. */
class HalfDone extends Error {}

export function createGroupCommit(options: GroupCommitOptions): GroupCommit {
  const maxGroup = options.maxGroup ?? 512;
  const atomic: <T>(fn: () => T) => T = options.savepointPerWrite === false ? (fn) => fn() : options.transaction;
  const unguarded = options.withoutSavepoints;
  let queue: Pending[] = [];
  let scheduled = false;
  /** A group's commit is waiting for the disk; the next group waits for it (so it is not a sliver). */
  let syncing = false;

  function schedule(): void {
    if (scheduled || syncing || queue.length === 0) return;
    scheduled = true;
    // setImmediate, not a microtask: requests parsed in this turn of the event loop join the group.
    setImmediate(flush);
  }

  /** Each write in its own savepoint (or its own nested transaction). */
  function withSavepoints(group: readonly Pending[]): Outcome[] {
    const outcomes: Outcome[] = [];
    for (const pending of group) {
      try {
        outcomes.push({ ok: true, value: atomic(pending.write) });
      } catch (error) {
        // SQLite rolls a transaction back by itself on some errors (disk full, I/O): the group is lost.
        if (unguarded && !unguarded.inTransaction()) throw error;
        outcomes.push({ ok: false, error });
      }
    }
    return outcomes;
  }

  function noSavepoints(group: readonly Pending[], tools: WithoutSavepoints): Outcome[] {
    return tools.run(() => {
      const outcomes: Outcome[] = [];
      for (const pending of group) {
        const before = tools.totalChanges();
        try {
          outcomes.push({ ok: true, value: pending.write() });
        } catch (error) {
          if (!tools.inTransaction()) throw error;
          if (tools.totalChanges() !== before) throw new HalfDone();
          outcomes.push({ ok: false, error });
        }
      }
      return outcomes;
    });
  }

  /** Commits `body`'s transaction; the promise is its durability when that comes later. */
  function commit(body: () => Outcome[]): { outcomes: Outcome[]; durable?: Promise<void> } {
    if (options.commitSyncedLater) {
      const { value, durable } = options.commitSyncedLater(body);
      return { outcomes: value, durable };
    }
    return { outcomes: options.transaction(body) };
  }

  function flush(): void {
    scheduled = false;
    const group = queue.slice(0, maxGroup);
    queue = queue.slice(group.length);
    let committed: { outcomes: Outcome[]; durable?: Promise<void> };
    try {
      try {
        committed = unguarded ? commit(() => noSavepoints(group, unguarded)) : commit(() => withSavepoints(group));
      } catch (error) {
        if (!(error instanceof HalfDone)) throw error;
        committed = commit(() => withSavepoints(group));
      }
    } catch (error) {
      // The COMMIT itself failed (disk full, I/O error): nothing of the group is durable.
      for (const pending of group) pending.reject(error);
      schedule();
      return;
    }
    const { outcomes, durable } = committed;
    const settle = () => {
      group.forEach((pending, i) => {
        const outcome = outcomes[i] as Outcome;
        if (outcome.ok) pending.resolve(outcome.value);
        else pending.reject(outcome.error);
      });
    };
    if (!durable) {
      settle();
      schedule();
      return;
    }
    syncing = true;
    durable
      .then(settle, (error: unknown) => {
        for (const pending of group) pending.reject(error);
      })
      .finally(() => {
        syncing = false;
        schedule();
      });
  }

  return {
    run<T>(write: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
        schedule();
      });
    },
  };
}
