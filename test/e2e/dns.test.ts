// The zone's DNS responder end to end: a real global and a real zone as child processes, queried
// with Node's resolver (UDP) and dns2 (UDP and TCP, byte for byte). The promise under test: a
// service's answer is its VIPs as the zone's REST view shows them, it does not change across a
// reconnect, and it keeps coming while the global is down.
import { Resolver } from "node:dns/promises";
import { isIPv4, isIPv6 } from "node:net";
import { Packet, TCPClient } from "dns2";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { encodeQuery, summarize, tcpExchange, udpExchange } from "../helpers/dns.js";
import { type GlobalProcess, killAllGlobals, removeTempDirs, startGlobalProcess } from "../helpers/global-process.js";
import { type LeaseJson, listAll, requestJson } from "../helpers/http.js";
import { metric, servicesOf, syncOf, waitUntil } from "../helpers/sync.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { killAllZones, startZoneProcess, type ZoneProcess } from "../helpers/zone-process.js";

// Authentication is tested elsewhere; both families of VIPs are what DNS has to serve.
const GLOBAL_ENV = {
  MOORING_AUTH: "off",
  MOORING_VIP_CIDRS: "241.0.0.0/8,fd00:241::/64",
  MOORING_SYNC_HEARTBEAT: "200ms",
  MOORING_DB_SYNC: "normal",
};
const ZONE_ENV = {
  MOORING_AUTH: "off",
  MOORING_RECONNECT_MIN: "10ms",
  MOORING_RECONNECT_MAX: "100ms",
  MOORING_DB_SYNC: "normal",
};

const WEB = "web.default.mesh.local";
const DB = "db.zone-1.default.mesh.local";
const RCODE = { NOERROR: 0, NXDOMAIN: 3, REFUSED: 5 };

const proxies: TcpProxy[] = [];
afterEach(async () => {
  await killAllZones();
  await killAllGlobals();
  for (const proxy of proxies.splice(0)) await proxy.close();
});
afterAll(removeTempDirs);

interface Deployment {
  global: GlobalProcess;
  proxy: TcpProxy;
  zone: ZoneProcess;
  /** The zone's REST view: `zone/name` -> VIPs, IPv4 first. */
  vips: Map<string, string[]>;
}

function dnsOf(zone: ZoneProcess): string {
  if (zone.dns === undefined) throw new Error(`zone ${zone.zone} logged no DNS address`);
  return zone.dns;
}

function resolverFor(zone: ZoneProcess): Resolver {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([dnsOf(zone)]);
  return resolver;
}

/** Polls the zone's REST view until `names` all have two VIPs; returns them by `zone/name`, IPv4 first. */
async function vipsOnZone(zone: ZoneProcess, names: string[]): Promise<Map<string, string[]>> {
  let view = new Map<string, string[]>();
  await waitUntil(
    async () => {
      const services = await servicesOf(zone.http);
      const byFamily = (vips: string) =>
        vips === "" ? [] : vips.split(",").sort((a, b) => Number(isIPv6(a)) - Number(isIPv6(b)));
      view = new Map([...services].map(([key, state]) => [key, byFamily(state.vips)]));
      return names.every((name) => view.get(name)?.length === 2);
    },
    () => `zone view: ${JSON.stringify([...view])}`,
  );
  return view;
}

/** A global behind a TCP proxy, zone-1 through it, the global-owned `web` and zone-1's own `db`. */
async function deploy(): Promise<Deployment> {
  const global = await startGlobalProcess({ env: GLOBAL_ENV });
  const proxy = await startTcpProxy(global.grpc);
  proxies.push(proxy);
  const zone = await startZoneProcess({ zone: "zone-1", global: proxy.address, env: ZONE_ENV });
  const spec = (port: number) => ({ spec: { ports: [{ port }] } });
  expect((await requestJson("PUT", `${global.http}/meshes/default/meshservices/web`, spec(80))).status).toBe(201);
  expect((await requestJson("PUT", `${zone.http}/meshes/default/meshservices/db`, spec(5432))).status).toBe(201);
  const vips = await vipsOnZone(zone, ["/web", "zone-1/db"]);
  return { global, proxy, zone, vips };
}

