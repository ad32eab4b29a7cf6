import {
  DnsLabel,
  errorResponses,
  listOf,
  MeshParams,
  MeshServiceParams,
  MeshServicePutBody,
  MeshServiceSchema,
  MooringError,
  type PageQuery,
  PageQuery as PageQuerySchema,
  pageBody,
  toMeshServiceJson,
  validationError,
} from "@mooring/shared";
import type { FastifyPluginAsync } from "fastify";
import Type from "typebox";
import type { Manager } from "../manager/manager.js";
import type { GroupCommit } from "../store/group-commit.js";

export const meshServiceRoutes: FastifyPluginAsync<{ manager: Manager; writes: GroupCommit }> = async (
  app,
  { manager, writes },
) => {
  const tags = ["MeshService"];

  app.get<{ Params: { mesh: string }; Querystring: PageQuery }>(
    "/meshes/:mesh/meshservices",
    {
      schema: {
        tags,
        summary: "List the MeshServices of a mesh, global-owned and zone-owned",
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

  app.get<{ Params: MeshServiceParams }>(
    "/meshes/:mesh/meshservices/:name",
    {
      schema: {
        tags,
        summary: "Get a global-owned MeshService",
        params: MeshServiceParams,
        response: { 200: MeshServiceSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => toMeshServiceJson(manager.getMeshService({ ...request.params, zone: "" })),
  );

  app.put<{ Params: MeshServiceParams; Body: MeshServicePutBody }>(
    "/meshes/:mesh/meshservices/:name",
    {
      schema: {
        tags,
        summary: "Create or update a global-owned MeshService",
        description:
          "Identical content is a no-op (same revision, no change). A new service is leased a VIP in the " +
          "same transaction; an edit keeps it. Answers 201 when created, 200 otherwise.",
        params: MeshServiceParams,
        body: MeshServicePutBody,
        response: { 200: MeshServiceSchema, 201: MeshServiceSchema, ...errorResponses(400, 409, 413, 415, 507) },
      },
    },
    async (request, reply) => {
      const { mesh, name } = request.params;
      const body = request.body;
      const mismatches = [
        ...(body.mesh !== undefined && body.mesh !== mesh
          ? [{ field: "mesh", reason: `must equal the path's mesh "${mesh}"` }]
          : []),
        ...(body.name !== undefined && body.name !== name
          ? [{ field: "name", reason: `must equal the path's name "${name}"` }]
          : []),
      ];
      if (mismatches.length > 0) throw validationError(mismatches);
      const { service, outcome } = await writes.run(() =>
        manager.putMeshService(
          { mesh, zone: "", name },
          { labels: body.labels, spec: body.spec },
          { expectedRevision: body.revision, echoedVips: body.status?.vips?.map((vip) => vip.ip) },
        ),
      );
      reply.code(outcome === "created" ? 201 : 200);
      return toMeshServiceJson(service);
    },
  );

  app.delete<{ Params: MeshServiceParams }>(
    "/meshes/:mesh/meshservices/:name",
    {
      schema: {
        tags,
        summary: "Delete a global-owned MeshService; its VIP enters quarantine",
        params: MeshServiceParams,
        response: { 200: MeshServiceSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) =>
      toMeshServiceJson(await writes.run(() => manager.deleteMeshService({ ...request.params, zone: "" }))),
  );

  const ZoneServiceParams = Type.Object({ mesh: DnsLabel, zone: DnsLabel, name: DnsLabel });
  type ZoneServiceParams = { mesh: string; zone: string; name: string };

  app.get<{ Params: ZoneServiceParams }>(
    "/meshes/:mesh/zones/:zone/meshservices/:name",
    {
      schema: {
        tags,
        summary: "Get a zone-owned MeshService (read-only here: it is written in its zone)",
        params: ZoneServiceParams,
        response: { 200: MeshServiceSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => toMeshServiceJson(manager.getMeshService(request.params)),
  );

  // Writes to a zone's service are refused with a pointer to where they belong, not a bare 404.
  for (const method of ["PUT", "DELETE"] as const) {
    app.route<{ Params: ZoneServiceParams }>({
      method,
      url: "/meshes/:mesh/zones/:zone/meshservices/:name",
      schema: {
        tags,
        summary: `Refused: zone-owned MeshServices are written in their zone (${method} answers 405)`,
        params: ZoneServiceParams,
        response: errorResponses(400, 405),
      },
      handler: async (request, reply) => {
        const { mesh, zone, name } = request.params;
        reply.header("allow", "GET");
        throw new MooringError(
          "ZONE_OWNED",
          `MeshService ${mesh}/${zone}/${name} is owned by zone ${zone}; write it through that zone's API`,
        );
      },
    });
  }
};
