import type { Migration } from "@mooring/shared";
import { sql as initial } from "./0001-initial.js";

/** Applied in order, each in its own transaction; `PRAGMA user_version` records the last one. */
export const MIGRATIONS: readonly Migration[] = [{ version: 1, name: "initial", sql: initial }];
