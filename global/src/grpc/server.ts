import * as grpc from "@grpc/grpc-js";
import { addService, type GrpcImplementation, type MessageSizes, ZoneSyncService } from "@mooring/proto";
import { formatAddress, type ListenAddress, MooringError } from "@mooring/shared";
import { HealthImplementation } from "grpc-health-check";
import { createReflection } from "./reflection.js";

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
  /** Told the size of every sync message received (`request`) and sent (`response`), for metrics. */
  readonly messageSizes?: MessageSizes;
  /** TLS: certificate chain and key (PEM); with `clientCa`, zones must present a certificate it signed. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa?: Buffer };
}

function credentialsOf(tls: GrpcServerOptions["tls"]): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    tls.clientCa ?? null,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    tls.clientCa !== undefined,
  );
}

export async function startGrpcServer(listen: ListenAddress, options: GrpcServerOptions): Promise<GrpcServerHandle> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.maxMessageBytes,
    "grpc.max_send_message_length": options.maxMessageBytes,
  });
  const health = new HealthImplementation({ "": "SERVING", [ZoneSyncService.typeName]: "SERVING" });
  health.addToServer(server);
  addService(server, ZoneSyncService, { sync: options.sync }, options.messageSizes);
  // Read-only metadata (the services and their message types), served on every gRPC port whatever
  // the authentication: zone tokens guard the sync stream's data, not its schema.
  createReflection().addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(formatAddress(listen), credentialsOf(options.tls), (error, bound) =>
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
        // tryShutdown waits for every connection to end; a partitioned zone's (open TCP, no
        // traffic) never does, and forceShutdown does not always release that wait (grpc-js
        // 1.14): after the grace period, stop waiting.
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
