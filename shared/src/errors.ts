// Every error Mooring returns has a stable code, declared once here with its HTTP status and gRPC
// status. Codes are never reused or renamed; add new ones at the end.
import { status as GrpcStatus } from "@grpc/grpc-js";

export const ERROR_CODES = {
  VALIDATION_FAILED: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  MALFORMED_JSON: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  BODY_TOO_LARGE: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, grpc: GrpcStatus.INVALID_ARGUMENT },
  NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  ROUTE_NOT_FOUND: { http: 404, grpc: GrpcStatus.UNIMPLEMENTED },
  REVISION_CONFLICT: { http: 409, grpc: GrpcStatus.ABORTED },
  VIP_OUT_OF_RANGE: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  VIP_CONFLICT: { http: 409, grpc: GrpcStatus.ALREADY_EXISTS },
  VIP_EXHAUSTED: { http: 507, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  LEASE_IN_USE: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION },
  NOT_READY: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL },
  /** A zone-owned service written anywhere but in its zone. */
  ZONE_OWNED: { http: 405, grpc: GrpcStatus.PERMISSION_DENIED },
  /** A sync session that a newer session of the same zone has superseded. */
  STALE_SESSION: { http: 409, grpc: GrpcStatus.ABORTED },
  /** No credentials, or credentials that are not valid (admin token, zone token). */
  UNAUTHENTICATED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  /** Valid credentials used for something they do not cover (a zone token for another zone). */
  PERMISSION_DENIED: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED },
  /** A zone already owns as many services as MOORING_ZONE_MAX_SERVICES allows. */
  ZONE_SERVICE_LIMIT: { http: 409, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  /** Too many attempts in too short a time (zone reconnects). */
  RATE_LIMITED: { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  /** An HTTP request Node could not parse (request line, framing, Content-Length). */
  MALFORMED_REQUEST: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  /** The request's header block is over Node's limit (16 KiB). */
  HEADERS_TOO_LARGE: { http: 431, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
} as const satisfies Record<string, { http: number; grpc: GrpcStatus }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem with one input field: `spec.ports[1].port`, "must be between 1 and 65535". */
export interface FieldError {
  readonly field: string;
  readonly reason: string;
}

export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: readonly FieldError[];
}

export interface MooringErrorOptions {
  readonly details?: readonly FieldError[];
  /** Kept for the logs; never sent to clients. */
  readonly cause?: unknown;
}

export class MooringError extends Error {
  override readonly name = "MooringError";
  readonly code: ErrorCode;
  readonly details: readonly FieldError[];

  constructor(code: ErrorCode, message: string, options: MooringErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? [];
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  get grpcStatus(): GrpcStatus {
    return ERROR_CODES[this.code].grpc;
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isMooringError(value: unknown): value is MooringError {
  return value instanceof MooringError;
}

/** Several field problems found together become one VALIDATION_FAILED error. */
export function validationError(details: readonly FieldError[]): MooringError {
  const first = details[0];
  const summary = first ? `${first.field}: ${first.reason}` : "invalid input";
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : "";
  return new MooringError("VALIDATION_FAILED", `${summary}${more}`, { details });
}
