// gRPC server reflection (grpc.reflection.v1 and v1alpha) for the global's gRPC port, so grpcurl,
// `buf curl` and Postman can list and call its services without the .proto files.
//
// @grpc/reflection indexes the FileDescriptorProtos it is given. Fed through @grpc/proto-loader it
// loses imports (files are regrouped by package), and clients then fail to resolve types, so it is
// fed here from the descriptors embedded in the generated protobuf-es code instead, dependencies
// included, plus the health service's descriptor (health-descriptor.ts).
import { type DescFile, toBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { ReflectionService } from "@grpc/reflection";
import { file_mooring_v1_sync } from "@mooring/proto";
import { healthFileDescriptor } from "./health-descriptor.js";

type PackageDefinition = ConstructorParameters<typeof ReflectionService>[0];

/** `roots` and everything they import, dependencies before dependents, each file once. */
function withImports(roots: readonly DescFile[]): DescFile[] {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const root of roots) visit(root);
  return ordered;
}

/** The FileDescriptorProtos of every service the gRPC port serves and of their imports, dependencies first. */
export function servedFiles(): FileDescriptorProto[] {
  return [...withImports([file_mooring_v1_sync]).map((file) => file.proto), healthFileDescriptor()];
}

/** A reflection service over `servedFiles()`; add it to the server with `addToServer`. */
export function createReflection(): ReflectionService {
  const fileDescriptorProtos = servedFiles().map((file) => {
    const bytes = toBinary(FileDescriptorProtoSchema, file);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  });
  // The reflection implementation reads only `fileDescriptorProtos` of each entry.
  const definition: PackageDefinition = {
    "mooring.files": { format: "Protocol Buffer 3 DescriptorProto", type: {}, fileDescriptorProtos },
  };
  return new ReflectionService(definition);
}