async function waitForIncremental(zone: ZoneProcess, count: number): Promise<void> {
  await waitUntil(
    async () => {
      const status = await syncOf(zone.http);
      return status.state === "synced" && status.sessions.incremental >= count;
    },
    async () => `zone /sync: ${JSON.stringify(await syncOf(zone.http))}`,
  );
}

describe("DNS for VIPs", () => {
  it("answers A and AAAA with the VIPs of the zone's REST view, NXDOMAIN, REFUSED, over UDP and TCP", async () => {
    const { global, zone, vips } = await deploy();

    // The allocator leased exactly one VIP per family to each service, and the zone shows them.
    const leases = (await listAll<LeaseJson>(global.http, "/vips")).items;
    expect(leases.map((lease) => [lease.zone ?? "", lease.name, lease.family, lease.state]).sort()).toEqual([
      ["", "web", 4, "bound"],
      ["", "web", 6, "bound"],
      ["zone-1", "db", 4, "bound"],
      ["zone-1", "db", 6, "bound"],
    ]);
    for (const key of ["/web", "zone-1/db"]) {
      const [v4, v6] = vips.get(key) ?? [];
      expect(isIPv4(v4 ?? "") && v4?.startsWith("241.")).toBe(true);
      expect(isIPv6(v6 ?? "") && v6?.startsWith("fd00:241:")).toBe(true);
      const leased = leases.filter((lease) => `${lease.zone ?? ""}/${lease.name}` === key).map((lease) => lease.ip);
      expect(leased.sort()).toEqual([v4, v6].sort());
    }
    const [webV4, webV6] = vips.get("/web") ?? [];
    const [dbV4, dbV6] = vips.get("zone-1/db") ?? [];

    // Node's resolver, over UDP.
    const resolver = resolverFor(zone);
    expect(await resolver.resolve4(WEB, { ttl: true })).toEqual([{ address: webV4, ttl: 5 }]);
    expect(await resolver.resolve6(WEB, { ttl: true })).toEqual([{ address: webV6, ttl: 5 }]);
    expect(await resolver.resolve4(DB)).toEqual([dbV4]);
    expect(await resolver.resolve6(DB)).toEqual([dbV6]);
    expect(await resolver.resolve4("WEB.Default.Mesh.Local.")).toEqual([webV4]);
    await expect(resolver.resolve4("nope.default.mesh.local")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(resolver.resolve4("example.com")).rejects.toMatchObject({ code: "EREFUSED" });
    await expect(resolver.resolveTxt(WEB)).rejects.toMatchObject({ code: "ENODATA" });

    // The exact response codes, over UDP and over TCP.
    const address = dnsOf(zone);
    for (const exchange of [udpExchange, tcpExchange]) {
      expect(summarize(await exchange(address, encodeQuery(WEB, Packet.TYPE.A)))).toEqual({
        rcode: RCODE.NOERROR,
        aa: 1,
        answers: [[webV4, 5]],
      });
      expect(summarize(await exchange(address, encodeQuery(DB, Packet.TYPE.AAAA)))).toEqual({
        rcode: RCODE.NOERROR,
        aa: 1,
        answers: [[dbV6, 5]],
      });
      expect(summarize(await exchange(address, encodeQuery("nope.zone-1.default.mesh.local", Packet.TYPE.A)))).toEqual({
        rcode: RCODE.NXDOMAIN,
        aa: 1,
        answers: [],
      });
      expect(summarize(await exchange(address, encodeQuery("example.com", Packet.TYPE.A)))).toEqual({
        rcode: RCODE.REFUSED,
        aa: 0,
        answers: [],
      });
    }
    // Over TCP through dns2's own client too.
    const [host, port] = address.split(":");
    const overTcp = await TCPClient({ dns: host ?? "", port: Number(port) })(DB, "A");
    expect(overTcp.answers.map((record) => record.address)).toEqual([dbV4]);

    // Two REFUSED over raw UDP/TCP, one through the resolver.
    expect(await metric(zone.http, "mooring_zone_dns_queries_total", { type: "A", rcode: "REFUSED" })).toBe(3);
    expect(await metric(zone.http, "mooring_zone_dns_queries_total", { type: "TXT", rcode: "NOERROR" })).toBe(1);
  }, 60_000);

  it("gives byte-identical answers across stream cuts, a global killed with -9 and restarted, and a zone restart while the global is down", async () => {
    const deployment = await deploy();
    const proxy = deployment.proxy;
    let { global, zone } = deployment;
    const queries = [
      encodeQuery(WEB, Packet.TYPE.A, 1),
      encodeQuery(WEB, Packet.TYPE.AAAA, 2),
      encodeQuery(DB, Packet.TYPE.A, 3),
      encodeQuery(DB, Packet.TYPE.AAAA, 4),
    ];
    const answers = async (z: ZoneProcess) =>
      Promise.all(queries.map((query) => udpExchange(dnsOf(z), query).then((bytes) => bytes.toString("hex"))));
    const before = await answers(zone);
    expect(before.map((hex) => summarize(Buffer.from(hex, "hex")).answers.length)).toEqual([1, 1, 1, 1]);

    // The stream is cut: the zone resumes incrementally; DNS never changed.
    proxy.cut();
    await waitForIncremental(zone, 1);
    expect(await answers(zone)).toEqual(before);

    // The global dies: answers keep coming from the zone's own state.
    await global.kill9();
    await waitUntil(
      async () => (await syncOf(zone.http)).state !== "synced",
      async () => `zone /sync: ${JSON.stringify(await syncOf(zone.http))}`,
    );
    expect(await answers(zone)).toEqual(before);

    // The zone restarts while the global is still down: the index is loaded from its SQLite.
    await zone.kill9();
    zone = await startZoneProcess({ zone: "zone-1", global: proxy.address, dataDir: zone.dataDir, env: ZONE_ENV });
    expect(await answers(zone)).toEqual(before);

    // The global comes back on the same data: an incremental resume, the same answers.
    global = await startGlobalProcess({ env: GLOBAL_ENV, dataDir: global.dataDir });
    proxy.setTarget(global.grpc);
    await waitForIncremental(zone, 1);
    expect(await answers(zone)).toEqual(before);
    const view = await vipsOnZone(zone, ["/web", "zone-1/db"]);
    const summaries = before.map((hex) => summarize(Buffer.from(hex, "hex")).answers[0]?.[0]);
    expect(summaries).toEqual([...(view.get("/web") ?? []), ...(view.get("zone-1/db") ?? [])]);
  }, 90_000);

  it("serves a deleted own service as NXDOMAIN at once, and a new global service once it arrives", async () => {
    const { global, zone } = await deploy();
    const resolver = resolverFor(zone);
    expect((await requestJson("DELETE", `${zone.http}/meshes/default/meshservices/db`)).status).toBe(200);
    await expect(resolver.resolve4(DB)).rejects.toMatchObject({ code: "ENOTFOUND" });

    expect(
      (await requestJson("PUT", `${global.http}/meshes/default/meshservices/api`, { spec: { ports: [{ port: 81 }] } }))
        .status,
    ).toBe(201);
    const view = await vipsOnZone(zone, ["/api"]);
    expect(await resolver.resolve4("api.default.mesh.local")).toEqual([view.get("/api")?.[0]]);
    expect(await resolver.resolve6("api.default.mesh.local")).toEqual([view.get("/api")?.[1]]);
  }, 60_000);
});
