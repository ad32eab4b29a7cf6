// Two Ajv instances: bodies are validated exactly as sent (no type coercion, no silently dropped
// unknown fields), while query strings and path parameters are coerced from text.

import { Ajv, type ErrorObject } from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";
import { type FieldError, MooringError, validationError } from "../errors.js";
import { DNS_LABEL_PATTERN, dnsLabelProblem } from "../names.js";

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function createAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    useDefaults: coerceTypes,
    removeAdditional: false,
    allErrors: true,
    // parentSchema on errors, so every keyword failing on a DNS label gets the same plain reason.
    verbose: true,
    strict: false,
  });
  return addFormats(ajv);
}

export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const strictAjv = createAjv(false);
  const coercingAjv = createAjv(true);
  return ({ schema, httpPart }) => {
    const ajv = httpPart === "body" ? strictAjv : coercingAjv;
    return ajv.compile(schema as object);
  };
}

/** `/spec/ports/0/port` -> `spec.ports[0].port` */
function fieldPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), "");
}

function join(path: string, child: string): string {
  return path ? `${path}.${child}` : child;
}

function reasonOf(error: ErrorObject, value: unknown): string {
  const parent = error.parentSchema as { pattern?: string } | undefined;
  if (parent?.pattern === DNS_LABEL_PATTERN && typeof value === "string") {
    return dnsLabelProblem(value) ?? "must be a DNS-1123 label";
  }
  if (error.keyword === "enum" || error.keyword === "const") {
    const allowed = (error.params as { allowedValues?: unknown[]; allowedValue?: unknown }).allowedValues ?? [
      (error.params as { allowedValue?: unknown }).allowedValue,
    ];
    return `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return error.message ?? "is invalid";
}

/** Turns Ajv errors into `{field, reason}` details, one per field, most specific first. */
export function validationDetails(errors: readonly ErrorObject[], context: string): FieldError[] {
  const details = new Map<string, string>();
  for (const error of errors) {
    const base = fieldPath(error.instancePath);
    let field = base;
    let reason: string;
    if (error.keyword === "required") {
      field = join(base, (error.params as { missingProperty: string }).missingProperty);
      reason = "is required";
    } else if (error.keyword === "additionalProperties") {
      field = join(base, (error.params as { additionalProperty: string }).additionalProperty);
      reason = "is not a known field";
    } else {
      reason = reasonOf(error, error.data);
    }
    const name = field || context;
    if (!details.has(name)) details.set(name, reason);
  }
  return [...details].map(([field, reason]) => ({ field, reason }));
}

/** Maps fastify's own errors (validation, body parsing, size) to Mooring's error codes. */
export function toMooringError(error: unknown): MooringError | undefined {
  if (error instanceof MooringError) return error;
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as {
    code?: string;
    message?: string;
    validation?: ErrorObject[];
    validationContext?: string;
  };
  if (e.validation) {
    return validationError(validationDetails(e.validation, e.validationContext ?? "body"));
  }
  switch (e.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new MooringError("BODY_TOO_LARGE", e.message ?? "request body is too large", {
        details: [{ field: "body", reason: e.message ?? "is too large" }],
      });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new MooringError("UNSUPPORTED_MEDIA_TYPE", "request bodies must be application/json", {
        details: [{ field: "content-type", reason: "must be application/json" }],
      });
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new MooringError("MALFORMED_JSON", `request body is not valid JSON: ${e.message ?? ""}`.trim(), {
        details: [{ field: "body", reason: e.message ?? "is not valid JSON" }],
      });
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new MooringError("MALFORMED_JSON", "request body does not match its Content-Length", {
        details: [{ field: "content-length", reason: "does not match the body" }],
      });
    default:
      break;
  }
  return undefined;
}
