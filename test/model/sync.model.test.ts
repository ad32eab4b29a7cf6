// A model-based test of zone sync: random interleavings of writes on both sides, network faults,
// change-log compaction and restarts, run against a real global and a real zone (in this process)
// with a fault-injecting TCP proxy between them. The reference model is a plain map of identity ->
// {labels, spec}; at every quiescent point both sides must serve exactly the model, with VIPs that
// never changed since each identity was first seen and that no two identities share.
//
// MOORING_MODEL_RUNS, MOORING_MODEL_SEED and MOORING_MODEL_SHRINKS tune a run; fast-check prints the
// seed and replay path of a failure. MOORING_MODEL_TRACE=1 prints every command and its duration.
// MOORING_MODEL_NO_WORKAROUNDS=1 turns off the workaround for a known bug (see Deployment.restartGlobal).
// MOORING_MODEL_EXAMPLES=0 leaves out the fixed example runs (EXAMPLES) and runs random ones only.
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { listAll, requestJson } from "../helpers/http.js";
import { waitUntil } from "../helpers/sync.js";
import type { ProxyMode } from "../helpers/tcp-proxy.js";
import { Deployment, ZONE } from "./deployment.js";

const MESH = "default";
const GLOBAL_NAMES = ["web", "api", "db", "cache"] as const;
// Two names shared with the global's: the same name in another zone is another identity.
const ZONE_NAMES = ["web", "db", "queue", "auth"] as const;
/** The global-owned service the compaction command writes to move the head past the horizon. */
const TICK = "tick";

const RUNS = Number(process.env.MOORING_MODEL_RUNS ?? 14);
const SEED = process.env.MOORING_MODEL_SEED === undefined ? undefined : Number(process.env.MOORING_MODEL_SEED);
const SHRINKS = Number(process.env.MOORING_MODEL_SHRINKS ?? 20);
const MAX_COMMANDS = 25;
const TRACE = process.env.MOORING_MODEL_TRACE === "1";
/** No single command may take this long: a hang is a failure with a name, not a test timeout. */
const STEP_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Resources: small domains, so that rewrites often hit the same content (no-ops), and equivalent
// spellings of the same content (appProtocol left out vs "tcp", no labels vs {}) are generated.

interface PortBody {
  name?: string;
  port: number;
  targetPort?: number | string;
  appProtocol?: string;
}

interface Body {
  labels?: Record<string, string>;
  spec: { ports: PortBody[]; selector?: { dataplaneTags: Record<string, string> } };
}

/** What a service must read back as: defaults applied, empty collections dropped. */
interface Content {
  readonly labels: Record<string, string>;
  readonly spec: unknown;
}

const PORTS: PortBody[][] = [
  [{ port: 80 }],
  [{ port: 80, appProtocol: "tcp" }],
  [{ port: 80, appProtocol: "http" }],
  [{ name: "http", port: 8080, targetPort: 8080, appProtocol: "http" }],
  [
    { name: "main", port: 80 },
    { name: "admin", port: 9901, targetPort: "admin", appProtocol: "http2" },
  ],
];
const LABELS: Array<Record<string, string> | undefined> = [undefined, {}, { team: "payments" }, { team: "search" }];
const TAGS: Array<Record<string, string> | undefined> = [undefined, {}, { app: "web" }];

const bodyArb: fc.Arbitrary<Body> = fc
  .record({
    ports: fc.constantFrom(...PORTS),
    labels: fc.constantFrom(...LABELS),
    tags: fc.constantFrom(...TAGS),
  })
  .map(({ ports, labels, tags }) => ({
    ...(labels === undefined ? {} : { labels }),
    spec: { ports, ...(tags === undefined ? {} : { selector: { dataplaneTags: tags } }) },
  }));

