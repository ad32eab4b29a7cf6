import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createClient, SyncRequestSchema, ZoneSyncService } from "@mooring/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GrpcServerHandle, startGrpcServer } from "./server.js";

function finish<I, O>(stream: grpc.ClientDuplexStream<I, O>): Promise<grpc.ServiceError> {
  return new Promise((resolve, reject) => {
    stream.on("data", () => reject(new Error("no message was expected")));
    stream.on("error", resolve);
    stream.on("end", () => reject(new Error("stream ended without a status")));
  });
}

describe("global gRPC listener", () => {
  let server: GrpcServerHandle;
  let client: ReturnType<typeof createClient<typeof ZoneSyncService>>;
  beforeAll(async () => {
    server = await startGrpcServer(
      { host: "127.0.0.1", port: 0 },
      {
        maxMessageBytes: 1024,
        // Echo the first message's kind as a status, so the test sees what reached the handler.
        sync: (call) => {
          call.on("data", (request) => call.emit("error", { code: grpc.status.OK, details: request.message.case }));
          call.on("error", () => {});
        },
      },
    );
    client = createClient(ZoneSyncService, server.address, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it("ends a stream whose message is over the limit with RESOURCE_EXHAUSTED, before the handler sees it", async () => {
    const stream = client.sync();
    const status = finish(stream);
    stream.write(create(SyncRequestSchema, { message: { case: "hello", value: { zone: "z".repeat(2000) } } }));
    const error = await status;
    expect(error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it("serves the standard gRPC health service", async () => {
    const Health = grpc.makeGenericClientConstructor(
      {
        check: {
          path: "/grpc.health.v1.Health/Check",
          requestStream: false,
          responseStream: false,
          // HealthCheckRequest { string service = 1; } and HealthCheckResponse { ServingStatus status = 1; }
          requestSerialize: (service: string) =>
            Buffer.concat([Buffer.from([0x0a, service.length]), Buffer.from(service)]),
          requestDeserialize: (bytes: Buffer) => bytes.toString(),
          responseSerialize: () => Buffer.alloc(0),
          responseDeserialize: (bytes: Buffer) => (bytes.length >= 2 && bytes[0] === 0x08 ? bytes[1] : 0),
        },
      },
      "grpc.health.v1.Health",
    );
    const health = new Health(server.address, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<number>((resolve, reject) =>
        (health as unknown as { check: (s: string, cb: (e: Error | null, r?: number) => void) => void }).check(
          service,
          (error, status) => (error ? reject(error) : resolve(status ?? -1)),
        ),
      );
    // 1 = SERVING
    expect(await check("")).toBe(1);
    expect(await check("mooring.v1.ZoneSyncService")).toBe(1);
    health.close();
  });
});
