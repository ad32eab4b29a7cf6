import { errorResponses, listOf, type PageQuery, PageQuery as PageQuerySchema, pageBody } from "@mooring/shared";
import type { FastifyPluginAsync } from "fastify";
import type { LeaseView, Manager } from "../manager/manager.js";
import type { GroupCommit } from "../store/group-commit.js";
import type { LeaseEventRow } from "../store/types.js";
import { IpParams, Lease, LeaseDetail, PinBody } from "./schemas.js";

const iso = (ms: number) => new Date(ms).toISOString();

function toLeaseJson({ lease, state, quarantineEndsAt }: LeaseView) {
  return {
    ip: lease.ip,
    family: lease.family,
    mesh: lease.mesh,
    ...(lease.zone === "" ? {} : { zone: lease.zone }),
    name: lease.name,
    state,
    pinned: lease.pinned,
    leasedAt: iso(lease.leasedAt),
    ...(lease.releasedAt === null ? {} : { releasedAt: iso(lease.releasedAt) }),
    ...(quarantineEndsAt === undefined ? {} : { quarantineEndsAt: iso(quarantineEndsAt) }),
  };
}

function toEventJson(event: LeaseEventRow) {
  return {
    at: iso(event.at),
    event: event.event,
    reason: event.reason,
    mesh: event.mesh,
    ...(event.zone === "" ? {} : { zone: event.zone }),
    name: event.name,
  };
}

export const vipRoutes: FastifyPluginAsync<{ manager: Manager; writes: GroupCommit }> = async (
  app,
  { manager, writes },
) => {
  const tags = ["VIP"];

  app.get<{ Querystring: PageQuery }>(
    "/vips",
    {
      schema: {
        tags,
        summary: "List VIP leases (bound, quarantined, reclaimable, reserved)",
        querystring: PageQuerySchema,
        response: { 200: listOf(Lease), ...errorResponses(400) },
      },
    },
    async (request) => {
      const page = manager.listLeases(request.query.offset, request.query.size);
      return pageBody(request.url, request.query, page, toLeaseJson);
    },
  );

  app.get<{ Params: IpParams }>(
    "/vips/:ip",
    {
      schema: {
        tags,
        summary: "One lease with its most recent audit events",
        params: IpParams,
        response: { 200: LeaseDetail, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const lease = manager.getLease(request.params.ip, 50);
      return { ...toLeaseJson(lease), events: lease.events.map(toEventJson) };
    },
  );

  app.put<{ Params: IpParams; Body: PinBody }>(
    "/vips/:ip",
    {
      schema: {
        tags,
        summary: "Pin an address to a service identity (before or after the service exists)",
        description:
          "Rejected with 409 when another identity holds the address, or when the identity already holds a " +
          "different address: a VIP is never taken and never moved.",
        params: IpParams,
        body: PinBody,
        response: { 200: Lease, 201: Lease, ...errorResponses(400, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      const { mesh, name, zone = "" } = request.body;
      const { lease, created } = await writes.run(() => manager.pinVip(request.params.ip, { mesh, zone, name }));
      reply.code(created ? 201 : 200);
      return toLeaseJson(lease);
    },
  );

  app.delete<{ Params: IpParams }>(
    "/vips/:ip",
    {
      schema: {
        tags,
        summary: "Delete a lease that no live service holds (quarantined or reserved)",
        params: IpParams,
        response: { 204: { type: "null" }, ...errorResponses(400, 404, 409) },
      },
    },
    async (request, reply) => {
      await writes.run(() => manager.deleteVip(request.params.ip));
      reply.code(204);
    },
  );
};
