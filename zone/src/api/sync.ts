import type { FastifyPluginAsync } from "fastify";
import type { SyncClient } from "../client/sync-client.js";
import { SyncStatusSchema } from "./schemas.js";

export const syncRoutes: FastifyPluginAsync<{ client: Pick<SyncClient, "status"> }> = async (app, { client }) => {
  // Where this zone stands with the global: connection, last session, applied revision, outbox.
  app.get(
    "/sync",
    {
      schema: {
        response: { 200: SyncStatusSchema },
      },
    },
    async () => client.status(),
  );
};
