// Schemas of the zone's own endpoints. The MeshService and paging schemas are the global's, from
// @mooring/shared, so a client reads both control planes with one model.
import { DnsLabel, MeshServicePutBody as GlobalPutBody, OneOf, Timestamp } from "@mooring/shared";
import Type, { type Static } from "typebox";
import { SYNC_STATES } from "../metrics.js";
import { SESSION_MODES } from "../sync/mode.js";

/**
 * The global's PUT body plus `zone`: a GET of a zone's own service carries `zone`, and editing that
 * result and PUTting it back must work. The handler checks it names this zone.
 */
export const ZonePutBody = Type.Object(
  { ...GlobalPutBody.properties, zone: Type.Optional(DnsLabel) },
  { additionalProperties: false },
);
export type ZonePutBody = Static<typeof ZonePutBody>;

export const ZoneServiceParams = Type.Object({ mesh: DnsLabel, zone: DnsLabel, name: DnsLabel });
export type ZoneServiceParams = Static<typeof ZoneServiceParams>;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const SyncStatusSchema = Type.Object({
  state: OneOf(SYNC_STATES),
  mode: Nullable(OneOf(SESSION_MODES)),
  globalEpoch: Nullable(Type.String()),
  appliedRevision: Type.Integer(),
  sessions: Type.Object({ full: Type.Integer(), incremental: Type.Integer(), reconcile: Type.Integer() }),
  connectedAt: Nullable(Timestamp),
  lastError: Nullable(Type.String()),
  upstream: Type.Object({ pending: Type.Integer(), acked: Type.Integer() }),
  instanceId: Type.String(),
  storeId: Type.String(),
});
