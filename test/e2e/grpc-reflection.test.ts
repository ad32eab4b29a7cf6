// gRPC server reflection on the real global's gRPC port: a grpc-js client speaking
// grpc.reflection.v1 (and v1alpha) by hand, `buf curl` (a Go client, strict about descriptors)
// listing and calling methods, and reflection over mutual TLS. Authentication is on, as by default:
// reflection is read-only metadata and needs no zone token.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCertificates, type TestCertificates } from "../helpers/certs.js";
import {
  type GlobalProcess,
  killAllGlobals,
  makeTempDir,
  removeTempDirs,
  startGlobalProcess,
} from "../helpers/global-process.js";

const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
const V1ALPHA = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

type ReflectionRequest = { fileContainingSymbol: string } | { fileByFilename: string } | { listServices: string };

interface ReflectionAnswer {
  readonly services?: string[];
  readonly files?: FileDescriptorProto[];
  readonly error?: { readonly code: number; readonly message: string };
}

// ServerReflectionRequest: file_by_filename = 3, file_containing_symbol = 4, list_services = 7.
function encodeRequest(request: ReflectionRequest): Buffer {
  const writer = new BinaryWriter();
  if ("fileByFilename" in request) writer.tag(3, 2).string(request.fileByFilename);
  if ("fileContainingSymbol" in request) writer.tag(4, 2).string(request.fileContainingSymbol);
  if ("listServices" in request) writer.tag(7, 2).string(request.listServices);
  return Buffer.from(writer.finish());
}

function repeatedBytes(bytes: Uint8Array, field: number): Uint8Array[] {
  const reader = new BinaryReader(bytes);
  const found: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (number === field) found.push(reader.bytes());
    else reader.skip(wireType);
  }
  return found;
}

// ServerReflectionResponse: file_descriptor_response = 4 {repeated bytes = 1},
// list_services_response = 6 {repeated ServiceResponse{name = 1} = 1}, error_response = 7 {code = 1, message = 2}.
function decodeResponse(bytes: Buffer): ReflectionAnswer {
  const reader = new BinaryReader(bytes);
  let answer: ReflectionAnswer = {};
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (number === 4) {
      const files = repeatedBytes(reader.bytes(), 1).map((file) => fromBinary(FileDescriptorProtoSchema, file));
      answer = { ...answer, files };
    } else if (number === 6) {
      const services = repeatedBytes(reader.bytes(), 1).map((service) =>
        new TextDecoder().decode(repeatedBytes(service, 1)[0]),
      );
      answer = { ...answer, services };
    } else if (number === 7) {
      const error = new BinaryReader(reader.bytes());
      let code = 0;
      let message = "";
      while (error.pos < error.len) {
        const [field, type] = error.tag();
        if (field === 1) code = error.int32();
        else if (field === 2) message = error.string();
        else error.skip(type);
      }
      answer = { ...answer, error: { code, message } };
    } else reader.skip(wireType);
  }
  return answer;
}

