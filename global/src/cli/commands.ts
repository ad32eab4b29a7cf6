// What each mooringctl command does with the API, given an already configured client. The command
// line itself (names, options, help) is in program.ts.
import { type ApplyResource, parseApplyFile } from "./apply-file.js";
import type { ApiClient } from "./client.js";
import { ApiError, describeError, EXIT } from "./errors.js";
import {
  type LeaseDetailJson,
  type LeaseJson,
  leaseDetails,
  leaseTable,
  type MeshServiceJson,
  meshServiceTable,
  type OutputFormat,
  renderData,
  type ZoneJson,
  type ZoneTokenJson,
  zoneDetails,
  zoneTable,
  zoneTokenTable,
} from "./output.js";

export interface CommandContext {
  readonly client: ApiClient;
  readonly output: OutputFormat;
  /** Writes to stdout / stderr. */
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Milliseconds since the epoch, for ages. */
  readonly now: () => number;
  /** The text of a file, or of stdin for "-". */
  readonly readInput: (file: string) => Promise<string>;
}

const segment = encodeURIComponent;

/** Prints `data` as JSON/YAML, or as the table `table()` renders; an empty table is a note on stderr. */
function show(context: CommandContext, data: unknown, table: () => string, empty?: string): void {
  if (context.output !== "table") context.out(renderData(data, context.output));
  else if (empty !== undefined) context.err(`${empty}\n`);
  else context.out(table());
}

export async function getMeshServices(
  context: CommandContext,
  name: string | undefined,
  options: { readonly mesh: string; readonly zone?: string },
): Promise<number> {
  const { client, now } = context;
  const mesh = segment(options.mesh);
  if (name !== undefined) {
    const path =
      options.zone === undefined
        ? `/meshes/${mesh}/meshservices/${segment(name)}`
        : `/meshes/${mesh}/zones/${segment(options.zone)}/meshservices/${segment(name)}`;
    const service = await client.get<MeshServiceJson>(path);
    show(context, service, () => meshServiceTable([service], now()));
    return EXIT.ok;
  }
  const all = await client.list<MeshServiceJson>(`/meshes/${mesh}/meshservices`);
  const services = options.zone === undefined ? all : all.filter((service) => service.zone === options.zone);
  const where = options.zone === undefined ? `mesh ${options.mesh}` : `mesh ${options.mesh}, zone ${options.zone}`;
  show(
    context,
    services,
    () => meshServiceTable(services, now()),
    services.length === 0 ? `no meshservices in ${where}` : undefined,
  );
  return EXIT.ok;
}

export async function getZones(context: CommandContext, name: string | undefined): Promise<number> {
  const { client, now } = context;
  if (name !== undefined) {
    const zone = await client.get<ZoneJson>(`/zones/${segment(name)}`);
    show(context, zone, () => zoneTable([zone], now()));
    return EXIT.ok;
  }
  const zones = await client.list<ZoneJson>("/zones");
  show(context, zones, () => zoneTable(zones, now()), zones.length === 0 ? "no zone has connected yet" : undefined);
  return EXIT.ok;
}

export async function getVips(context: CommandContext, ip: string | undefined): Promise<number> {
  const { client } = context;
  if (ip !== undefined) {
    const lease = await client.get<LeaseDetailJson>(`/vips/${segment(ip)}`);
    show(context, lease, () => leaseDetails(lease));
    return EXIT.ok;
  }
  const leases = await client.list<LeaseJson>("/vips");
  show(context, leases, () => leaseTable(leases), leases.length === 0 ? "no VIP leases" : undefined);
  return EXIT.ok;
}

export async function getZoneTokens(context: CommandContext): Promise<number> {
  const tokens = await context.client.list<ZoneTokenJson>("/zone-tokens");
  show(context, tokens, () => zoneTokenTable(tokens), tokens.length === 0 ? "no zone tokens issued" : undefined);
  return EXIT.ok;
}

export async function inspectZone(context: CommandContext, name: string): Promise<number> {
  const zone = await context.client.get<ZoneJson>(`/zones/${segment(name)}`);
  show(context, zone, () => zoneDetails(zone));
  return EXIT.ok;
}

export type ApplyOutcome = "created" | "configured" | "unchanged";

/** Applies one resource: created (201), unchanged (same revision as before), or configured. */
async function applyOne(
  client: ApiClient,
  resource: ApplyResource,
): Promise<{ outcome: ApplyOutcome; service: MeshServiceJson }> {
  const path = `/meshes/${segment(resource.mesh)}/meshservices/${segment(resource.name)}`;
  const before = await client.get<MeshServiceJson>(path).catch((error: unknown) => {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  });
  const { status, body } = await client.request<MeshServiceJson>("PUT", path, resource.body);
  const outcome = status === 201 ? "created" : before?.revision === body.revision ? "unchanged" : "configured";
  return { outcome, service: body };
}

/**
 * `apply -f FILE`: every resource of the file, in order. The file is checked whole before anything
 * is sent. A resource the server refuses is reported and the rest still applied (exit 1); an
 * unreachable server or a refused token stops at once.
 */
export async function apply(context: CommandContext, file: string): Promise<number> {
  const source = file === "-" ? "stdin" : file;
  const resources = parseApplyFile(await context.readInput(file), source);
  const applied: MeshServiceJson[] = [];
  let failed = false;
  for (const resource of resources) {
    const what = `${resource.type.toLowerCase()} ${resource.mesh}/${resource.name}`;
    try {
      const { outcome, service } = await applyOne(context.client, resource);
      applied.push(service);
      if (context.output === "table") context.out(`${what} ${outcome}\n`);
    } catch (error) {
      // Without a valid token every resource would fail the same way: stop at the first.
      if (!(error instanceof ApiError) || error.status === 401 || error.status === 403) throw error;
      failed = true;
      context.err(`error: ${what} (${source}, ${resource.origin}): ${describeError(error)}\n`);
    }
  }
  if (context.output !== "table") context.out(renderData(applied, context.output));
  return failed ? EXIT.failed : EXIT.ok;
}

export async function deleteMeshService(
  context: CommandContext,
  name: string,
  options: { readonly mesh: string },
): Promise<number> {
  const path = `/meshes/${segment(options.mesh)}/meshservices/${segment(name)}`;
  const { body } = await context.client.request<MeshServiceJson>("DELETE", path);
  show(context, body, () => `meshservice ${options.mesh}/${name} deleted\n`);
  return EXIT.ok;
}

/** `generate zone-token`: in table mode the token alone, so that `> zone.token` makes a token file. */
export async function generateZoneToken(
  context: CommandContext,
  options: { readonly zone: string; readonly validFor: string },
): Promise<number> {
  const { body } = await context.client.request<ZoneTokenJson>("POST", "/zone-tokens", {
    zone: options.zone,
    validFor: options.validFor,
  });
  show(context, body, () => `${body.token ?? ""}\n`);
  return EXIT.ok;
}
