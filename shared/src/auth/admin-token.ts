// The admin token: a random bearer secret created on a control plane's first start and kept as
// `admin-token` in its data directory. Only its path is ever logged.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "../logger.js";
import { readSecretFile, writeSecretFile } from "./secret-file.js";

export const ADMIN_TOKEN_FILE = "admin-token";
const PREFIX = "mooring-admin-";
/** Shorter than this is not a token this code wrote, nor one an operator should use. */
const MIN_LENGTH = 24;

export interface AdminToken {
  /** Where the token is kept: the thing to log and to tell users about. */
  readonly path: string;
  /** True when this start created it. */
  readonly created: boolean;
  /** Constant-time comparison with a presented token. */
  matches(presented: string): boolean;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Reads `<dataDir>/admin-token`, creating it on first start. An operator may replace the file's contents. */
export function loadOrCreateAdminToken(dataDir: string): AdminToken {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  let token = readSecretFile(path)?.trim();
  let created = false;
  if (token === undefined) {
    const fresh = PREFIX + randomBytes(32).toString("base64url");
    created = writeSecretFile(path, `${fresh}\n`);
    // Another process on the same data dir may have created it first: everyone uses the file's.
    token = created ? fresh : (readSecretFile(path) ?? "").trim();
  }
  if (token.length < MIN_LENGTH || /\s/.test(token)) {
    throw new Error(`${path} must hold one token of at least ${MIN_LENGTH} characters without spaces`);
  }
  const expected = digest(token);
  return {
    path,
    created,
    // Hashing both sides makes the comparison constant-time whatever the presented length.
    matches: (presented) => timingSafeEqual(digest(presented), expected),
  };
}

export interface AdminAuth {
  readonly token: AdminToken;
  readonly reads: "open" | "token";
}

/**
 * The admin authentication a control plane runs with: the token loaded (or created) when
 * MOORING_AUTH is on, undefined and a loud warning when it is off.
 */
export function adminAuthOf(
  config: { readonly auth: "on" | "off"; readonly authReads: "open" | "token" },
  dataDir: string,
  logger: Logger,
): AdminAuth | undefined {
  if (config.auth === "off") {
    logger.warn("authentication is off (MOORING_AUTH=off): anyone may connect and write; for local development only");
    return undefined;
  }
  const token = loadOrCreateAdminToken(dataDir);
  // The path only: the token itself never reaches a log.
  logger.info(
    { path: token.path, created: token.created, reads: config.authReads },
    "REST writes need the admin token kept in this file",
  );
  return { token, reads: config.authReads };
}
