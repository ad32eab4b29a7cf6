import { randomUUID } from "node:crypto";
import { type Db, type Migration, openSqlite } from "@mooring/shared";
import { MIGRATIONS } from "./migrations/index.js";

export type { Db } from "@mooring/shared";

export interface OpenDatabaseOptions {
  readonly path: string;
  readonly synchronous: "full" | "normal";
  /** The zone this database belongs to; recorded on creation and checked on every open. */
  readonly zone: string;
  readonly migrations?: readonly Migration[];
}

export function openDatabase(options: OpenDatabaseOptions): Db {
  return openSqlite({
    ...options,
    migrations: options.migrations ?? MIGRATIONS,
    // The store id names this database: the global keeps the upstream watermark per store id, so a
    // zone whose database was replaced (revisions starting again from 1) is not mistaken for the old one.
    onCreate: (db) =>
      db.prepare("INSERT INTO meta (id, store_id, zone) VALUES (1, ?, ?)").run(randomUUID(), options.zone),
    check: (db) => {
      const zone = db.prepare("SELECT zone FROM meta WHERE id = 1").pluck().get() as string | undefined;
      if (zone !== options.zone) {
        // A copied or renamed file: syncing it as another zone would push its services under the wrong name.
        throw new Error(
          `database ${options.path} belongs to zone "${zone ?? ""}", not "${options.zone}"; refusing to open`,
        );
      }
    },
  });
}
