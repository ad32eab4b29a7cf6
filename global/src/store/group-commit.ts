// Group commit: REST writes that arrive while the previous commit is being made are applied
// together in one SQLite transaction, each in its own savepoint, and acknowledged only after that
// one COMMIT (one fsync with MOORING_DB_SYNC=full) has returned. A write that fails rolls back its
// own savepoint and is answered with its error; the others still commit. Nothing is acknowledged
// before it is durable, so a crash at any instant loses no acknowledged write.

export interface GroupCommit {
  /** Runs `write` in the next group's transaction; resolves once that transaction has committed. */
  run<T>(write: () => T): Promise<T>;
}

export interface GroupCommitOptions {
  /** Runs a function in a transaction; a nested call must become a savepoint (better-sqlite3 does). */
  readonly transaction: <T>(fn: () => T) => T;
  /** Writes per transaction at most: bounds how long the event loop is held by one group. */
  readonly maxGroup?: number;
  /**
   * Whether each write runs in its own savepoint (the default). Pass false only when every write is
   * atomic by itself (it runs its own `transaction`, which nests as a savepoint): a second savepoint
   * around it would journal the same pages twice.
   */
  readonly savepointPerWrite?: boolean;
}

interface Pending {
  readonly write: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

export function createGroupCommit(options: GroupCommitOptions): GroupCommit {
  const maxGroup = options.maxGroup ?? 512;
  const atomic: <T>(fn: () => T) => T = options.savepointPerWrite === false ? (fn) => fn() : options.transaction;
  let queue: Pending[] = [];
  let scheduled = false;

  function schedule(): void {
    if (scheduled || queue.length === 0) return;
    scheduled = true;
    // setImmediate, not a microtask: requests parsed in this turn of the event loop join the group.
    setImmediate(flush);
  }

  function flush(): void {
    scheduled = false;
    const group = queue.slice(0, maxGroup);
    queue = queue.slice(group.length);
    const outcomes: Outcome[] = [];
    try {
      options.transaction(() => {
        for (const pending of group) {
          try {
            outcomes.push({ ok: true, value: atomic(pending.write) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      // The COMMIT itself failed (disk full, I/O error): nothing of the group is durable.
      for (const pending of group) pending.reject(error);
      schedule();
      return;
    }
    group.forEach((pending, i) => {
      const outcome = outcomes[i] as Outcome;
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
    schedule();
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
