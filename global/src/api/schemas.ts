// Schemas of the global's own resources (leases, pins). The MeshService and paging schemas are
// shared with the zone and live in @mooring/shared.
import { DnsLabel, OneOf, Timestamp } from "@mooring/shared";
import Type, { type Static } from "typebox";

export const Lease = Type.Object({
  ip: Type.String(),
  family: Type.Union([Type.Literal(4), Type.Literal(6)]),
  mesh: Type.String(),
  zone: Type.Optional(Type.String()),
  name: Type.String(),
  state: OneOf(["bound", "quarantined", "reclaimable", "reserved"] as const),
  pinned: Type.Boolean(),
  leasedAt: Timestamp,
  releasedAt: Type.Optional(Timestamp),
  quarantineEndsAt: Type.Optional(Timestamp),
});

export const LeaseEvent = Type.Object({
  at: Timestamp,
  event: Type.String(),
  reason: Type.String(),
  mesh: Type.String(),
  zone: Type.Optional(Type.String()),
  name: Type.String(),
});

export const LeaseDetail = Type.Intersect([Lease, Type.Object({ events: Type.Array(LeaseEvent) })]);

export const IpParams = Type.Object({ ip: Type.String({ minLength: 1, maxLength: 64 }) });
export type IpParams = Static<typeof IpParams>;

export const PinBody = Type.Object(
  { mesh: DnsLabel, name: DnsLabel, zone: Type.Optional(DnsLabel) },
  { additionalProperties: false },
);
export type PinBody = Static<typeof PinBody>;
