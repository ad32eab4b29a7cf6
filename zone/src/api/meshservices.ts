import {
  errorResponses,
  listOf,
  MeshParams,
  MeshServiceParams,
  MeshServiceSchema,
  type PageQuery,
  PageQuery as PageQuerySchema,
  pageBody,
  toMeshServiceJson,
  validationError,
} from "@mooring/shared";
import type { FastifyPluginAsync } from "fastify";
import type { ZoneManager } from "../manager/manager.js";
import { ZonePutBody, ZoneServiceParams } from "./schemas.js";

export interface MeshServiceRoutesOptions {
  readonly manager: ZoneManager;
  readonly zone: string;
}

export const meshServiceRoutes: FastifyPluginAsync<MeshServiceRoutesOptions> = async (app, { manager, zone }) => {
  // Everything this zone knows in a mesh, with VIPs; its own services as edited here.
  app.get<{ Params: { mesh: string }; Querystring: PageQuery }>(
    "/meshes/:mesh/meshservices",
    {
      schema: {
        params: MeshParams,
        querystring: PageQuerySchema,
        response: { 200: listOf(MeshServiceSchema), ...errorResponses(400) },
      },
    },
    async (request) => {
      const page = manager.listMeshServices(request.params.mesh, request.query.offset, request.query.size);
      return pageBody(request.url, request.query, page, toMeshServiceJson);
    },
  );

  // One of this zone's own services.
  app.get<{ Params: { mesh: string; name: string } }>(
    "/meshes/:mesh/meshservices/:name",
    {
      schema: {
        params: MeshServiceParams,
        response: { 200: MeshServiceSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => toMeshServiceJson(manager.getMeshService({ ...request.params, zone })),
  );

  // Creates or updates one of this zone's own services. Identical content is a no-op (200, nothing
  // written or sent); otherwise the outbox row is written and the sync client sends it up. VIPs and
  // the revision come from the global once it has applied the service. 201 when created.
  app.put<{ Params: { mesh: string; name: string }; Body: ZonePutBody }>(
    "/meshes/:mesh/meshservices/:name",
    {
      schema: {
        params: MeshServiceParams,
        body: ZonePutBody,
        response: { 200: MeshServiceSchema, 201: MeshServiceSchema, ...errorResponses(400, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      const { mesh, name } = request.params;
      const body = request.body;
      const mismatches = [
        ...(body.mesh !== undefined && body.mesh !== mesh
          ? [{ field: "mesh", reason: `must equal the path's mesh "${mesh}"` }]
          : []),
        ...(body.zone !== undefined && body.zone !== zone
          ? [{ field: "zone", reason: `must be this zone, "${zone}": a zone writes only its own services` }]
          : []),
        ...(body.name !== undefined && body.name !== name
          ? [{ field: "name", reason: `must equal the path's name "${name}"` }]
          : []),
      ];
      if (mismatches.length > 0) throw validationError(mismatches);
      const { service, outcome } = manager.putMeshService(
        mesh,
        name,
        { labels: body.labels, spec: body.spec },
        { expectedRevision: body.revision, echoedVips: body.status?.vips?.map((vip) => vip.ip) },
      );
      reply.code(outcome === "created" ? 201 : 200);
      return toMeshServiceJson(service);
    },
  );

  // Deletes one of this zone's own services: hidden at once, a tombstone until the global applies it.
  app.delete<{ Params: { mesh: string; name: string } }>(
    "/meshes/:mesh/meshservices/:name",
    {
      schema: {
        params: MeshServiceParams,
        response: { 200: MeshServiceSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => toMeshServiceJson(manager.deleteMeshService(request.params.mesh, request.params.name)),
  );

  // A zone-owned service of any zone, as this zone knows it (read-only, like the global's route).
  app.get<{ Params: ZoneServiceParams }>(
    "/meshes/:mesh/zones/:zone/meshservices/:name",
    {
      schema: {
        params: ZoneServiceParams,
        response: { 200: MeshServiceSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => toMeshServiceJson(manager.getMeshService(request.params)),
  );
};
