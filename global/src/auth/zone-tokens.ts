// Zone tokens: JWTs signed by this global (ES256, key created on first start and kept in the data
// directory), one per `POST /zone-tokens`. A token names one zone (`sub`) and has an id (`jti`) so
// that it can be revoked; revocations live in the database. The token itself is never stored.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { MooringError, readSecretFile, writeSecretFile } from "@mooring/shared";
import { type CryptoKey, errors, exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from "jose";
import type { SqliteStore } from "../store/sqlite-store.js";
import type { ZoneTokenRow } from "../store/types.js";

export const SIGNING_KEY_FILE = "zone-token-signing-key.json";
const ALGORITHM = "ES256";
const ISSUER = "mooring-global";
const AUDIENCE = "mooring-zone-sync";
/** Longer-lived credentials than this should be re-issued, not minted once and forgotten. */
export const MAX_VALIDITY_MS = 5 * 366 * 86_400_000;

export interface IssuedZoneToken extends ZoneTokenRow {
  readonly token: string;
}

export interface ZoneTokens {
  issue(zone: string, validForMs: number): Promise<IssuedZoneToken>;
  /** The token's record when it is valid for `zone`; an UNAUTHENTICATED or PERMISSION_DENIED MooringError otherwise. */
  verify(token: string, zone: string): Promise<Pick<ZoneTokenRow, "id" | "zone" | "expiresAt">>;
  revoke(id: string): ZoneTokenRow | undefined;
}

export interface ZoneTokensOptions {
  readonly dataDir: string;
  readonly store: SqliteStore;
  readonly now?: () => number;
}

interface StoredKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

async function loadOrCreateKey(path: string): Promise<StoredKey> {
  const text = readSecretFile(path);
  if (text !== undefined) {
    let jwk: JWK;
    try {
      jwk = JSON.parse(text) as JWK;
    } catch {
      throw new Error(
        `${path} is not a JSON Web Key; restore it from a backup (tokens it signed stop working otherwise)`,
      );
    }
    const { d: _private, ...publicJwk } = jwk;
    return {
      kid: jwk.kid ?? "",
      privateKey: (await importJWK(jwk, ALGORITHM)) as CryptoKey,
      publicKey: (await importJWK(publicJwk, ALGORITHM)) as CryptoKey,
    };
  }
  const pair = await generateKeyPair(ALGORITHM, { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(pair.privateKey)), kid, alg: ALGORITHM, use: "sig" };
  // Created only if absent: a second global on the same data dir would otherwise sign with a key
  // the file no longer holds.
  if (!writeSecretFile(path, `${JSON.stringify(jwk, null, 2)}\n`)) return loadOrCreateKey(path);
  return { kid, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

function unauthenticated(message: string): MooringError {
  return new MooringError("UNAUTHENTICATED", message);
}

export async function createZoneTokens(options: ZoneTokensOptions): Promise<ZoneTokens> {
  const now = options.now ?? Date.now;
  const { store } = options;
  const key = await loadOrCreateKey(join(options.dataDir, SIGNING_KEY_FILE));

  return {
    async issue(zone, validForMs) {
      const issuedAt = now();
      // JWT times are whole seconds; round the expiry up so a token never lives shorter than asked.
      const expiresAt = Math.ceil((issuedAt + validForMs) / 1000) * 1000;
      const id = randomUUID();
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: "JWT" })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(zone)
        .setJti(id)
        .setIssuedAt(Math.floor(issuedAt / 1000))
        .setExpirationTime(expiresAt / 1000)
        .sign(key.privateKey);
      const row = { id, zone, issuedAt, expiresAt };
      store.insertZoneToken(row);
      return { ...row, revokedAt: null, token };
    },

    async verify(token, zone) {
      if (token === "") {
        throw unauthenticated(
          `zone ${zone} sent no token; this global requires one (set MOORING_ZONE_TOKEN_FILE on the zone, issued by POST /zone-tokens)`,
        );
      }
      let claims: { sub?: string; jti?: string; exp?: number };
      try {
        ({ payload: claims } = await jwtVerify(token, key.publicKey, {
          algorithms: [ALGORITHM],
          issuer: ISSUER,
          audience: AUDIENCE,
          requiredClaims: ["sub", "jti", "exp"],
          currentDate: new Date(now()),
        }));
      } catch (error) {
        throw unauthenticated(describeJoseError(error, zone));
      }
      const id = claims.jti ?? "";
      const subject = claims.sub ?? "";
      const expiresAt = (claims.exp ?? 0) * 1000;
      const record = store.getZoneToken(id);
      if (record?.revokedAt != null) {
        throw unauthenticated(`zone token ${id} was revoked at ${new Date(record.revokedAt).toISOString()}`);
      }
      if (subject !== zone) {
        throw new MooringError(
          "PERMISSION_DENIED",
          `zone token ${id} was issued for zone ${JSON.stringify(subject)}; it cannot be used as zone ${JSON.stringify(zone)}`,
        );
      }
      return { id, zone: subject, expiresAt };
    },

    revoke(id) {
      return store.revokeZoneToken(id, now());
    },
  };
}

/** What went wrong with a token, in words for the zone's operator (never echoing the token). */
function describeJoseError(error: unknown, zone: string): string {
  if (error instanceof errors.JWTExpired) {
    const exp = (error.payload as { exp?: number }).exp;
    const when = exp ? ` at ${new Date(exp * 1000).toISOString()}` : "";
    return `zone ${zone}'s token expired${when}; issue a new one with POST /zone-tokens`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return `zone ${zone}'s token is not signed by this global (another global's, or its signing key was replaced)`;
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return `zone ${zone}'s token has an invalid ${error.claim} claim (${error.reason}); it is not a zone token of this global`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return `zone ${zone}'s token is signed with an algorithm other than ${ALGORITHM}`;
  }
  return `zone ${zone}'s token is malformed; it is not a zone token of this global`;
}
