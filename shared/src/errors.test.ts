import { describe, expect, it } from "vitest";
import { ERROR_CODES, MooringError, validationError } from "./errors.js";

describe("error codes", () => {
  it("are stable: none removed or renamed (append new codes at the end of this list)", () => {
    expect(Object.keys(ERROR_CODES)).toEqual([
      "VALIDATION_FAILED",
      "MALFORMED_JSON",
      "BODY_TOO_LARGE",
      "UNSUPPORTED_MEDIA_TYPE",
      "NOT_FOUND",
      "ROUTE_NOT_FOUND",
      "REVISION_CONFLICT",
      "VIP_OUT_OF_RANGE",
      "VIP_CONFLICT",
      "VIP_EXHAUSTED",
      "LEASE_IN_USE",
      "NOT_READY",
      "INTERNAL",
      "ZONE_OWNED",
      "STALE_SESSION",
      "UNAUTHENTICATED",
      "PERMISSION_DENIED",
      "ZONE_SERVICE_LIMIT",
      "RATE_LIMITED",
      "MALFORMED_REQUEST",
      "HEADERS_TOO_LARGE",
    ]);
  });

  it("map to real HTTP statuses and keep the cause out of the body", () => {
    for (const { http } of Object.values(ERROR_CODES)) expect(http).toBeGreaterThanOrEqual(400);
    const error = new MooringError("VIP_EXHAUSTED", "no free VIP", { cause: new Error("secret detail") });
    expect(error.httpStatus).toBe(507);
    expect(JSON.stringify(error.toBody())).not.toContain("secret");
    expect(error.toBody()).toEqual({ code: "VIP_EXHAUSTED", message: "no free VIP", details: [] });
  });

  it("summarise several field problems in one message", () => {
    const error = validationError([
      { field: "name", reason: "must not be empty" },
      { field: "spec.ports", reason: "is required" },
    ]);
    expect(error.message).toBe("name: must not be empty (and 1 more)");
    expect(error.details).toHaveLength(2);
  });
});
