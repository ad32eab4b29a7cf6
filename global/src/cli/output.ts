// What mooringctl prints: aligned tables and key/value blocks for people (`-o table`, the default),
// the server's objects as they are for programs (`-o json`, `-o yaml`). Every function here is
// pure and returns text; the program decides where it goes.
import type { MeshServiceSchema } from "@mooring/shared";
import type { Static } from "typebox";
import { stringify } from "yaml";
import type { Lease, LeaseDetail } from "../api/schemas.js";
import type { Zone } from "../api/zones.js";
import { formatAge } from "./duration.js";

export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export type MeshServiceJson = MeshServiceSchema;
export type ZoneJson = Static<typeof Zone>;
export type LeaseJson = Static<typeof Lease>;
export type LeaseDetailJson = Static<typeof LeaseDetail>;

export interface ZoneTokenJson {
  readonly id: string;
  readonly zone: string;
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
  /** Only in the answer that issued it. */
  readonly token?: string;
}

/** Shown in a cell that has no value. */
const NONE = "-";
const GAP = "   ";

/** Left-aligned columns three spaces apart, as kubectl prints them; no line ends in a space. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join(GAP)
      .trimEnd();
  return `${[header, ...rows].map(line).join("\n")}\n`;
}

/** `Key:   value` lines with the values aligned, for one object. */
export function renderKeyValues(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([key]) => key.length)) + 1;
  return `${pairs.map(([key, value]) => `${`${key}:`.padEnd(width)} ${value}`.trimEnd()).join("\n")}\n`;
}

/** The server's objects as they are: pretty JSON, or YAML with no line folding (tokens stay whole). */
export function renderData(value: unknown, format: "json" | "yaml"): string {
  return format === "json" ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 });
}

const yesNo = (value: boolean) => (value ? "yes" : "no");
const ageSince = (iso: string | null | undefined, now: number) => (iso ? formatAge(now - Date.parse(iso)) : NONE);
/** `2026-11-20T22:05:41.157Z` -> `2026-11-20T22:05:41Z`: tables show whole seconds. */
const toSecond = (iso: string | null | undefined) => (iso ? iso.replace(/\.\d+Z$/, "Z") : NONE);

/** `80/http`; `80:8080/http` when the target port differs. */
function formatPort(port: MeshServiceJson["spec"]["ports"][number]): string {
  const target = port.targetPort !== undefined && port.targetPort !== port.port ? `:${port.targetPort}` : "";
  return `${port.port}${target}/${port.appProtocol ?? "tcp"}`;
}

export function meshServiceTable(services: readonly MeshServiceJson[], now: number): string {
  return renderTable(
    ["MESH", "NAME", "ZONE", "VIPS", "PORTS", "AGE"],
    services.map((service) => [
      service.mesh,
      service.name,
      service.zone ?? NONE,
      service.status.vips.map((vip) => vip.ip).join(",") || NONE,
      service.spec.ports.map(formatPort).join(","),
      ageSince(service.creationTime, now),
    ]),
  );
}

export function zoneTable(zones: readonly ZoneJson[], now: number): string {
  return renderTable(
    ["NAME", "ONLINE", "MODE", "LAG", "ACKED", "LAST-SEEN"],
    zones.map((zone) => [
      zone.name,
      yesNo(zone.online),
      zone.mode ?? NONE,
      String(zone.lag),
      String(zone.ackedRevision),
      ageSince(zone.lastSeenAt, now),
    ]),
  );
}

/** `mesh/name` for a global-owned service, `mesh/zone/name` for a zone's. */
function serviceOf(lease: { mesh: string; zone?: string; name: string }): string {
  return lease.zone === undefined ? `${lease.mesh}/${lease.name}` : `${lease.mesh}/${lease.zone}/${lease.name}`;
}

export function leaseTable(leases: readonly LeaseJson[]): string {
  return renderTable(
    ["IP", "FAMILY", "STATE", "SERVICE", "PINNED"],
    leases.map((lease) => [lease.ip, `IPv${lease.family}`, lease.state, serviceOf(lease), yesNo(lease.pinned)]),
  );
}

/** One lease, then its audit trail, most recent first as the API returns it. */
export function leaseDetails(lease: LeaseDetailJson): string {
  const events = renderTable(
    ["AT", "EVENT", "REASON", "SERVICE"],
    lease.events.map((event) => [toSecond(event.at), event.event, event.reason, serviceOf(event)]),
  );
  return `${leaseTable([lease])}\n${events}`;
}

export function zoneTokenTable(tokens: readonly ZoneTokenJson[]): string {
  return renderTable(
    ["ID", "ZONE", "ISSUED", "EXPIRES", "REVOKED"],
    tokens.map((token) => [
      token.id,
      token.zone,
      toSecond(token.issuedAt),
      toSecond(token.expiresAt),
      toSecond(token.revokedAt),
    ]),
  );
}

/** `inspect zone`: the sync state of one zone as a key/value block. */
export function zoneDetails(zone: ZoneJson): string {
  const { full, incremental, reconcile } = zone.sessions;
  return renderKeyValues([
    ["Name", zone.name],
    ["Zone ID", zone.zoneId],
    ["Online", yesNo(zone.online)],
    ["Connected at", zone.connectedAt ?? NONE],
    ["Last seen at", zone.lastSeenAt ?? NONE],
    ["Acked revision", String(zone.ackedRevision)],
    ["Lag", String(zone.lag)],
    ["Generation", String(zone.generation)],
    ["Mode", zone.mode ?? NONE],
    ["Sessions", `full=${full} incremental=${incremental} reconcile=${reconcile}`],
    ["Upstream watermark", String(zone.upstreamWatermark)],
    ["Last error", zone.lastError ?? NONE],
  ]);
}
