// The README's metrics tables must list exactly the metrics the global and the zone register: every
// name, its type and its label names (prom-client's default process metrics aside).
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMetrics as createGlobalMetrics, createSqliteStore } from "@mooring/global";
import { createMetrics as createZoneMetrics, createZoneStore } from "@mooring/zone";
import type { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** `name type label,label` for each row of the table under `heading` (up to the next heading). */
function documented(heading: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no heading ${JSON.stringify(heading)}`);
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(/\n#{2,3} /);
  return (end < 0 ? rest : rest.slice(0, end))
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => {
      const [, name = "", type = "", labels = ""] = line.split("|").map((cell) => cell.trim());
      // Label names are the code spans outside the parentheses that list their values.
      const names = [...labels.replace(/\([^)]*\)/g, "").matchAll(/`([a-z_]+)`/g)].map((match) => match[1]);
      return `${name.replace(/`/g, "")} ${type} ${names.join(",")}`;
    })
    .sort();
}

/** The same strings for a registry's metrics, defaults (process_*, nodejs_*) left out. */
function registered(registry: Registry, defaultsPrefix: string): string[] {
  return registry
    .getMetricsAsArray()
    .filter((metric) => !metric.name.startsWith(`${defaultsPrefix}process_`))
    .filter((metric) => !metric.name.startsWith(`${defaultsPrefix}nodejs_`))
    .map((metric) => {
      const labels = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
      return `${metric.name} ${metric.type} ${labels.join(",")}`;
    })
    .sort();
}

const HTTP = ["mooring_http_request_duration_seconds", "mooring_http_requests_total"];
const isHttp = (row: string) => HTTP.includes(row.split(" ")[0] ?? "");

describe("README metrics tables", () => {
  let dir: string;
  let globalRegistry: Registry;
  let zoneRegistry: Registry;
  const closers: Array<() => void> = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mooring-metrics-doc-"));
    const global = createSqliteStore({ path: join(dir, "global.db"), synchronous: "normal" });
    const zone = createZoneStore({ path: join(dir, "zone.db"), synchronous: "normal", zone: "zone-1" });
    closers.push(
      () => global.close(),
      () => zone.close(),
    );
    globalRegistry = createGlobalMetrics(global).registry;
    zoneRegistry = createZoneMetrics(zone).registry;
  });
  afterAll(async () => {
    for (const close of closers) close();
    await rm(dir, { recursive: true, force: true });
  });

  it("list the REST metrics both sides register", () => {
    const rest = documented("### REST metrics (global and zones)");
    expect(rest).toEqual(registered(globalRegistry, "mooring_global_").filter(isHttp));
    expect(rest).toEqual(registered(zoneRegistry, "mooring_zone_").filter(isHttp));
    expect(rest).toEqual([
      "mooring_http_request_duration_seconds histogram method,route",
      "mooring_http_requests_total counter method,route,status",
    ]);
  });

  it("list every other metric of the global, with its type and labels", () => {
    const rows = documented("### Global metrics");
    expect(rows).toEqual(registered(globalRegistry, "mooring_global_").filter((row) => !isHttp(row)));
    expect(rows).toContain("mooring_global_sync_sessions_total counter mode");
  });

  it("list every other metric of the zone, with its type and labels", () => {
    const rows = documented("### Zone metrics");
    expect(rows).toEqual(registered(zoneRegistry, "mooring_zone_").filter((row) => !isHttp(row)));
    expect(rows).toContain("mooring_zone_dns_queries_total counter type,rcode");
  });
});
