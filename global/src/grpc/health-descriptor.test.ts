import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { service as served } from "grpc-health-check";
import { describe, expect, it } from "vitest";
import { HEALTH_PROTO_NAME, healthFileDescriptor } from "./health-descriptor.js";

const registry = createFileRegistry(healthFileDescriptor(), () => undefined);

function message(typeName: string) {
  const schema = registry.getMessage(typeName);
  if (!schema) throw new Error(`${typeName} is not in the health descriptor`);
  return schema;
}

function method(name: string) {
  const definition = served[name];
  if (!definition) throw new Error(`grpc-health-check does not serve ${name}`);
  return definition;
}

describe("the grpc.health.v1 descriptor given to reflection", () => {
  it("describes the methods grpc-health-check serves, with the same paths and streaming", () => {
    const health = registry.getService("grpc.health.v1.Health");
    expect(registry.getFile(HEALTH_PROTO_NAME)?.name).toBe("grpc/health/v1/health");
    expect(health?.methods.map((m) => [m.name, m.methodKind, m.input.typeName, m.output.typeName])).toEqual([
      ["Check", "unary", "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse"],
      ["Watch", "server_streaming", "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse"],
      ["List", "unary", "grpc.health.v1.HealthListRequest", "grpc.health.v1.HealthListResponse"],
    ]);
    expect(
      Object.entries(served)
        .map(([name, d]) => [name, d.path, d.requestStream, d.responseStream])
        .sort(),
    ).toEqual([
      ["Check", "/grpc.health.v1.Health/Check", false, false],
      ["List", "/grpc.health.v1.Health/List", false, false],
      ["Watch", "/grpc.health.v1.Health/Watch", false, true],
    ]);
  });

  it("encodes messages exactly as grpc-health-check decodes them, and the other way round", () => {
    const request = fromBinary(
      message("grpc.health.v1.HealthCheckRequest"),
      method("Check").requestSerialize({ service: "mooring.v1.ZoneSyncService" }),
    );
    expect(request).toMatchObject({ service: "mooring.v1.ZoneSyncService" });

    const Response = message("grpc.health.v1.HealthCheckResponse");
    const serving = toBinary(Response, create(Response, { status: 1 }));
    expect(method("Check").responseDeserialize(Buffer.from(serving))).toEqual({ status: "SERVING" });

    const List = message("grpc.health.v1.HealthListResponse");
    const listed = toBinary(
      List,
      create(List, {
        statuses: { "": { status: 1 }, "mooring.v1.ZoneSyncService": { status: 2 } },
      }),
    );
    expect(method("List").responseDeserialize(Buffer.from(listed))).toEqual({
      statuses: { "": { status: "SERVING" }, "mooring.v1.ZoneSyncService": { status: "NOT_SERVING" } },
    });
  });
});