function contentOf(body: Body): Content {
  const ports = body.spec.ports.map((port) => ({ ...port, appProtocol: port.appProtocol ?? "tcp" }));
  const tags = body.spec.selector?.dataplaneTags ?? {};
  const spec = Object.keys(tags).length > 0 ? { ports, selector: { dataplaneTags: tags } } : { ports };
  return { labels: body.labels ?? {}, spec };
}

interface ServiceJson {
  readonly mesh: string;
  readonly zone?: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly spec: unknown;
  readonly status: { readonly vips: ReadonlyArray<{ readonly ip: string }> };
  readonly revision: number;
  readonly contentHash: string;
}

const keyOf = (zone: string, name: string) => `${MESH}/${zone}/${name}`;
const itemKey = (item: ServiceJson) => keyOf(item.zone ?? "", item.name);
const ipsOf = (item: ServiceJson) => item.status.vips.map((vip) => vip.ip);

// ---------------------------------------------------------------------------------------------
// The model, and what has been observed of the real system.

interface Entry {
  readonly body: Body;
  readonly content: Content;
  /** Global-owned only: the revision the global answered for the last write that changed it. */
  readonly revision?: number;
}

class Model {
  /** Global-owned services by name. */
  readonly global = new Map<string, Entry>();
  /** This zone's own services by name. */
  readonly zone = new Map<string, Entry>();
  net: ProxyMode = "pass";
  ticks = 0;
  /** Sessions before this index (in Deployment.sessions) started while no compaction had ever happened. */
  looseUntil = Number.POSITIVE_INFINITY;
  /** The session at this index must be RECONCILE: the zone was cut off while the log was compacted past it. */
  reconcileAt: number | undefined;

  expected(): Map<string, Content> {
    const want = new Map<string, Content>();
    for (const [name, entry] of this.global) want.set(keyOf("", name), entry.content);
    for (const [name, entry] of this.zone) want.set(keyOf(ZONE, name), entry.content);
    return want;
  }
}

class World {
  /** The first VIP each identity was ever seen with, and who holds each IP. */
  private readonly vipOf = new Map<string, string>();
  private readonly holderOf = new Map<string, string>();
  readonly monitor: Monitor;

  constructor(
    readonly deployment: Deployment,
    model: Model,
  ) {
    this.monitor = new Monitor(model, this);
  }

  /** Every identity keeps its first VIP forever (quarantine outlives a run); no IP serves two identities. */
  observe(key: string, ips: readonly string[], where: string): void {
    if (ips.length === 0) return;
    expect(ips.length, `${where}: ${key} has VIPs ${ips.join(",")}; one IPv4 range gives one VIP`).toBe(1);
    const ip = ips[0] as string;
    const first = this.vipOf.get(key);
    if (first !== undefined) expect(ip, `${where}: the VIP of ${key} moved`).toBe(first);
    const holder = this.holderOf.get(ip);
    if (holder !== undefined) expect(holder, `${where}: ${ip} is served for two identities`).toBe(key);
    this.vipOf.set(key, ip);
    this.holderOf.set(ip, key);
  }

