import { readFileSync } from "node:fs";

/** The zone's version, from its package.json: sent in every Hello and logged at start-up. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
