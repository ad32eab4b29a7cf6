// Builds grpc-js service definitions and clients from protobuf-es descriptors, so the .proto file
// stays the single source of the contract and handlers are typed from the generated code.
import type { DescMessage, DescMethod, DescService, MessageShape } from "@bufbuild/protobuf";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { decodeSyncResponse } from "./changes-decoder.js";
import { SyncResponseSchema } from "./gen/mooring/v1/sync_pb.js";

type In<M extends DescMethod> = MessageShape<M["input"]>;
type Out<M extends DescMethod> = MessageShape<M["output"]>;

/** The grpc-js server handler a method of the given kind must have. */
export type GrpcHandler<M extends DescMethod> = M["methodKind"] extends "unary"
  ? grpc.handleUnaryCall<In<M>, Out<M>>
  : M["methodKind"] extends "server_streaming"
    ? grpc.handleServerStreamingCall<In<M>, Out<M>>
    : M["methodKind"] extends "client_streaming"
      ? grpc.handleClientStreamingCall<In<M>, Out<M>>
      : grpc.handleBidiStreamingCall<In<M>, Out<M>>;

/** A complete implementation of a service: one correctly-shaped handler per method. */
export type GrpcImplementation<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethod ? GrpcHandler<S["method"][K]> : never;
};

/** The grpc-js client call a method of the given kind exposes. */
export type GrpcClientMethod<M extends DescMethod> = M["methodKind"] extends "unary"
  ? (
      request: In<M>,
      metadata: grpc.Metadata,
      options: Partial<grpc.CallOptions>,
      callback: grpc.requestCallback<Out<M>>,
    ) => grpc.ClientUnaryCall
  : M["methodKind"] extends "server_streaming"
    ? (
        request: In<M>,
        metadata?: grpc.Metadata,
        options?: Partial<grpc.CallOptions>,
      ) => grpc.ClientReadableStream<Out<M>>
    : M["methodKind"] extends "client_streaming"
      ? (
          metadata: grpc.Metadata,
          options: Partial<grpc.CallOptions>,
          callback: grpc.requestCallback<Out<M>>,
        ) => grpc.ClientWritableStream<In<M>>
      : (metadata?: grpc.Metadata, options?: Partial<grpc.CallOptions>) => grpc.ClientDuplexStream<In<M>, Out<M>>;

export type GrpcClient<S extends DescService> = grpc.Client & {
  [K in keyof S["method"]]: S["method"][K] extends DescMethod ? GrpcClientMethod<S["method"][K]> : never;
};

const PRE_ENCODED = Symbol("mooring.preEncoded");

/**
 * A message already encoded, written as is: the global encodes a batch of changes once and writes
 * the same bytes to every zone instead of encoding it again per stream.
 */
export function preEncoded<D extends DescMessage>(_schema: D, bytes: Uint8Array): MessageShape<D> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { [PRE_ENCODED]: buffer } as unknown as MessageShape<D>;
}

// A Buffer view over the encoded bytes: grpc-js wants a Buffer, and copying every message is waste.
function serializer<D extends DescMessage>(schema: D): (message: MessageShape<D>) => Buffer {
  return (message) => {
    const encoded = (message as { [PRE_ENCODED]?: Buffer })[PRE_ENCODED];
    if (encoded) return encoded;
    const bytes = toBinary(schema, message);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<D extends DescMessage>(schema: D): (bytes: Buffer) => MessageShape<D> {
  // The frames a zone receives in bulk have a fast path that decodes exactly as fromBinary does.
  if (schema.typeName === SyncResponseSchema.typeName) {
    return decodeSyncResponse as unknown as (bytes: Buffer) => MessageShape<D>;
  }
  // Unknown fields are kept (readUnknownFields defaults to true): newer peers may add fields.
  return (bytes) => fromBinary(schema, bytes);
}

const UNDECODABLE = Symbol("mooring.undecodable");

/**
 * Servers receive a frame that does not decode as this marker instead of grpc-js ending the call
 * with a bare INTERNAL: the handler can answer with a precise status and log who sent it.
 */
function tolerantDeserializer<D extends DescMessage>(schema: D): (bytes: Buffer) => MessageShape<D> {
  return (bytes) => {
    try {
      return fromBinary(schema, bytes);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { [UNDECODABLE]: reason } as unknown as MessageShape<D>;
    }
  };
}

/** Why a message a server received did not decode, or undefined for a real message. */
export function undecodableReason(message: object): string | undefined {
  return (message as { [UNDECODABLE]?: string })[UNDECODABLE];
}

/**
 * Told the encoded size of every request and response message (without gRPC's 5-byte frame header)
 * as it is serialized or deserialized: a server sees the requests it receives and the responses it
 * sends, a client the other way round. For byte metrics, without encoding anything twice.
 */
export interface MessageSizes {
  readonly request?: (bytes: number) => void;
  readonly response?: (bytes: number) => void;
}

function measured<T, R>(fn: (value: T) => R, size: (value: T, result: R) => number, report?: (n: number) => void) {
  if (!report) return fn;
  return (value: T): R => {
    const result = fn(value);
    report(size(value, result));
    return result;
  };
}

export function createServiceDefinition<S extends DescService>(
  service: S,
  sizes: MessageSizes = {},
  decodeResponse?: (bytes: Buffer) => unknown,
): grpc.ServiceDefinition<GrpcImplementation<S>> {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const encoded = (_: unknown, bytes: Buffer) => bytes.byteLength;
  const decoded = (bytes: Buffer) => bytes.byteLength;
  for (const method of service.methods) {
    const streamsIn = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
    const streamsOut = method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming";
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: streamsIn,
      responseStream: streamsOut,
      requestSerialize: measured(serializer(method.input) as (value: unknown) => Buffer, encoded, sizes.request),
      requestDeserialize: measured(tolerantDeserializer(method.input), decoded, sizes.request),
      responseSerialize: measured(serializer(method.output) as (value: unknown) => Buffer, encoded, sizes.response),
      responseDeserialize: measured(decodeResponse ?? deserializer(method.output), decoded, sizes.response),
      originalName: method.localName,
    };
  }
  return definition as grpc.ServiceDefinition<GrpcImplementation<S>>;
}

/** Registers a service whose handlers are type-checked against the generated descriptors. */
export function addService<S extends DescService>(
  server: grpc.Server,
  service: S,
  implementation: GrpcImplementation<S>,
  sizes?: MessageSizes,
): void {
  server.addService(
    createServiceDefinition(service, sizes) as grpc.ServiceDefinition,
    implementation as unknown as grpc.UntypedServiceImplementation,
  );
}

export function createClient<S extends DescService>(
  service: S,
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
  sizes?: MessageSizes,
  /**
   * Decodes every response frame instead of the generated message's decoder; the client's calls then
   * yield what it returns, whatever their declared type. The zone's sync client decodes Changes
   * frames straight into rows with it.
   */
  decodeResponse?: (bytes: Buffer) => unknown,
): GrpcClient<S> {
  const Constructor = grpc.makeGenericClientConstructor(
    createServiceDefinition(service, sizes, decodeResponse) as grpc.ServiceDefinition,
    service.typeName,
  );
  return new Constructor(address, credentials, options) as unknown as GrpcClient<S>;
}
