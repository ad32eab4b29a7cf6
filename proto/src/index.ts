export type { GrpcClient, GrpcClientMethod, GrpcHandler, GrpcImplementation, MessageSizes } from "./bridge.js";
export { addService, createClient, createServiceDefinition, preEncoded, undecodableReason } from "./bridge.js";
export { decodeSyncResponse, UNUSUAL, WireReader, wire } from "./changes-decoder.js";
export * from "./gen/mooring/v1/resources_pb.js";
export * from "./gen/mooring/v1/sync_pb.js";
