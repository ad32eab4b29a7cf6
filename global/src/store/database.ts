import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS, type Migration } from "./migrations/index.js";

export type Db = Database.Database;

export interface OpenDatabaseOptions {
  readonly path: string;
  /** `full` survives power loss; `normal` survives a process crash (kill -9) with WAL. */
  readonly synchronous: "full" | "normal";
  readonly migrations?: readonly Migration[];
}

export function openDatabase(options: OpenDatabaseOptions): Db {
  mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db, options.migrations ?? MIGRATIONS);
  return db;
}

function migrate(db: Db, migrations: readonly Migration[]): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this build knows (${latest}); refusing to open`);
  }
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      if (migration.version === 1) {
        // The epoch names this database: a restored or replaced database gets a new one, and zones
        // holding a cursor from another epoch know they must reconcile.
        db.prepare("INSERT INTO meta (key, value) VALUES ('epoch', ?)").run(randomUUID());
      }
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}
