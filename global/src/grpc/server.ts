import * as grpc from "@grpc/grpc-js";
import { addService, type GrpcImplementation, ZoneSyncService } from "@mooring/proto";
import { formatAddress, type ListenAddress, MooringError } from "@mooring/shared";
import { HealthImplementation } from "grpc-health-check";

export interface GrpcServerHandle {
  readonly address: string;
  readonly health: HealthImplementation;
  close(): Promise<void>;
}

export interface GrpcServerOptions {
  /** ZoneSyncService.Sync: the sync hub's stream handler. */
  readonly sync: GrpcImplementation<typeof ZoneSyncService>["sync"];
  /** Largest message accepted or sent; a bigger one ends its stream with RESOURCE_EXHAUSTED. */
  readonly maxMessageBytes: number;
}

export async function startGrpcServer(listen: ListenAddress, options: GrpcServerOptions): Promise<GrpcServerHandle> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.maxMessageBytes,
    "grpc.max_send_message_length": options.maxMessageBytes,
  });
  const health = new HealthImplementation({ "": "SERVING", [ZoneSyncService.typeName]: "SERVING" });
  health.addToServer(server);
  addService(server, ZoneSyncService, { sync: options.sync });
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
