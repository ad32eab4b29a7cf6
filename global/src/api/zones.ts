import {
  DnsLabel,
  errorResponses,
  listOf,
  MooringError,
  OneOf,
  type PageQuery,
  PageQuery as PageQuerySchema,
  pageBody,
  Timestamp,
} from "@mooring/shared";
import type { FastifyPluginAsync } from "fastify";
import Type from "typebox";
import type { SqliteStore } from "../store/sqlite-store.js";
import type { SyncHub, ZoneStatus } from "../sync/hub.js";

const Mode = OneOf(["full", "incremental", "reconcile"] as const);

export const Zone = Type.Object({
  name: Type.String(),
  zoneId: Type.String({ description: "issued by the global when the zone first connected" }),
  online: Type.Boolean({ description: "the zone has a live sync session" }),
  connectedAt: Type.Union([Timestamp, Type.Null()]),
  lastSeenAt: Type.Union([Timestamp, Type.Null()]),
  ackedRevision: Type.Integer({ description: "the last revision the zone confirmed it applied" }),
  lag: Type.Integer({ description: "head revision minus ackedRevision" }),
  generation: Type.Integer({ description: "sessions the zone has started; the live one holds the highest" }),
  mode: Type.Union([Mode, Type.Null()], { description: "mode of the last session" }),
  sessions: Type.Object({ full: Type.Integer(), incremental: Type.Integer(), reconcile: Type.Integer() }),
  upstreamWatermark: Type.Integer({ description: "the zone's last own revision the global applied" }),
  lastError: Type.Union([Type.String(), Type.Null()]),
});

const ZoneParams = Type.Object({ name: DnsLabel });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toZoneJson(zone: ZoneStatus) {
  return {
    name: zone.name,
    zoneId: zone.zoneId,
    online: zone.online,
    connectedAt: iso(zone.connectedAt),
    lastSeenAt: iso(zone.lastSeenAt),
    ackedRevision: zone.ackedRevision,
    lag: zone.lag,
    generation: zone.generation,
    mode: zone.lastMode,
    sessions: zone.sessions,
    upstreamWatermark: zone.upstreamWatermark,
    lastError: zone.lastError,
  };
}

export const zoneRoutes: FastifyPluginAsync<{ hub: SyncHub; store: SqliteStore }> = async (app, { hub, store }) => {
  const tags = ["Zone"];

  function find(name: string): ZoneStatus {
    const row = store.getZone(name);
    if (!row) throw new MooringError("NOT_FOUND", `zone ${name} not found`);
    return hub.status(row);
  }

  app.get<{ Querystring: PageQuery }>(
    "/zones",
    {
      schema: {
        tags,
        summary: "Zones that have connected, with their sync state",
        querystring: PageQuerySchema,
        response: { 200: listOf(Zone), ...errorResponses(400) },
      },
    },
    async (request) => {
      const page = store.listZones(request.query.offset, request.query.size);
      return pageBody(request.url, request.query, page, (row) => toZoneJson(hub.status(row)));
    },
  );

  app.get<{ Params: { name: string } }>(
    "/zones/:name",
    {
      schema: {
        tags,
        summary: "One zone's sync state",
        params: ZoneParams,
        response: { 200: Zone, ...errorResponses(400, 404) },
      },
    },
    async (request) => toZoneJson(find(request.params.name)),
  );

  app.delete<{ Params: { name: string } }>(
    "/zones/:name",
    {
      schema: {
        tags,
        summary: "Decommission a zone: end its session, delete its services (their VIPs enter quarantine)",
        params: ZoneParams,
        response: {
          200: Type.Object({ zone: Zone, removedServices: Type.Integer() }),
          ...errorResponses(400, 404),
        },
      },
    },
    async (request) => {
      const zone = find(request.params.name);
      const { removed } = hub.decommission(zone.name);
      return { zone: toZoneJson({ ...zone, online: false }), removedServices: removed };
    },
  );
};
