// Parsers for configuration values. Each throws an Error whose message is the reason only; the
// config loader adds which setting it was.
import { accessSync, constants } from "node:fs";
import ipaddr from "ipaddr.js";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$/;

/** `host:port`, `[v6]:port` or `:port` (all interfaces). Port 0 asks the OS for a free port. */
export function parseListenAddress(raw: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(raw.trim());
  if (!match) throw new Error("expected host:port, [ipv6]:port or :port");
  const host = match[1] ?? match[2] ?? "";
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`port ${port} is out of range 0-65535`);
  if (host === "") return { host: "0.0.0.0", port };
  if (match[1] !== undefined && !ipaddr.IPv6.isValid(host)) throw new Error(`${host} is not an IPv6 address`);
  if (match[1] === undefined && !ipaddr.IPv4.isValidFourPartDecimal(host) && !HOSTNAME.test(host)) {
    throw new Error(`${host} is not an IPv4 address or host name`);
  }
  return { host, port };
}

export function formatAddress(address: ListenAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `30s`, `5m`, `1h`, `1h30m`, `7d` -> milliseconds. */
export function parseDuration(raw: string): number {
  const text = raw.trim();
  const part = /(\d+)(ms|s|m|h|d)/y;
  let total = 0;
  let consumed = 0;
  while (consumed < text.length) {
    part.lastIndex = consumed;
    const match = part.exec(text);
    if (!match) throw new Error("expected a duration such as 500ms, 30s, 5m, 1h or 1h30m");
    total += Number(match[1]) * (DURATION_UNITS[match[2] ?? ""] ?? 0);
    consumed = part.lastIndex;
  }
  if (consumed === 0) throw new Error("expected a duration such as 500ms, 30s, 5m, 1h or 1h30m");
  if (!Number.isSafeInteger(total)) throw new Error("duration is too long");
  return total;
}

/** A duration of at least 1ms, such as an interval or a timeout. */
export function parsePositiveDuration(raw: string): number {
  const ms = parseDuration(raw);
  if (ms < 1) throw new Error("must be at least 1ms");
  return ms;
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, kb: 1000, kib: 1024, mb: 1_000_000, mib: 1_048_576 };

/** `1048576`, `512KiB`, `1MiB`, `2MB` -> bytes. */
export function parseByteSize(raw: string): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = SIZE_UNITS[(match?.[2] ?? "").toLowerCase()];
  if (!match || unit === undefined) throw new Error("expected a size such as 1048576, 512KiB or 1MiB");
  const bytes = Number(match[1]) * unit;
  if (bytes < 1 || !Number.isSafeInteger(bytes)) throw new Error("size must be at least 1 byte");
  return bytes;
}

export function parseOneOf<T extends string>(allowed: readonly T[]): (raw: string) => T {
  return (raw) => {
    const value = raw.trim() as T;
    if (!allowed.includes(value)) throw new Error(`expected one of ${allowed.join(", ")}`);
    return value;
  };
}

export function parseNonEmpty(raw: string): string {
  if (raw.trim() === "") throw new Error("must not be empty");
  return raw.trim();
}

/** A whole number of at least 1, such as a count limit. */
export function parsePositiveInt(raw: string): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text)) throw new Error("expected a whole number such as 1000");
  const value = Number(text);
  if (value < 1 || !Number.isSafeInteger(value)) throw new Error("must be a whole number of at least 1");
  return value;
}

/** A file the process must be able to read (a certificate, a key, a token); empty means unset. */
export function parseReadableFile(raw: string): string | undefined {
  const path = raw.trim();
  if (path === "") return undefined;
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new Error(`cannot read ${path} (${code})`);
  }
  return path;
}