/** One request on one ServerReflectionInfo stream, with a grpc-js client. */
function reflect(
  address: string,
  request: ReflectionRequest,
  options: { credentials?: grpc.ChannelCredentials; path?: string } = {},
): Promise<ReflectionAnswer> {
  const identity = (bytes: Buffer) => bytes;
  const Client = grpc.makeGenericClientConstructor(
    {
      info: {
        path: options.path ?? V1,
        requestStream: true,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    "ServerReflection",
  );
  const client = new Client(address, options.credentials ?? grpc.credentials.createInsecure());
  const call = (client as unknown as { info(): grpc.ClientDuplexStream<Buffer, Buffer> }).info();
  return new Promise<ReflectionAnswer>((resolve, reject) => {
    call.on("data", (bytes: Buffer) => {
      resolve(decodeResponse(bytes));
      call.end();
    });
    call.on("error", reject);
    call.on("end", () => reject(new Error("the reflection stream ended without an answer")));
    call.write(encodeRequest(request));
  }).finally(() => client.close());
}

function filesOf(answer: ReflectionAnswer): FileDescriptorProto[] {
  if (!answer.files) throw new Error(`no file descriptors in the answer: ${JSON.stringify(answer)}`);
  return answer.files;
}

const run = promisify(execFile);

afterAll(async () => {
  await killAllGlobals();
  await removeTempDirs();
});

describe("gRPC server reflection on the global", () => {
  let global: GlobalProcess;
  beforeAll(async () => {
    global = await startGlobalProcess();
  });
  afterAll(async () => {
    await global.stop();
  });

  it("lists the sync and health services (v1 and v1alpha)", async () => {
    // Authentication is on: the global wrote an admin token, and reflection still answers without one.
    expect(global.adminToken).toMatch(/\S{20,}/);
    const v1 = await reflect(global.grpc, { listServices: "*" });
    expect(v1.services?.sort()).toEqual(["grpc.health.v1.Health", "mooring.v1.ZoneSyncService"]);
    const v1alpha = await reflect(global.grpc, { listServices: "*" }, { path: V1ALPHA });
    expect(v1alpha.services?.sort()).toEqual(["grpc.health.v1.Health", "mooring.v1.ZoneSyncService"]);
  });

  it("answers FileContainingSymbol with the file and its imports, enough to build every type", async () => {
    const files = filesOf(await reflect(global.grpc, { fileContainingSymbol: "mooring.v1.ZoneSyncService" }));
    expect(files.map((file) => [file.name, file.dependency])).toEqual([
      ["mooring/v1/sync.proto", ["mooring/v1/resources.proto"]],
      ["mooring/v1/resources.proto", []],
    ]);
    // Built from the answer alone: an import missing from it would throw here.
    const [root] = files as [FileDescriptorProto];
    const registry = createFileRegistry(root, (name) => files.find((file) => file.name === name));
    const sync = registry.getService("mooring.v1.ZoneSyncService")?.methods[0];
    expect([sync?.name, sync?.methodKind, sync?.input.typeName, sync?.output.typeName]).toEqual([
      "Sync",
      "bidi_streaming",
      "mooring.v1.SyncRequest",
      "mooring.v1.SyncResponse",
    ]);
    // MeshService comes from the imported resources.proto.
    expect(registry.getMessage("mooring.v1.MeshService")?.fields.map((field) => field.name)).toEqual([
      "key",
      "labels",
      "spec",
      "vips",
      "content_hash",
      "revision",
      "creation_time_unix_ms",
      "modification_time_unix_ms",
    ]);

    const health = filesOf(await reflect(global.grpc, { fileContainingSymbol: "grpc.health.v1.Health.Check" }));
    expect(health.map((file) => file.name)).toEqual(["grpc/health/v1/health.proto"]);
    const byName = filesOf(await reflect(global.grpc, { fileByFilename: "mooring/v1/resources.proto" }));
    expect(byName.map((file) => file.name)).toEqual(["mooring/v1/resources.proto"]);
  });

  it("answers an unknown symbol with NOT_FOUND in the stream, not by failing it", async () => {
    const answer = await reflect(global.grpc, { fileContainingSymbol: "mooring.v1.NoSuchService" });
    expect(answer.error).toEqual({
      code: grpc.status.NOT_FOUND,
      message: "Symbol not found: mooring.v1.NoSuchService",
    });
  });

  it("lets `buf curl` list the methods and call the health check, offline", async () => {
    const base = `http://${global.grpc}`;
    const flags = ["curl", "--protocol", "grpc", "--http2-prior-knowledge"];
    const listed = await run(BUF, [...flags, "--list-methods", base]);
    expect(listed.stdout.trim().split("\n")).toEqual([
      "grpc.health.v1.Health/Check",
      "grpc.health.v1.Health/List",
      "grpc.health.v1.Health/Watch",
      "mooring.v1.ZoneSyncService/Sync",
    ]);
    const checked = await run(BUF, [
      ...flags,
      "-d",
      '{"service":"mooring.v1.ZoneSyncService"}',
      `${base}/grpc.health.v1.Health/Check`,
    ]);
    expect(JSON.parse(checked.stdout)).toEqual({ status: "SERVING" });
  });
});

describe("gRPC server reflection over mutual TLS", () => {
  let certs: TestCertificates;
  beforeAll(async () => {
    certs = makeCertificates(await makeTempDir("mooring-e2e-certs-"));
  });

  it("answers a client with a certificate the sync client CA signed, and no client without one", async () => {
    const global = await startGlobalProcess({
      env: { MOORING_TLS_CERT: certs.serverCert, MOORING_TLS_KEY: certs.serverKey, MOORING_SYNC_CLIENT_CA: certs.ca },
    });
    const ca = readFileSync(certs.ca);
    const trusted = grpc.credentials.createSsl(ca, readFileSync(certs.clientKey), readFileSync(certs.clientCert));
    const answer = await reflect(global.grpc, { listServices: "*" }, { credentials: trusted });
    expect(answer.services?.sort()).toEqual(["grpc.health.v1.Health", "mooring.v1.ZoneSyncService"]);

    const anonymous = grpc.credentials.createSsl(ca);
    const refused = await reflect(global.grpc, { listServices: "*" }, { credentials: anonymous }).then(
      () => undefined,
      (error: grpc.ServiceError) => error.code,
    );
    expect(refused).toBe(grpc.status.UNAVAILABLE);
    await global.stop();
  });
});
