import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createClient, SyncRequestSchema, ZoneSyncService } from "@mooring/proto";
import { createLogger } from "@mooring/shared";
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
    server = await startGrpcServer({ host: "127.0.0.1", port: 0 }, createLogger({ level: "silent", service: "test" }));
    client = createClient(ZoneSyncService, server.address, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it("answers a Hello with UNIMPLEMENTED until zone sync is served", async () => {
    const stream = client.sync();
    const status = finish(stream);
    stream.write(create(SyncRequestSchema, { message: { case: "hello", value: { zone: "zone-1" } } }));
    const error = await status;
    expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(error.details).toBe("zone sync is not served by this version of mooring-global");
  });

  it("rejects a stream that does not start with Hello", async () => {
    const stream = client.sync();
    const status = finish(stream);
    stream.write(create(SyncRequestSchema, { message: { case: "ack", value: { revision: 1n } } }));
    const error = await status;
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
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
