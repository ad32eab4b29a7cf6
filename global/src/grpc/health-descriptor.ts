// The descriptor of grpc.health.v1 (upstream grpc/health/v1/health.proto), for server reflection.
//
// grpc-health-check serves the service but only carries a descriptor built by protobufjs, with
// relative type names and its map entry named `Statuses` instead of `StatusesEntry`; Go clients
// (`buf curl`, grpcurl) reject that file. This is the same schema, written out the way protoc
// would emit it. reflection.test.ts checks it against what grpc-health-check actually serves.
import { create } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";

const PACKAGE = "grpc.health.v1";
const ref = (name: string) => `.${PACKAGE}.${name}`;

export const HEALTH_PROTO_NAME = "grpc/health/v1/health.proto";

export function healthFileDescriptor(): FileDescriptorProto {
  return create(FileDescriptorProtoSchema, {
    name: HEALTH_PROTO_NAME,
    package: PACKAGE,
    syntax: "proto3",
    messageType: [
      {
        name: "HealthCheckRequest",
        field: [{ name: "service", jsonName: "service", number: 1, label: Label.OPTIONAL, type: Type.STRING }],
      },
      {
        name: "HealthCheckResponse",
        field: [
          {
            name: "status",
            jsonName: "status",
            number: 1,
            label: Label.OPTIONAL,
            type: Type.ENUM,
            typeName: ref("HealthCheckResponse.ServingStatus"),
          },
        ],
        enumType: [
          {
            name: "ServingStatus",
            value: [
              { name: "UNKNOWN", number: 0 },
              { name: "SERVING", number: 1 },
              { name: "NOT_SERVING", number: 2 },
              { name: "SERVICE_UNKNOWN", number: 3 },
            ],
          },
        ],
      },
      { name: "HealthListRequest" },
      {
        name: "HealthListResponse",
        field: [
          {
            name: "statuses",
            jsonName: "statuses",
            number: 1,
            label: Label.REPEATED,
            type: Type.MESSAGE,
            typeName: ref("HealthListResponse.StatusesEntry"),
          },
        ],
        nestedType: [
          {
            name: "StatusesEntry",
            field: [
              { name: "key", jsonName: "key", number: 1, label: Label.OPTIONAL, type: Type.STRING },
              {
                name: "value",
                jsonName: "value",
                number: 2,
                label: Label.OPTIONAL,
                type: Type.MESSAGE,
                typeName: ref("HealthCheckResponse"),
              },
            ],
            options: { mapEntry: true },
          },
        ],
      },
    ],
    service: [
      {
        name: "Health",
        method: [
          { name: "Check", inputType: ref("HealthCheckRequest"), outputType: ref("HealthCheckResponse") },
          {
            name: "Watch",
            inputType: ref("HealthCheckRequest"),
            outputType: ref("HealthCheckResponse"),
            serverStreaming: true,
          },
          { name: "List", inputType: ref("HealthListRequest"), outputType: ref("HealthListResponse") },
        ],
      },
    ],
    options: { goPackage: "google.golang.org/grpc/health/grpc_health_v1" },
  });
}
