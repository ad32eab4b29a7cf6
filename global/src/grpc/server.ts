import * as grpc from "@grpc/grpc-js";
import { addService, type GrpcImplementation, ZoneSyncService } from "@mooring/proto";
import { formatAddress, type ListenAddress, MooringError } from "@mooring/shared";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";

export interface GrpcServerHandle {
  readonly address: string;
  readonly health: HealthImplementation;
  close(): Promise<void>;
}

/**
 * Until zone sync lands, a zone that dials gets a precise UNIMPLEMENTED instead of a hang: the
 * stream reads the Hello (so malformed input is still rejected as such) and ends with a status.
 */
export function createPendingSyncService(logger: Logger): GrpcImplementation<typeof ZoneSyncService> {
  return {
    sync(call) {
      let ended = false;
      const end = (code: grpc.status, details: string) => {
        if (ended) return;
        ended = true;
        call.emit("error", { code, details });
      };
      call.on("data", (request) => {
        if (request.message.case !== "hello") {
          end(grpc.status.INVALID_ARGUMENT, "the first message on a sync stream must be Hello");
          return;
        }
        logger.info({ zone: request.message.value.zone }, "zone dialled; sync is not served by this version");
        end(grpc.status.UNIMPLEMENTED, "zone sync is not served by this version of mooring-global");
      });
      call.on("error", () => {
        ended = true;
      });
    },
  };
}

export async function startGrpcServer(listen: ListenAddress, logger: Logger): Promise<GrpcServerHandle> {
  const log = logger.child({ component: "grpc" });
  const server = new grpc.Server();
  const health = new HealthImplementation({ "": "SERVING", [ZoneSyncService.typeName]: "SERVING" });
  health.addToServer(server);
  addService(server, ZoneSyncService, createPendingSyncService(log));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(formatAddress(listen), grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error
        ? reject(
            new MooringError("INTERNAL", `gRPC cannot listen on ${formatAddress(listen)}: ${error.message}`, {
              cause: error,
            }),
          )
        : resolve(bound),
    );
  });
  return {
    address: formatAddress({ host: listen.host, port }),
    health,
    close: () =>
      new Promise<void>((resolve) => {
        health.setStatus("", "NOT_SERVING");
        const timer = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
