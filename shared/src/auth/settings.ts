// The authentication settings both control planes take, in the same words.
import { parseOneOf } from "../parse.js";

export const AUTH_SETTINGS = {
  auth: {
    flag: "auth",
    env: "MOORING_AUTH",
    default: "on",
    description: "authentication of zones and of REST writes; off is for local development only",
    parse: parseOneOf(["on", "off"] as const),
  },
  authReads: {
    flag: "auth-reads",
    env: "MOORING_AUTH_READS",
    default: "open",
    description: "whether REST reads need the admin token too (token) or not (open); probes and /metrics stay open",
    parse: parseOneOf(["open", "token"] as const),
  },
} as const;
