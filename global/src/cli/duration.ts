// Durations on the command line (`--wait 30s`) and ages in tables (`5m`, `3d`). The grammar is
// @mooring/shared's parseDuration; it is repeated here because importing @mooring/shared loads the
// server stack (fastify, grpc-js, SQLite) and would add about half a second to every command.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const EXPECTED = "expected a duration such as 500ms, 30s, 5m, 1h or 1h30m";

/** `500ms`, `30s`, `5m`, `1h`, `1h30m`, `7d` -> milliseconds. */
export function parseDuration(raw: string): number {
  const text = raw.trim();
  const part = /(\d+)(ms|s|m|h|d)/y;
  let total = 0;
  let consumed = 0;
  while (consumed < text.length) {
    part.lastIndex = consumed;
    const match = part.exec(text);
    if (!match) throw new Error(EXPECTED);
    total += Number(match[1]) * (UNITS[match[2] ?? ""] ?? 0);
    consumed = part.lastIndex;
  }
  if (consumed === 0) throw new Error(EXPECTED);
  if (!Number.isSafeInteger(total)) throw new Error("duration is too long");
  return total;
}

/**
 * A short age for a table cell, with kubectl's precision: seconds under 2 minutes, then minutes
 * (with seconds under 10 minutes), hours (with minutes under 8 hours), days (with hours under 8
 * days). A time in the future (clock skew) is "0s".
 */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (days < 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  return `${days}d`;
}
