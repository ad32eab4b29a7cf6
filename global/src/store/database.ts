import { randomUUID } from "node:crypto";
import { type Db, type Migration, openSqlite } from "@mooring/shared";
import { MIGRATIONS } from "./migrations/index.js";

export type { Db } from "@mooring/shared";

export interface OpenDatabaseOptions {
  readonly path: string;
  readonly synchronous: "full" | "normal";
  readonly migrations?: readonly Migration[];
}

export function openDatabase(options: OpenDatabaseOptions): Db {
  return openSqlite({
    ...options,
    migrations: options.migrations ?? MIGRATIONS,
    // The epoch names this database: a restored or replaced database gets a new one, and zones
    // holding a cursor from another epoch know they must reconcile.
    onCreate: (db) => db.prepare("INSERT INTO meta (key, value) VALUES ('epoch', ?)").run(randomUUID()),
  });
}
