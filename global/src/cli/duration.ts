// Durations on the command line (`--wait 30s`) and ages in tables (`5m`, `3d`). The parser comes
// from @mooring/shared's light `parse` entry point: its main one loads the server stack (fastify,
// grpc-js, SQLite) and would add about half a second to every command.
export { parseDuration } from "@mooring/shared/parse";

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
