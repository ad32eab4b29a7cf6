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
  /** The zone this database belongs to; recorded on creation and checked on every open. */
  readonly zone: string;
  readonly migrations?: readonly Migration[];
}

export function openDatabase(options: OpenDatabaseOptions): Db {
  mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
    db.pragma("busy_timeout = 5000");
    migrate(db, options.migrations ?? MIGRATIONS, options.zone);
    const zone = db.prepare("SELECT zone FROM meta WHERE id = 1").pluck().get() as string | undefined;
    if (zone !== options.zone) {
      // A copied or renamed file: syncing it as another zone would push its services under the wrong name.
      throw new Error(
        `database ${options.path} belongs to zone "${zone ?? ""}", not "${options.zone}"; refusing to open`,
      );
    }
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function migrate(db: Db, migrations: readonly Migration[], zone: string): void {
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
        // The store id names this database: the global keeps the upstream watermark per store id, so a
        // zone whose database was replaced (revisions starting again from 1) is not mistaken for the old one.
        db.prepare("INSERT INTO meta (id, store_id, zone) VALUES (1, ?, ?)").run(randomUUID(), zone);
      }
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
}
