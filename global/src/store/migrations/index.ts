import type { Migration } from "@mooring/shared";
import { sql as initial } from "./0001-initial.js";
import { sql as zones } from "./0002-zones.js";
import { sql as auth } from "./0003-auth.js";
import { sql as writePath } from "./0004-write-path.js";
import { sql as leaseKey } from "./0005-lease-key.js";

/** Applied in order, each in its own transaction; `PRAGMA user_version` records the last one. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "initial", sql: initial },
  { version: 2, name: "zones", sql: zones },
  { version: 3, name: "auth", sql: auth },
  { version: 4, name: "write-path", sql: writePath },
  { version: 5, name: "lease-key", sql: leaseKey },
];
