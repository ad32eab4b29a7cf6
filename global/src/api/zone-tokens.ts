// Zone tokens: issue (POST), list (GET, without the tokens themselves) and revoke (DELETE). Revoking
// a token also ends the live session that authenticated with it.
import {
  DnsLabel,
  errorResponses,
  listOf,
  MooringError,
  type PageQuery,
  PageQuery as PageQuerySchema,
  pageBody,
  parseDuration,
  Timestamp,
  validationError,
} from "@mooring/shared";
import type { FastifyPluginAsync } from "fastify";
import Type from "typebox";
import { MAX_VALIDITY_MS, type ZoneTokens } from "../auth/zone-tokens.js";
import type { SqliteStore } from "../store/sqlite-store.js";
import type { ZoneTokenRow } from "../store/types.js";
import type { SyncHub } from "../sync/hub.js";

const ZoneToken = Type.Object({
  id: Type.String({ format: "uuid" }),
  zone: Type.String(),
  issuedAt: Timestamp,
  expiresAt: Timestamp,
  revokedAt: Type.Union([Timestamp, Type.Null()]),
});

const IssuedZoneToken = Type.Object({
  token: Type.String({ description: "the JWT the zone presents; shown once, never stored" }),
  ...ZoneToken.properties,
});

const IssueBody = Type.Object(
  {
    zone: DnsLabel,
    validFor: Type.String({
      minLength: 1,
      maxLength: 32,
      description: 'how long the token is valid, e.g. "24h", "30d", "90m"; at most 5 years',
    }),
  },
  { additionalProperties: false },
);
type IssueBody = { zone: string; validFor: string };

const TokenParams = Type.Object({ id: Type.String({ format: "uuid" }) });

const iso = (ms: number) => new Date(ms).toISOString();

function toZoneTokenJson(row: ZoneTokenRow) {
  return {
    id: row.id,
    zone: row.zone,
    issuedAt: iso(row.issuedAt),
    expiresAt: iso(row.expiresAt),
    revokedAt: row.revokedAt === null ? null : iso(row.revokedAt),
  };
}

function validityOf(raw: string): number {
  let ms: number;
  try {
    ms = parseDuration(raw);
  } catch (error) {
    throw validationError([{ field: "validFor", reason: (error as Error).message }]);
  }
  if (ms < 1000) throw validationError([{ field: "validFor", reason: "must be at least 1s" }]);
  if (ms > MAX_VALIDITY_MS) throw validationError([{ field: "validFor", reason: "must be at most 5 years (1830d)" }]);
  return ms;
}

export const zoneTokenRoutes: FastifyPluginAsync<{ tokens: ZoneTokens; store: SqliteStore; hub?: SyncHub }> = async (
  app,
  { tokens, store, hub },
) => {
  const tags = ["Zone"];

  app.post<{ Body: IssueBody }>(
    "/zone-tokens",
    {
      schema: {
        tags,
        summary: "Issue a signed token a zone presents when it connects (MOORING_ZONE_TOKEN_FILE)",
        body: IssueBody,
        response: {
          201: IssuedZoneToken,
          ...errorResponses(400, 401),
        },
      },
    },
    async (request, reply) => {
      const validFor = validityOf(request.body.validFor);
      const issued = await tokens.issue(request.body.zone, validFor);
      request.log.info(
        { zone: issued.zone, tokenId: issued.id, expiresAt: iso(issued.expiresAt) },
        "zone token issued",
      );
      reply.code(201);
      return { token: issued.token, ...toZoneTokenJson(issued) };
    },
  );

  app.get<{ Querystring: PageQuery }>(
    "/zone-tokens",
    {
      schema: {
        tags,
        summary: "Issued zone tokens (ids and validity, never the tokens themselves)",
        querystring: PageQuerySchema,
        response: { 200: listOf(ZoneToken), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const page = store.listZoneTokens(request.query.offset, request.query.size);
      return pageBody(request.url, request.query, page, toZoneTokenJson);
    },
  );

  app.delete<{ Params: { id: string } }>(
    "/zone-tokens/:id",
    {
      schema: {
        tags,
        summary: "Revoke a zone token: the zone cannot connect with it again, and its live session ends",
        params: TokenParams,
        response: { 200: ZoneToken, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const row = tokens.revoke(id);
      if (!row) throw new MooringError("NOT_FOUND", `zone token ${id} not found`);
      const ended = hub?.revokeToken(id) ?? 0;
      request.log.info({ zone: row.zone, tokenId: id, endedSessions: ended }, "zone token revoked");
      return toZoneTokenJson(row);
    },
  );
};