  async list(side: "global" | "zone"): Promise<ServiceJson[]> {
    const base = side === "global" ? this.deployment.globalHttp : this.deployment.zoneHttp;
    return (await listAll<ServiceJson>(base, `/meshes/${MESH}/meshservices`)).items;
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

/** Valid at any time, on either side: VIPs never move and no IP serves two identities. */
function checkVips(w: World, items: ServiceJson[], where: string): void {
  for (const item of items) w.observe(itemKey(item), ipsOf(item), where);
}

/**
 * Valid at any time, connected or not: the zone serves its own services as written on it (local
 * writes are visible at once, deletes hide them at once), whatever the global has acknowledged.
 */
function checkOwn(m: Model, zoneItems: ServiceJson[], where: string): void {
  const own = new Map(zoneItems.filter((item) => item.zone === ZONE).map((item) => [item.name, item]));
  const unexpected = [...own.values()]
    .filter((item) => !m.zone.has(item.name))
    .map((item) => `${item.name} (revision ${item.revision}, VIPs ${ipsOf(item).join(",") || "none"})`);
  expect(
    [...own.keys()].sort(),
    `${where}: the zone's own services in its list${unexpected.length > 0 ? `; deleted on the zone yet listed: ${unexpected.join(", ")}` : ""}`,
  ).toEqual([...m.zone.keys()].sort());
  for (const [name, entry] of m.zone) {
    const item = own.get(name);
    expect(
      item && { labels: item.labels, spec: item.spec },
      `${where}: the zone's own ${name} as written on the zone`,
    ).toStrictEqual(entry.content);
  }
}

async function spotCheck(m: Model, w: World, where: string): Promise<void> {
  const [globalItems, zoneItems] = await Promise.all([w.list("global"), w.list("zone")]);
  checkVips(w, globalItems, `${where}: global list`);
  checkVips(w, zoneItems, `${where}: zone list`);
  checkOwn(m, zoneItems, where);
}

/**
 * Reads both sides every few milliseconds while the commands run and checks, on every read, what
 * must hold at every moment, not only between commands: checkVips on both sides, checkOwn on the
 * zone. A zone read that overlapped a zone write or restart (an `exclusive` section) is not checked
 * against the model, which says what is served between writes only.
 */
class Monitor {
  /** Lists checked. */
  checked = 0;
  private failure: unknown;
  private busy = 0;
  private version = 0;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly m: Model,
    private readonly w: World,
  ) {}

  start(): void {
    this.loop = this.watch();
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.busy += 1;
    this.version += 1;
    try {
      return await work();
    } finally {
      this.version += 1;
      this.busy -= 1;
    }
  }

  /** Throws what the monitor saw go wrong, if anything. */
  rethrow(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async watch(): Promise<void> {
    while (!this.stopped && this.failure === undefined) {
      await pause(10);
      try {
        await Promise.all([this.watchGlobal(), this.watchZone()]);
      } catch (error) {
        this.failure = error;
      }
    }
  }

  private async watchGlobal(): Promise<void> {
    const items = await this.w.list("global").catch(() => undefined); // between restarts
    if (!items) return;
    checkVips(this.w, items, "monitor: global list");
    this.checked += 1;
  }

  private async watchZone(): Promise<void> {
    if (this.busy > 0) return;
    const version = this.version;
    const items = await this.w.list("zone").catch(() => undefined);
    if (!items) return;
    checkVips(this.w, items, "monitor: zone list");
    if (this.busy > 0 || this.version !== version) return;
    checkOwn(this.m, items, "monitor");
    this.checked += 1;
  }
}

/** Heals the network, waits until zone and global agree on everything, then checks both against the model. */
async function quiesce(m: Model, w: World): Promise<void> {
  const d = w.deployment;
  d.proxy.setMode("pass");
  // A connection accepted while black-holed lost its preface; left alone it waits out the zone's
  // Hello timeout (15 s). Resetting it is what a healing network does to a dead TCP connection anyway.
  if (m.net === "blackhole") d.proxy.cut();
  m.net = "pass";
  let last = "";
  await waitUntil(
    async () => {
      const [sync, head, onGlobal] = await Promise.all([d.zoneSync(), d.headRevision(), d.zoneOnGlobal()]);
      last = JSON.stringify({ head, zone: sync, global: onGlobal });
      return sync.state === "synced" && sync.upstream.pending === 0 && sync.appliedRevision === head && onGlobal.online;
    },
    () => `zone and global not in sync: ${last}`,
    20_000,
    20,
  );

  const [globalItems, zoneItems] = await Promise.all([w.list("global"), w.list("zone")]);
  const want = m.expected();
  for (const [side, items] of [
    ["global", globalItems],
    ["zone", zoneItems],
  ] as const) {
    const have = new Map(items.map((item) => [itemKey(item), item]));
    expect([...have.keys()].sort(), `${side} list keys`).toEqual([...want.keys()].sort());
    for (const [key, content] of want) {
      const item = have.get(key);
      expect(item && { labels: item.labels, spec: item.spec }, `${side}: ${key}`).toStrictEqual(content);
      expect(item && ipsOf(item).length, `${side}: ${key} has one VIP`).toBe(1);
      if (item) w.observe(key, ipsOf(item), `${side} list (quiescent)`);
    }
  }
  const onGlobal = new Map(globalItems.map((item) => [itemKey(item), item]));
  for (const item of zoneItems) {
    const there = onGlobal.get(itemKey(item));
    expect(
      { revision: item.revision, contentHash: item.contentHash, vips: ipsOf(item) },
      `zone vs global: ${itemKey(item)}`,
    ).toEqual(there && { revision: there.revision, contentHash: there.contentHash, vips: ipsOf(there) });
  }
  // A service only the global writes changes revision only when the global writes it.
  for (const [name, entry] of m.global) {
    expect(onGlobal.get(keyOf("", name))?.revision, `revision of global-owned ${name}`).toBe(entry.revision);
  }
  await checkModes(m, w);
}

/** FULL once per zone data dir, INCREMENTAL while nothing was compacted, RECONCILE when behind the horizon. */
async function checkModes(m: Model, w: World): Promise<void> {
  const d = w.deployment;
  const sessions = d.sessions;
  expect(sessions[0], "the first session of a fresh zone").toBe("full");
  expect(sessions.filter((mode) => mode === "full").length, `FULL sessions in ${sessions.join(",")}`).toBe(1);
  const loose = sessions.slice(1, Math.min(sessions.length, m.looseUntil));
  expect(
    loose.filter((mode) => mode !== "incremental"),
    `reconnects before any compaction must be incremental: ${sessions.join(",")}`,
  ).toEqual([]);
  if (m.reconcileAt !== undefined) {
    expect(
      sessions[m.reconcileAt],
      `session #${m.reconcileAt} came after the log was compacted past the zone's cursor: ${sessions.join(",")}`,
    ).toBe("reconcile");
    m.reconcileAt = undefined;
  }
  const record = await d.zoneOnGlobal();
  expect(record.sessions.full, "FULL sessions the global counted").toBe(1);
  for (const mode of ["incremental", "reconcile"] as const) {
    const seen = sessions.filter((each) => each === mode).length;
    expect(
      record.sessions[mode],
      `${mode} sessions: the global counted fewer than the zone saw`,
    ).toBeGreaterThanOrEqual(seen);
  }
}

// ---------------------------------------------------------------------------------------------
// Writes

async function putGlobal(m: Model, w: World, name: string, body: Body): Promise<void> {
  const before = m.global.get(name);
  const content = contentOf(body);
  const response = await requestJson<ServiceJson>(
    "PUT",
    `${w.deployment.globalHttp}/meshes/${MESH}/meshservices/${name}`,
    body,
  );
  expect(response.status, `global PUT ${name}: ${JSON.stringify(response.body)}`).toBe(before ? 200 : 201);
  expect(ipsOf(response.body).length, `global PUT ${name} answers with its VIP`).toBe(1);
  w.observe(keyOf("", name), ipsOf(response.body), `global PUT ${name}`);
  if (before && isDeepStrictEqual(before.content, content)) {
    expect(response.body.revision, `global PUT ${name} with the same content is a no-op`).toBe(before.revision);
  } else if (before) {
    expect(response.body.revision, `global PUT ${name} with new content`).toBeGreaterThan(before.revision ?? 0);
  }
  m.global.set(name, { body, content, revision: response.body.revision });
}

async function deleteGlobal(m: Model, w: World, name: string): Promise<void> {
  const response = await requestJson<ServiceJson>(
    "DELETE",
    `${w.deployment.globalHttp}/meshes/${MESH}/meshservices/${name}`,
  );
  expect(response.status, `global DELETE ${name}`).toBe(m.global.has(name) ? 200 : 404);
  m.global.delete(name);
}

async function putZone(m: Model, w: World, name: string, body: Body): Promise<void> {
  const before = m.zone.get(name);
  const response = await requestJson<ServiceJson>(
    "PUT",
    `${w.deployment.zoneHttp}/meshes/${MESH}/meshservices/${name}`,
    body,
  );
  expect(response.status, `zone PUT ${name}: ${JSON.stringify(response.body)}`).toBe(before ? 200 : 201);
  w.observe(keyOf(ZONE, name), ipsOf(response.body), `zone PUT ${name}`);
  m.zone.set(name, { body, content: contentOf(body) });
}

async function deleteZone(m: Model, w: World, name: string): Promise<void> {
  const response = await requestJson<ServiceJson>(
    "DELETE",
    `${w.deployment.zoneHttp}/meshes/${MESH}/meshservices/${name}`,
  );
  expect(response.status, `zone DELETE ${name}`).toBe(m.zone.has(name) ? 200 : 404);
  m.zone.delete(name);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withTimeout<T>(work: Promise<T>, ms: number, describe: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(describe())), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

let commandsRun = 0;

abstract class Step implements fc.AsyncCommand<Model, World> {
  /** Writes on the zone or restarts it: the monitor must not check the zone against the model meanwhile. */
  protected get exclusive(): boolean {
    return false;
  }
  check(_m: Readonly<Model>): boolean {
    return true;
  }
  async run(m: Model, w: World): Promise<void> {
    commandsRun += 1;
    const started = Date.now();
    if (TRACE) console.log(`  ${this.toString()}`);
    await withTimeout(
      (async () => {
        await (this.exclusive ? w.monitor.exclusive(() => this.act(m, w)) : this.act(m, w));
        w.monitor.rethrow();
        await spotCheck(m, w, `after ${this.toString()}`);
      })(),
      STEP_TIMEOUT_MS,
      () => `${this.toString()} did not finish in ${STEP_TIMEOUT_MS} ms`,
    );
    if (TRACE) console.log(`    ${Date.now() - started} ms; sessions ${w.deployment.sessions.join(",")}`);
  }
  protected abstract act(m: Model, w: World): Promise<void>;
  abstract toString(): string;
}

class GlobalPut extends Step {
  constructor(
    readonly name: string,
    readonly body: Body,
  ) {
    super();
  }
  act(m: Model, w: World) {
    return putGlobal(m, w, this.name, this.body);
  }
  toString() {
    return `GlobalPut(${this.name}, ${JSON.stringify(this.body)})`;
  }
}

/** PUTs an existing service's last body again: must change nothing. */
class Rewrite extends Step {
  constructor(
    readonly side: "global" | "zone",
    readonly pick: number,
  ) {
    super();
  }
  override check(m: Readonly<Model>) {
    return (this.side === "global" ? m.global : m.zone).size > 0;
  }
  protected override get exclusive() {
    return this.side === "zone";
  }
  act(m: Model, w: World) {
    const entries = [...(this.side === "global" ? m.global : m.zone)].sort(([a], [b]) => a.localeCompare(b));
    const [name, entry] = entries[this.pick % entries.length] as [string, Entry];
    return this.side === "global" ? putGlobal(m, w, name, entry.body) : putZone(m, w, name, entry.body);
  }
  toString() {
    return `Rewrite(${this.side}, #${this.pick})`;
  }
}

/** Deletes an existing service (the name-based deletes also try names that do not exist). */
class DeleteExisting extends Step {
  constructor(
    readonly side: "global" | "zone",
    readonly pick: number,
  ) {
    super();
  }
  override check(m: Readonly<Model>) {
    return (this.side === "global" ? m.global : m.zone).size > 0;
  }
  protected override get exclusive() {
    return this.side === "zone";
  }
  act(m: Model, w: World) {
    const names = [...(this.side === "global" ? m.global : m.zone).keys()].sort();
    const name = names[this.pick % names.length] as string;
    return this.side === "global" ? deleteGlobal(m, w, name) : deleteZone(m, w, name);
  }
  toString() {
    return `DeleteExisting(${this.side}, #${this.pick})`;
  }
}

class GlobalDelete extends Step {
  constructor(readonly name: string) {
    super();
  }
  act(m: Model, w: World) {
    return deleteGlobal(m, w, this.name);
  }
  toString() {
    return `GlobalDelete(${this.name})`;
  }
}

class ZonePut extends Step {
  protected override get exclusive() {
    return true;
  }
  constructor(
    readonly name: string,
    readonly body: Body,
  ) {
    super();
  }
  act(m: Model, w: World) {
    return putZone(m, w, this.name, this.body);
  }
  toString() {
    return `ZonePut(${this.name}, ${JSON.stringify(this.body)})`;
  }
}

class ZoneDelete extends Step {
  protected override get exclusive() {
    return true;
  }
  constructor(readonly name: string) {
    super();
  }
  act(m: Model, w: World) {
    return deleteZone(m, w, this.name);
  }
  toString() {
    return `ZoneDelete(${this.name})`;
  }
}

/**
 * cut: reset every connection (the zone redials at once). refuse: reset them and refuse new ones.
 * blackhole: keep connections open but drop every byte; the zone notices only by heartbeat silence.
 */
class Disconnect extends Step {
  constructor(
    readonly kind: "cut" | "refuse" | "blackhole",
    readonly holdMs: number,
  ) {
    super();
  }
  async act(m: Model, w: World) {
    const proxy = w.deployment.proxy;
    if (this.kind === "cut") proxy.cut();
    else {
      proxy.setMode(this.kind);
      if (this.kind === "refuse") proxy.cut();
      m.net = this.kind;
    }
    await pause(this.holdMs);
  }
  toString() {
    return `Disconnect(${this.kind}, ${this.holdMs}ms)`;
  }
}

class Reconnect extends Step {
  constructor(readonly cut: boolean) {
    super();
  }
  override check(m: Readonly<Model>) {
    return m.net !== "pass";
  }
  async act(m: Model, w: World) {
    const proxy = w.deployment.proxy;
    proxy.setMode("pass");
    // See quiesce(): a connection that lost bytes to the black hole is dead either way.
    if (this.cut || m.net === "blackhole") proxy.cut();
    m.net = "pass";
  }
  toString() {
    return `Reconnect(${this.cut ? "cut" : "keep"})`;
  }
}

class Delay extends Step {
  constructor(readonly ms: number) {
    super();
  }
  async act(_m: Model, w: World) {
    w.deployment.proxy.setDelay(this.ms);
  }
  toString() {
    return `Delay(${this.ms}ms)`;
  }
}

/**
 * Restarts the global with a change log that keeps one entry, then moves the head twice: the log is
 * compacted to head - 1, past any zone cursor from before this command.
 */
class Compact extends Step {
  async act(m: Model, w: World) {
    const d = w.deployment;
    const cutOff = m.net !== "pass";
    m.looseUntil = Math.min(m.looseUntil, d.sessions.length);
    await d.restartGlobal(true, m.net === "blackhole");
    for (let i = 0; i < 2; i++) {
      m.ticks += 1;
      await putGlobal(m, w, TICK, { labels: { round: String(m.ticks) }, spec: { ports: [{ port: 80 }] } });
    }
    // No session can start while the proxy refuses or black-holes: the zone's next one is behind the horizon.
    if (cutOff) m.reconcileAt ??= d.sessions.length;
  }
  toString() {
    return "Compact";
  }
}

class RestartGlobal extends Step {
  constructor(readonly tight: boolean) {
    super();
  }
  async act(m: Model, w: World) {
    if (this.tight) m.looseUntil = Math.min(m.looseUntil, w.deployment.sessions.length);
    await w.deployment.restartGlobal(this.tight, m.net === "blackhole");
  }
  toString() {
    return `RestartGlobal(${this.tight ? "tight change log" : "default change log"})`;
  }
}

class RestartZone extends Step {
  protected override get exclusive() {
    return true;
  }
  async act(_m: Model, w: World) {
    await w.deployment.restartZone();
  }
  toString() {
    return "RestartZone";
  }
}

/** Lets time pass: background sync goes on, and the monitor keeps checking. */
class Wait extends Step {
  constructor(readonly ms: number) {
    super();
  }
  async act() {
    await pause(this.ms);
  }
  toString() {
    return `Wait(${this.ms}ms)`;
  }
}

class Quiesce extends Step {
  act(m: Model, w: World) {
    return quiesce(m, w);
  }
  toString() {
    return "Quiesce";
  }
}

const globalName = fc.constantFrom(...GLOBAL_NAMES);
const zoneName = fc.constantFrom(...ZONE_NAMES);
const side = fc.constantFrom("global" as const, "zone" as const);

// fast-check picks among these uniformly: a command listed twice is twice as likely.
const commandArbs: Array<fc.Arbitrary<fc.AsyncCommand<Model, World>>> = [
  fc.tuple(globalName, bodyArb).map(([name, body]) => new GlobalPut(name, body)),
  fc.tuple(globalName, bodyArb).map(([name, body]) => new GlobalPut(name, body)),
  fc.tuple(zoneName, bodyArb).map(([name, body]) => new ZonePut(name, body)),
  fc.tuple(zoneName, bodyArb).map(([name, body]) => new ZonePut(name, body)),
  fc.tuple(side, fc.nat(7)).map(([s, pick]) => new Rewrite(s, pick)),
  fc.tuple(side, fc.nat(7)).map(([s, pick]) => new DeleteExisting(s, pick)),
  globalName.map((name) => new GlobalDelete(name)),
  zoneName.map((name) => new ZoneDelete(name)),
  fc
    .tuple(fc.constantFrom("cut" as const, "refuse" as const, "blackhole" as const), fc.constantFrom(0, 100, 700))
    .map(([kind, hold]) => new Disconnect(kind, hold)),
  fc
    .tuple(fc.constantFrom("refuse" as const, "blackhole" as const), fc.constantFrom(0, 100, 700))
    .map(([kind, hold]) => new Disconnect(kind, hold)),
  fc.boolean().map((cut) => new Reconnect(cut)),
  fc.boolean().map((cut) => new Reconnect(cut)),
  fc.constantFrom(0, 0, 20, 80).map((ms) => new Delay(ms)),
  fc.constant(new Compact()),
  fc.boolean().map((tight) => new RestartGlobal(tight)),
  fc.constant(new RestartZone()),
  fc.constant(new Quiesce()),
  fc.constantFrom(50, 200).map((ms) => new Wait(ms)),
];

/**
 * Runs that always come first, so that every test run exercises (and the cross-run assertions can
 * count on) each resume mode, and pins the findings the random runs made.
 */
const HTTP_80: Body = { spec: { ports: [{ port: 80 }] } };
const EXAMPLES: Array<Iterable<fc.AsyncCommand<Model, World>>> = [
  // A reconnect with a few changes missed: INCREMENTAL.
  [new ZonePut("queue", HTTP_80), new Disconnect("refuse", 0), new GlobalPut("web", HTTP_80), new Quiesce()],
  // Cut off while the change log is compacted past the zone's cursor: RECONCILE, and the deletes
  // it missed (a global-owned and its own) are delivered.
  [
    new GlobalPut("api", HTTP_80),
    new ZonePut("auth", HTTP_80),
    new Quiesce(),
    new Disconnect("blackhole", 700),
    new GlobalDelete("api"),
    new ZoneDelete("auth"),
    new Compact(),
    new Reconnect(false),
    new Quiesce(),
  ],
  // A zone deletes one of its own services while connected, and nothing else happens for a while
  // (three times: what goes wrong here goes wrong in a window of some tens of milliseconds).
  [80, 81, 82].flatMap((port) => [
    new ZonePut("auth", { spec: { ports: [{ port }] } }),
    new Quiesce(),
    new ZoneDelete("auth"),
    new Wait(200),
  ]),
];

// ---------------------------------------------------------------------------------------------

describe("zone sync against a reference model", () => {
  it("writes, faults, compaction and restarts in any order: both sides serve the model, VIPs never move", async () => {
    const started = Date.now();
    let runs = 0;
    let snapshots = 0;
    let closeHangs = 0;
    const modes = { full: 0, incremental: 0, reconcile: 0 };
    commandsRun = 0;

    const property = fc.asyncProperty(
      fc.uniqueArray(fc.tuple(globalName, bodyArb), { maxLength: 2, selector: ([name]) => name }),
      fc.limitShrink(fc.commands(commandArbs, { maxCommands: MAX_COMMANDS, size: "max" }), SHRINKS),
      async (initial, commands) => {
        runs += 1;
        if (TRACE) console.log(`run ${runs}: ${initial.length} initial services`);
        const deployment = await Deployment.start();
        const model = new Model();
        const world = new World(deployment, model);
        let failure: unknown;
        try {
          // Services that exist before the zone first connects travel in its FULL snapshot.
          for (const [name, body] of initial) await putGlobal(model, world, name, body);
          await deployment.startZone();
          await withTimeout(quiesce(model, world), STEP_TIMEOUT_MS, () => "the first quiesce hung");
          world.monitor.start();
          await fc.asyncModelRun(() => ({ model, real: world }), commands);
          await withTimeout(quiesce(model, world), STEP_TIMEOUT_MS, () => "the last quiesce hung");
          await world.monitor.stop();
          world.monitor.rethrow();
          snapshots += world.monitor.checked;
          closeHangs += deployment.globalCloseHangs;
          await withTimeout(deployment.stopZone(), STEP_TIMEOUT_MS, () => "stopping the zone hung");
          for (const mode of deployment.sessions) modes[mode] += 1;
        } catch (error) {
          failure = error;
        }
        await world.monitor.stop();
        try {
          await withTimeout(
            deployment.close(),
            STEP_TIMEOUT_MS,
            () => "closing the zone, the global and the proxy hung",
          );
        } catch (error) {
          // The first failure is the finding; a hang while tearing down after it is reported beside it.
          if (failure === undefined) throw error;
          console.error(`after the failure, teardown failed too: ${String(error)}`);
        }
        if (failure !== undefined) throw failure;
      },
    );
    const examples: Array<[Array<[(typeof GLOBAL_NAMES)[number], Body]>, Iterable<fc.AsyncCommand<Model, World>>]> =
      process.env.MOORING_MODEL_EXAMPLES === "0" ? [] : EXAMPLES.map((commands) => [[], commands]);
    await fc.assert(property, {
      numRuns: examples.length + RUNS,
      examples,
      ...(SEED === undefined ? {} : { seed: SEED }),
    });

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `sync model: ${runs} runs, ${commandsRun} commands, ${snapshots} lists checked by the monitor, ` +
        `sessions full=${modes.full} ` +
        `incremental=${modes.incremental} reconcile=${modes.reconcile}, ${seconds} s`,
    );
    if (closeHangs > 0) {
      console.log(
        `known bug, worked around: ${closeHangs} global restarts found close() still waiting on a black-holed zone connection after 300 ms`,
      );
    }
    // One FULL per fresh zone data dir (checked per run above); both resume paths must have been exercised.
    expect(modes.full).toBe(runs);
    expect(modes.incremental, "INCREMENTAL sessions over the whole property").toBeGreaterThan(0);
    expect(modes.reconcile, "RECONCILE sessions over the whole property").toBeGreaterThan(0);
  }, 300_000);
});
