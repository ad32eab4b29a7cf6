// Opening a control plane's SQLite database: WAL, the durability the operator chose, numbered
// migrations recorded in `PRAGMA user_version`, and the few operations every store needs.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";

export type Db = Database.Database;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export interface OpenSqliteOptions {
  readonly path: string;
  /** `full` survives power loss; `normal` survives a process crash (kill -9) with WAL. */
  readonly synchronous: "full" | "normal";
  /** Applied in order, each in its own transaction. */
  readonly migrations: readonly Migration[];
  /** Runs in migration 1's transaction: what a new database records about itself (its id). */
  readonly onCreate?: (db: Db) => void;
  /** Runs after migrating; a throw closes the database and refuses to open it. */
  readonly check?: (db: Db) => void;
}

export function openSqlite(options: OpenSqliteOptions): Db {
  mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    // Savepoints (a REST write in a group commit runs in one) journal every page they first touch:
    // in a temp file that is a pwrite per page, in memory a copy.
    db.pragma("temp_store = MEMORY");
    migrate(db, options);
    options.check?.(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function migrate(db: Db, options: OpenSqliteOptions): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  const latest = options.migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this build knows (${latest}); refusing to open`);
  }
  for (const migration of options.migrations) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      if (migration.version === 1) options.onCreate?.(db);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}

/** What every store offers over its database: transactions, liveness, closing. */
export function sqliteBasics(db: Db) {
  // One wrapper for every call: `db.transaction(fn)` builds four wrapper functions and their
  // properties each time, a visible cost when every REST write runs one (or two, nested).
  const immediate = db.transaction((fn: () => unknown) => fn()).immediate;
  // synchronous: 2 is FULL, 1 NORMAL (what openSqlite set from the operator's MOORING_DB_SYNC).
  const full = db.pragma("synchronous", { simple: true }) === 2;
  const totalChanges = db.prepare("SELECT total_changes()").pluck();
  /** Inside `withoutSavepoints`: nested transactions run as plain calls. */
  let inline = false;
  return {
    /**
     * Runs `fn` in one BEGIN IMMEDIATE transaction (a savepoint when nested, a plain call inside
     * `withoutSavepoints`); a throw rolls it back.
     */
    transaction<T>(fn: () => T): T {
      return inline ? fn() : (immediate(fn) as T);
    },

    /**
     * Runs `fn`, inside an open transaction, with every `transaction` it nests running as a plain
     * call: no savepoint, so a throw undoes nothing by itself. The caller must check, with
     * `totalChanges()`, that a throw came before any change, or roll the whole transaction back.
     * A savepoint journals every page it first touches; on the REST write path that was 15% of a write.
     */
    withoutSavepoints<T>(fn: () => T): T {
      if (!db.inTransaction) throw new Error("withoutSavepoints needs an open transaction");
      const was = inline;
      inline = true;
      try {
        return fn();
      } finally {
        inline = was;
      }
    },

    /** Rows inserted, updated or deleted on this connection since it was opened. */
    totalChanges(): number {
      return totalChanges.get() as number;
    },

    /** Whether a transaction is open (SQLite rolls one back by itself on some errors: disk full, I/O). */
    inTransaction(): boolean {
      return db.inTransaction;
    },

    /**
     * Like `transaction`, but its COMMIT does not fsync, whatever MOORING_DB_SYNC says: it survives a
     * process crash, and a power loss may undo it (never half of it, and never an earlier commit).
     * Only for data that can be fetched again, such as a zone's copy of what the global sent
     * together with the cursor it was sent up to. Nested in another transaction it is a savepoint,
     * and the outer COMMIT decides (SQLite cannot change `synchronous` inside a transaction).
     */
    transactionWithoutFsync<T>(fn: () => T): T {
      if (inline) return fn();
      if (!full || db.inTransaction) return immediate(fn) as T;
      // Not prepared statements: SQLite applies `PRAGMA synchronous = X` when it compiles it, so
      // preparing both once would leave FULL set and make running them do nothing.
      db.pragma("synchronous = NORMAL");
      try {
        return immediate(fn) as T;
      } finally {
        db.pragma("synchronous = FULL");
      }
    },

    isOpen(): boolean {
      return db.open;
    },

    ping(): void {
      db.prepare("SELECT 1").get();
    },

    close(): void {
      if (db.open) db.close();
    },
  };
}
