import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { addService, createClient, createServiceDefinition, type GrpcImplementation } from "./bridge.js";
import { SyncMode, SyncRequestSchema, type SyncResponse, SyncResponseSchema, ZoneSyncService } from "./index.js";

async function serve(implementation: GrpcImplementation<typeof ZoneSyncService>) {
  const server = new grpc.Server();
  addService(server, ZoneSyncService, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const client = createClient(ZoneSyncService, `127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return { server, client };
}

describe("grpc-js bridge", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it("describes the bidi Sync method with the protobuf path and stream flags", () => {
    const definition = createServiceDefinition(ZoneSyncService);
    expect(definition.sync.path).toBe("/mooring.v1.ZoneSyncService/Sync");
    expect(definition.sync.requestStream).toBe(true);
    expect(definition.sync.responseStream).toBe(true);
  });

  it("carries messages both ways over a real stream, 64-bit values intact", async () => {
    const { server, client } = await serve({
      sync(call) {
        call.on("data", (request) => {
          if (request.message.case !== "hello") return;
          call.write(
            create(SyncResponseSchema, {
              message: {
                case: "welcome",
                value: {
                  sessionId: `s-${request.message.value.zone}`,
                  mode: SyncMode.INCREMENTAL,
                  headRevision: (request.message.value.cursor?.revision ?? 0n) + 1n,
                },
              },
            }),
          );
          call.end();
        });
      },
    });
    cleanups.push(() => {
      client.close();
      server.forceShutdown();
    });
    const stream = client.sync();
    const received: SyncResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (response: SyncResponse) => received.push(response));
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    stream.write(
      create(SyncRequestSchema, {
        message: { case: "hello", value: { zone: "zone-1", cursor: { globalEpoch: "e", revision: 2n ** 60n } } },
      }),
    );
    stream.end();
    await done;
    expect(received).toHaveLength(1);
    const welcome = received[0]?.message;
    expect(welcome?.case).toBe("welcome");
    if (welcome?.case !== "welcome") throw new Error("no welcome");
    expect(welcome.value.sessionId).toBe("s-zone-1");
    expect(welcome.value.mode).toBe(SyncMode.INCREMENTAL);
    expect(welcome.value.headRevision).toBe(2n ** 60n + 1n);
  });

  it("decodes a message carrying fields it does not know (a newer peer)", () => {
    const definition = createServiceDefinition(ZoneSyncService);
    const known = toBinary(
      SyncRequestSchema,
      create(SyncRequestSchema, { message: { case: "ack", value: { revision: 7n } } }),
    );
    // Field 99, varint 1: unknown to this version.
    const withUnknown = Buffer.concat([Buffer.from(known), Buffer.from([0xf8, 0x06, 0x01])]);
    const decoded = definition.sync.requestDeserialize(withUnknown);
    expect(decoded.message.case).toBe("ack");
    expect(decoded.message.case === "ack" ? decoded.message.value.revision : undefined).toBe(7n);
  });

  it("reports the encoded size of each message to both sides, requests and responses apart", () => {
    const server = { request: [] as number[], response: [] as number[] };
    const client = { request: [] as number[], response: [] as number[] };
    const record = (into: { request: number[]; response: number[] }) => ({
      request: (bytes: number) => into.request.push(bytes),
      response: (bytes: number) => into.response.push(bytes),
    });
    const onServer = createServiceDefinition(ZoneSyncService, record(server)).sync;
    const onClient = createServiceDefinition(ZoneSyncService, record(client)).sync;
    const hello = create(SyncRequestSchema, { message: { case: "hello", value: { zone: "zone-1" } } });
    const welcome = create(SyncResponseSchema, { message: { case: "welcome", value: { sessionId: "s-1" } } });
    // Hello: 0x0a len { 0x0a 6 "zone-1" } = 10 bytes; Welcome: 0x0a len { 0x0a 3 "s-1" } = 7 bytes.
    onServer.requestDeserialize(onClient.requestSerialize(hello));
    onClient.responseDeserialize(onServer.responseSerialize(welcome));
    expect(client).toEqual({ request: [10], response: [7] });
    expect(server).toEqual({ request: [10], response: [7] });
    // Without sizes nothing is measured, and the functions are the plain ones.
    expect(createServiceDefinition(ZoneSyncService).sync.requestSerialize(hello).byteLength).toBe(10);
  });

  it("rejects handlers of the wrong shape at compile time", () => {
    const unaryShaped: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) => callback(null, {});
    // @ts-expect-error Sync is bidi streaming: a unary handler must not compile.
    const wrong: GrpcImplementation<typeof ZoneSyncService> = { sync: unaryShaped };
    // @ts-expect-error a service implementation must implement every method.
    const missing: GrpcImplementation<typeof ZoneSyncService> = {};
    expect([wrong, missing]).toHaveLength(2);
  });
});
