// Model-based property test of VIP allocation (DESIGN.md "VIP allocation rules"), driven through the
// real manager over a real SQLite file, with tiny ranges so that exhaustion, quarantine reuse and
// cursor wrap-around really happen. The model is independent of cidr.ts: it works on indexes into
// hard-coded address tables and predicts every lease row, every cursor, every error code and every
// revision exactly.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MeshServiceInput } from "@mooring/shared";
import { MooringError } from "@mooring/shared";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { createManager, type Manager } from "../manager/manager.js";
import { createSqliteStore, type SqliteStore } from "../store/sqlite-store.js";
import type { LeaseState, ServiceIdentity } from "../store/types.js";
import { createVipAllocator, identityText } from "./allocator.js";
import { type IpFamily, parseCidrList } from "./cidr.js";

const V4_CIDR = "10.9.0.0/29";
const V6_CIDR = "fd00::/125";
const CIDR: Record<IpFamily, string> = { 4: V4_CIDR, 6: V6_CIDR };
const FAMILIES = [4, 6] as const;
const QUARANTINE_MS = 60_000;
const START = 1_700_000_000_000;

/** The allocatable addresses, in order: a /29 loses network and broadcast, a /125 only the network. */
const POOL: Record<IpFamily, readonly string[]> = {
  4: ["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"],
  6: ["fd00::1", "fd00::2", "fd00::3", "fd00::4", "fd00::5", "fd00::6", "fd00::7"],
};

/** The fixed-width hex key of POOL[family][index] (also the form the cursor is stored in). */
function keyOf(family: IpFamily, index: number): string {
  return family === 4
    ? (0x0a090001 + index).toString(16).padStart(8, "0")
    : `fd00${"0".repeat(27)}${(index + 1).toString(16)}`;
}

const MESH = "default";
const NAMES = ["svc-0", "svc-1", "svc-2", "svc-3", "svc-4", "svc-5", "svc-6", "svc-7"] as const;
const ident = (name: string): ServiceIdentity => ({ mesh: MESH, zone: "", name });

/** Spec variants; equal `key` means equal content after defaults (port 80 without appProtocol is tcp). */
const SPECS: ReadonlyArray<{ key: string; input: MeshServiceInput }> = [
  { key: "p80", input: { spec: { ports: [{ port: 80 }] } } },
  { key: "p80", input: { labels: {}, spec: { ports: [{ port: 80, appProtocol: "tcp" }] } } },
  { key: "p8080", input: { spec: { ports: [{ port: 8080, appProtocol: "http" }] } } },
  {
    key: "two",
    input: {
      labels: { team: "a" },
      spec: {
        ports: [
          { name: "a", port: 80 },
          { name: "b", port: 81, appProtocol: "grpc" },
        ],
      },
    },
  },
];

/** An address as an operator might type it, with what the model says it is. */
type Target =
  | { readonly raw: string; readonly kind: "in"; readonly family: IpFamily; readonly index: number }
  | { readonly raw: string; readonly kind: "out" }
  | { readonly raw: string; readonly kind: "invalid" };

const IN_RANGE: Target[] = [
  ...FAMILIES.flatMap((family) => POOL[family].map((raw, index): Target => ({ raw, kind: "in", family, index }))),
  { raw: "::ffff:10.9.0.3", kind: "in", family: 4, index: 2 },
  { raw: "fd00:0:0:0:0:0:0:5", kind: "in", family: 6, index: 4 },
  { raw: "FD00::6", kind: "in", family: 6, index: 5 },
];
const OUT_OF_RANGE: Target[] = [
  "10.9.0.0", // network address
  "10.9.0.7", // broadcast address
  "10.9.0.8",
  "10.8.255.255",
  "192.168.0.1",
  "::ffff:10.9.0.7",
  "fd00::", // network address (the only one left out for IPv6)
  "fd00::8",
  "fd01::1",
].map((raw): Target => ({ raw, kind: "out" }));
const INVALID: Target[] = ["10.9.0", "not-an-ip", "fd00::1%eth0", "010.9.0.1"].map(
  (raw): Target => ({ raw, kind: "invalid" }),
);

// ---------------------------------------------------------------------------------------------------
// The model

interface ModelLease {
  readonly family: IpFamily;
  readonly index: number;
  readonly name: string;
  readonly state: LeaseState;
  readonly pinned: boolean;
  readonly leasedAt: number;
  readonly releasedAt: number | null;
}

interface ModelService {
  readonly specKey: string;
  readonly revision: number;
  /** The VIPs the real manager returned when the service was created: they must never change. */
  readonly vips: readonly string[];
}

/** What happened to the address an identity last held in one family. */
interface History {
  readonly ip: string;
  readonly lostBy?: "operator" | "reclaim";
}

interface Model {
  now: number;
  head: number;
  services: Map<string, ModelService>;
  /** By `${family}/${index}`. */
  leases: Map<string, ModelLease>;
  /** Index of the next address to try, per family; absent until the first allocation. */
  cursors: Map<IpFamily, number>;
  /** By `${name}/${family}`. */
  history: Map<string, History>;
}

const slot = (family: IpFamily, index: number) => `${family}/${index}`;
const ipOf = (lease: { family: IpFamily; index: number }) => POOL[lease.family][lease.index] as string;

function leaseOf(leases: ReadonlyMap<string, ModelLease>, name: string, family: IpFamily): ModelLease | undefined {
  for (const lease of leases.values()) if (lease.name === name && lease.family === family) return lease;
  return undefined;
}

function boundIps(leases: ReadonlyMap<string, ModelLease>, name: string): string[] {
  return FAMILIES.flatMap((family) => {
    const lease = leaseOf(leases, name, family);
    return lease?.state === "bound" ? [ipOf(lease)] : [];
  });
}

type BindPlan =
  | {
      readonly ok: true;
      readonly leases: Map<string, ModelLease>;
      readonly cursors: Map<IpFamily, number>;
      readonly changed: boolean;
      readonly allocated: readonly ModelLease[];
      readonly reclaimed: readonly ModelLease[];
    }
  | { readonly ok: false; readonly family: IpFamily };

/**
 * The allocation rules, stated plainly: keep whatever lease the identity has; otherwise the first
 * free address at or after the cursor (wrapping); otherwise the unpinned released lease whose
 * quarantine ended longest ago (ties by address); otherwise exhausted, and nothing happened.
 */
function planBind(m: Model, name: string): BindPlan {
  const leases = new Map(m.leases);
  const cursors = new Map(m.cursors);
  const allocated: ModelLease[] = [];
  const reclaimed: ModelLease[] = [];
  let changed = false;
  for (const family of FAMILIES) {
    const existing = leaseOf(leases, name, family);
    if (existing?.state === "bound") continue;
    changed = true;
    if (existing) {
      leases.set(slot(family, existing.index), { ...existing, state: "bound", releasedAt: null });
      continue;
    }
    const size = POOL[family].length;
    const start = cursors.get(family) ?? 0;
    let index: number | undefined;
    for (let i = 0; i < size && index === undefined; i++) {
      const candidate = (start + i) % size;
      if (!leases.has(slot(family, candidate))) index = candidate;
    }
    if (index === undefined) {
      const victim = [...leases.values()]
        .filter(
          (lease) =>
            lease.family === family &&
            lease.state === "released" &&
            !lease.pinned &&
            (lease.releasedAt ?? Number.POSITIVE_INFINITY) + QUARANTINE_MS <= m.now,
        )
        .sort((a, b) => (a.releasedAt ?? 0) - (b.releasedAt ?? 0) || a.index - b.index)[0];
      if (!victim) return { ok: false, family };
      reclaimed.push(victim);
      index = victim.index;
    }
    const lease: ModelLease = { family, index, name, state: "bound", pinned: false, leasedAt: m.now, releasedAt: null };
    leases.set(slot(family, index), lease);
    allocated.push(lease);
    cursors.set(family, (index + 1) % size);
  }
  return { ok: true, leases, cursors, changed, allocated, reclaimed };
}

function initialModel(): Model {
  return {
    now: START,
    head: 0,
    services: new Map(),
    leases: new Map(),
    cursors: new Map(),
    history: new Map(),
  };
}

// ---------------------------------------------------------------------------------------------------
// The real system

interface Real {
  readonly dir: string;
  readonly path: string;
  readonly clock: { now: number };
  store: SqliteStore;
  manager: Manager;
  readonly epoch: string;
}

const RANGES = parseCidrList(`${V4_CIDR},${V6_CIDR}`);

function open(path: string, clock: { now: number }): { store: SqliteStore; manager: Manager } {
  const store = createSqliteStore({ path, synchronous: "normal" });
  const now = () => clock.now;
  const allocator = createVipAllocator(store, { ranges: RANGES, quarantineMs: QUARANTINE_MS, now });
  return { store, manager: createManager(store, allocator, { now }) };
}

function openReal(): Real {
  const dir = mkdtempSync(join(tmpdir(), "mooring-vip-prop-"));
  const path = join(dir, "global.db");
  const clock = { now: START };
  const { store, manager } = open(path, clock);
  return { dir, path, clock, store, manager, epoch: store.epoch };
}

function closeReal(real: Real): void {
  real.store.close();
  rmSync(real.dir, { recursive: true, force: true });
}

/** Everything a rejected write must leave exactly as it was. */
function snapshot(real: Real) {
  return {
    leases: real.store.listLeases(0, 1000),
    cursors: FAMILIES.map((family) => real.store.cursor(CIDR[family])),
    head: real.store.headRevision(),
    resources: real.store.allResources(),
  };
}

type Attempt<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

function attempt<T>(fn: () => T): Attempt<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    // Anything but a MooringError (a SQLite constraint violation, a TypeError) fails the property.
    if (error instanceof MooringError) return { ok: false, code: error.code, message: error.message };
    throw error;
  }
}

function expectOk<T>(result: Attempt<T>, what: string): T {
  if (!result.ok) throw new Error(`${what}: expected success, got ${result.code}: ${result.message}`);
  return result.value;
}

function expectCode(result: Attempt<unknown>, code: string, what: string): string {
  if (result.ok) throw new Error(`${what}: expected ${code}, got success`);
  expect(result.code, what).toBe(code);
  return result.message;
}

// Coverage: the property is only meaningful if these outcomes actually occur across the runs.
const seen = new Map<string, number>();
const note = (tag: string) => seen.set(tag, (seen.get(tag) ?? 0) + 1);

// ---------------------------------------------------------------------------------------------------
// Invariants, checked after every command

function expectedLeaseViews(m: Model) {
  return [...m.leases.values()]
    .sort((a, b) => a.family - b.family || a.index - b.index)
    .map((lease) => {
      const view =
        lease.state === "bound"
          ? { state: "bound" }
          : lease.state === "reserved" || lease.pinned
            ? { state: "reserved" }
            : {
                state: (lease.releasedAt ?? 0) + QUARANTINE_MS > m.now ? "quarantined" : "reclaimable",
                quarantineEndsAt: (lease.releasedAt ?? 0) + QUARANTINE_MS,
              };
      return {
        ip: ipOf(lease),
        ipKey: keyOf(lease.family, lease.index),
        family: lease.family,
        owner: `${MESH}/${lease.name}`,
        state: lease.state,
        pinned: lease.pinned,
        leasedAt: lease.leasedAt,
        releasedAt: lease.releasedAt,
        view,
      };
    });
}

function verify(m: Model, real: Real): void {
  const page = real.manager.listLeases(0, 1000);
  const rows = page.items.map((item) => item.lease);
  expect(page.total).toBe(rows.length);

  // Uniqueness (rule 2): no address twice, no identity twice per family.
  expect(new Set(rows.map((lease) => lease.ip)).size, "duplicate ip in the lease table").toBe(rows.length);
  expect(new Set(rows.map((lease) => `${lease.family}/${lease.ipKey}`)).size).toBe(rows.length);
  expect(new Set(rows.map((lease) => `${identityText(lease)}/${lease.family}`)).size).toBe(rows.length);

  // The whole lease table, exactly as the model predicts it (addresses, owners, states, timestamps).
  const actual = page.items.map(({ lease, state, quarantineEndsAt }) => ({
    ip: lease.ip,
    ipKey: lease.ipKey,
    family: lease.family,
    owner: identityText(lease),
    state: lease.state,
    pinned: lease.pinned,
    leasedAt: lease.leasedAt,
    releasedAt: lease.releasedAt,
    view: quarantineEndsAt === undefined ? { state } : { state, quarantineEndsAt },
  }));
  expect(actual).toEqual(expectedLeaseViews(m));

  // The cursors only move on allocation (rule 3).
  for (const family of FAMILIES) {
    const index = m.cursors.get(family);
    expect(real.store.cursor(CIDR[family]), `cursor of ${CIDR[family]}`).toBe(
      index === undefined ? undefined : keyOf(family, index),
    );
  }
  expect(real.store.headRevision(), "head revision").toBe(m.head);

  // Every live service has exactly one bound VIP per family, and it is the one it was created with.
  const services = real.manager.listMeshServices(MESH, 0, 100);
  expect(services.total).toBe(m.services.size);
  expect(services.items.map((s) => s.name).sort()).toEqual([...m.services.keys()].sort());
  for (const service of services.items) {
    const expected = m.services.get(service.name);
    expect(service.vips, `VIPs of live ${service.name}`).toEqual(expected?.vips);
    expect(service.revision, `revision of ${service.name}`).toBe(expected?.revision);
    const bound = rows.filter((lease) => lease.name === service.name && lease.state === "bound");
    expect(bound.map((lease) => lease.family)).toEqual([4, 6]);
  }
  // And nothing that is not live holds a bound lease.
  for (const lease of rows) {
    if (lease.state === "bound") expect(m.services.has(lease.name), `${lease.ip} bound to a dead service`).toBe(true);
  }
}

// ---------------------------------------------------------------------------------------------------
// Commands

type Cmd = fc.Command<Model, Real>;

/** Create, edit (spec change), identical re-PUT, or re-create after a delete: the model tells which. */
class PutCommand implements Cmd {
  constructor(
    readonly name: string,
    readonly spec: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, real: Real): void {
    const { key, input } = SPECS[this.spec] as (typeof SPECS)[number];
    const live = m.services.get(this.name);
    const before = snapshot(real);
    const plan = planBind(m, this.name);
    const result = attempt(() => real.manager.putMeshService(ident(this.name), input));

    if (!plan.ok) {
      // Rule 5: a typed error, and the whole write rolled back (also an IPv4 lease taken before the
      // IPv6 family ran out).
      const message = expectCode(result, "VIP_EXHAUSTED", `${this}`);
      expect(message).toContain(`IPv${plan.family}`);
      expect(snapshot(real), "exhaustion changed state").toEqual(before);
      expectCode(
        attempt(() => real.manager.getMeshService(ident(this.name))),
        "NOT_FOUND",
        "service created on exhaustion",
      );
      note(`put:exhausted-v${plan.family}`);
      if (plan.family === 6 && !leaseOf(m.leases, this.name, 4)) note("put:exhausted-v6-rolled-back-v4");
      verify(m, real);
      return;
    }

    const { service, outcome } = expectOk(result, `${this}`);
    const vips = boundIps(plan.leases, this.name);
    expect(service.vips, `VIPs returned by ${this}`).toEqual(vips);
    expect(vips).toHaveLength(2);
    if (live && live.specKey === key && !plan.changed) {
      // Content-hash no-op: no revision, no change row.
      expect(outcome).toBe("unchanged");
      expect(service.revision).toBe(live.revision);
      note("put:unchanged");
    } else {
      m.head += 1;
      expect(outcome).toBe(live ? "updated" : "created");
      expect(service.revision).toBe(m.head);
      note(live ? "put:updated" : "put:created");
    }
    if (live) {
      // Rule 1: a live identity's VIPs never change.
      expect(service.vips, `VIPs of live ${this.name} moved`).toEqual(live.vips);
    } else {
      // Rule 4: a re-created identity gets back the address it held, unless an operator deleted that
      // lease or it was reclaimed after its quarantine ended.
      for (const [i, family] of FAMILIES.entries()) {
        const past = m.history.get(`${this.name}/${family}`);
        if (past && past.lostBy === undefined) {
          expect(service.vips[i], `${this.name} re-created with another IPv${family}`).toBe(past.ip);
          note("put:recreated-same-vip");
        } else if (past) {
          note(`put:recreated-after-${past.lostBy}`);
        }
      }
    }

    for (const victim of plan.reclaimed) {
      // Only an expired, unpinned tombstone of another identity is ever reused.
      expect(victim.name).not.toBe(this.name);
      expect((victim.releasedAt ?? Number.POSITIVE_INFINITY) + QUARANTINE_MS).toBeLessThanOrEqual(m.now);
      m.history.set(`${victim.name}/${victim.family}`, { ip: ipOf(victim), lostBy: "reclaim" });
      note(`put:reclaimed-v${victim.family}`);
    }
    for (const lease of plan.allocated) m.history.set(`${this.name}/${lease.family}`, { ip: ipOf(lease) });
    m.leases = plan.leases;
    m.cursors = plan.cursors;
    m.services.set(this.name, {
      specKey: key,
      revision: service.revision,
      vips: live?.vips ?? service.vips,
    });
    verify(m, real);
  }
  toString(): string {
    return `put(${this.name}, spec#${this.spec})`;
  }
}

class DeleteCommand implements Cmd {
  constructor(readonly name: string) {}
  check(): boolean {
    return true;
  }
  run(m: Model, real: Real): void {
    const live = m.services.get(this.name);
    const before = snapshot(real);
    const result = attempt(() => real.manager.deleteMeshService(ident(this.name)));
    if (!live) {
      expectCode(result, "NOT_FOUND", `${this}`);
      expect(snapshot(real)).toEqual(before);
      verify(m, real);
      return;
    }
    const deleted = expectOk(result, `${this}`);
    expect(deleted.vips).toEqual(live.vips);
    m.head += 1;
    m.services.delete(this.name);
    for (const lease of [...m.leases.values()]) {
      if (lease.name !== this.name || lease.state !== "bound") continue;
      m.leases.set(slot(lease.family, lease.index), { ...lease, state: "released", releasedAt: m.now });
    }
    note("delete");
    verify(m, real);
  }
  toString(): string {
    return `delete(${this.name})`;
  }
}

class PinCommand implements Cmd {
  constructor(
    readonly name: string,
    readonly target: Target,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, real: Real): void {
    const before = snapshot(real);
    const result = attempt(() => real.manager.pinVip(this.target.raw, ident(this.name)));
    const reject = (code: string, tag: string) => {
      expectCode(result, code, `${this}`);
      // Rule 6: a rejected pin changes nothing.
      expect(snapshot(real), `rejected ${this} changed state`).toEqual(before);
      note(tag);
    };
    const target = this.target;
    if (target.kind === "invalid") {
      reject("VALIDATION_FAILED", "pin:invalid");
    } else if (target.kind === "out") {
      reject("VIP_OUT_OF_RANGE", "pin:out-of-range");
    } else {
      const holder = m.leases.get(slot(target.family, target.index));
      const current = leaseOf(m.leases, this.name, target.family);
      if (holder && holder.name !== this.name) {
        reject("VIP_CONFLICT", `pin:held-by-other-${holder.state}`);
      } else if (current && current.index !== target.index) {
        reject("VIP_CONFLICT", "pin:identity-holds-another");
      } else {
        const { lease, created } = expectOk(result, `${this}`);
        expect(lease.lease.ip).toBe(POOL[target.family][target.index]);
        expect(lease.lease.pinned).toBe(true);
        expect(created).toBe(current === undefined);
        if (current) {
          m.leases.set(slot(target.family, target.index), { ...current, pinned: true });
          note(current.pinned ? "pin:again" : "pin:existing");
        } else {
          const live = m.services.get(this.name);
          m.leases.set(slot(target.family, target.index), {
            family: target.family,
            index: target.index,
            name: this.name,
            state: live ? "bound" : "reserved",
            pinned: true,
            leasedAt: m.now,
            releasedAt: null,
          });
          m.history.set(`${this.name}/${target.family}`, { ip: POOL[target.family][target.index] as string });
          if (live) {
            m.head += 1;
            m.services.set(this.name, { ...live, revision: m.head });
          }
          note("pin:reserved");
        }
      }
    }
    verify(m, real);
  }
  toString(): string {
    return `pin(${this.target.raw} -> ${this.name})`;
  }
}

class DeleteVipCommand implements Cmd {
  constructor(readonly target: Target) {}
  check(): boolean {
    return true;
  }
  run(m: Model, real: Real): void {
    const before = snapshot(real);
    const result = attempt(() => real.manager.deleteVip(this.target.raw));
    const target = this.target;
    const lease = target.kind === "in" ? m.leases.get(slot(target.family, target.index)) : undefined;
    if (!lease || target.kind !== "in") {
      expectCode(result, "NOT_FOUND", `${this}`);
      expect(snapshot(real)).toEqual(before);
      note("deleteVip:not-found");
    } else if (lease.state === "bound") {
      expectCode(result, "LEASE_IN_USE", `${this}`);
      expect(snapshot(real)).toEqual(before);
      note("deleteVip:in-use");
    } else {
      const removed = expectOk(result, `${this}`);
      expect(removed.ip).toBe(ipOf(lease));
      m.leases.delete(slot(target.family, target.index));
      m.history.set(`${lease.name}/${lease.family}`, { ip: ipOf(lease), lostBy: "operator" });
      note(`deleteVip:${lease.state}${lease.pinned ? "-pinned" : ""}`);
    }
    verify(m, real);
  }
  toString(): string {
    return `deleteVip(${this.target.raw})`;
  }
}

/**
 * A command whose subject is picked from the model when it runs (the `pick`-th live service, the
 * `pick`-th tombstone), so that deletes and lease removals hit something most of the time instead of
 * mostly answering NOT_FOUND. Shrinking stays deterministic: the pick depends only on the model.
 */
class PickedCommand implements Cmd {
  private resolved: Cmd | undefined;
  constructor(
    readonly what: "live-service" | "dead-identity" | "tombstone",
    readonly pick: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, real: Real): void {
    if (this.what === "live-service") {
      const names = [...m.services.keys()].sort();
      this.resolved = new DeleteCommand(names[this.pick % Math.max(names.length, 1)] ?? NAMES[0]);
    } else if (this.what === "dead-identity") {
      const names = NAMES.filter((name) => !m.services.has(name));
      this.resolved = new PutCommand(
        names[this.pick % Math.max(names.length, 1)] ?? NAMES[0],
        this.pick % SPECS.length,
      );
    } else {
      const tombstones = [...m.leases.values()]
        .filter((lease) => lease.state !== "bound")
        .sort((a, b) => a.family - b.family || a.index - b.index);
      const lease = tombstones[this.pick % Math.max(tombstones.length, 1)];
      const target: Target = lease
        ? { raw: ipOf(lease), kind: "in", family: lease.family, index: lease.index }
        : { raw: POOL[4][0] as string, kind: "in", family: 4, index: 0 };
      this.resolved = new DeleteVipCommand(target);
    }
    this.resolved.run(m, real);
  }
  toString(): string {
    return `${this.resolved ?? `pick #${this.pick}`} /* ${this.what} */`;
  }
}

class AdvanceClockCommand implements Cmd {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, real: Real): void {
    m.now += this.ms;
    real.clock.now += this.ms;
    verify(m, real);
  }
  toString(): string {
    return `advance(${this.ms}ms)`;
  }
}

class RestartCommand implements Cmd {
  check(): boolean {
    return true;
  }
  run(m: Model, real: Real): void {
    real.store.close();
    const reopened = open(real.path, real.clock);
    real.store = reopened.store;
    real.manager = reopened.manager;
    expect(real.store.epoch).toBe(real.epoch);
    note("restart");
    verify(m, real);
  }
  toString(): string {
    return "restart";
  }
}

const nameArb = fc.constantFrom(...NAMES);
const targetArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...IN_RANGE) },
  { weight: 2, arbitrary: fc.constantFrom(...OUT_OF_RANGE) },
  { weight: 1, arbitrary: fc.constantFrom(...INVALID) },
);
const putArb = fc
  .tuple(nameArb, fc.integer({ min: 0, max: SPECS.length - 1 }))
  .map(([name, spec]) => new PutCommand(name, spec));
const deleteArb = nameArb.map((name) => new DeleteCommand(name));
const pinArb = fc.tuple(nameArb, targetArb).map(([name, target]) => new PinCommand(name, target));
const advanceArb = fc
  .oneof(
    // Just inside, exactly at, and just past the end of a quarantine, or anything up to two of them.
    fc.constantFrom(1, QUARANTINE_MS - 1, QUARANTINE_MS, QUARANTINE_MS + 1),
    fc.integer({ min: 1, max: 2 * QUARANTINE_MS }),
  )
  .map((ms) => new AdvanceClockCommand(ms));

const commandsArb = fc.commands(
  [
    // fc.commands picks an arbitrary uniformly: repeating one is how it gets weight.
    ...Array.from({ length: 4 }, () => putArb),
    fc.nat(7).map((pick) => new PickedCommand("dead-identity", pick)),
    fc.nat(7).map((pick) => new PickedCommand("dead-identity", pick)),
    deleteArb,
    fc.nat(7).map((pick) => new PickedCommand("live-service", pick)),
    pinArb,
    pinArb,
    targetArb.map((target) => new DeleteVipCommand(target)),
    fc.nat(7).map((pick) => new PickedCommand("tombstone", pick)),
    advanceArb,
    advanceArb,
    fc.constant(null).map(() => new RestartCommand()),
  ],
  { maxCommands: 60, size: "max" },
);

describe("VIP allocator against a model (real manager, real SQLite file)", () => {
  test("leases stay unique, stable, quarantined and exactly as the rules place them", () => {
    fc.assert(
      fc.property(commandsArb, (commands) => {
        const real = openReal();
        try {
          fc.modelRun(() => ({ model: initialModel(), real }), commands);
        } finally {
          closeReal(real);
        }
      }),
      { numRuns: 100 },
    );

    if (process.env.VIP_PROPERTY_STATS) console.warn([...seen.entries()].sort());
    // The property only means something if the interesting paths were taken. Each of these occurs
    // dozens of times per 100 runs (VIP_PROPERTY_STATS=1 prints the counts); rarer paths (an IPv6
    // exhaustion rolling back an IPv4 lease, re-creating an identity whose lease was reclaimed) are
    // checked whenever they occur and pinned by the examples in allocator.test.ts.
    for (const tag of [
      "put:created",
      "put:updated",
      "put:unchanged",
      "put:exhausted-v4",
      "put:reclaimed-v4",
      "put:recreated-same-vip",
      "put:recreated-after-operator",
      "delete",
      "pin:reserved",
      "pin:out-of-range",
      "pin:invalid",
      "pin:identity-holds-another",
      "pin:held-by-other-bound",
      "pin:held-by-other-released",
      "deleteVip:not-found",
      "deleteVip:in-use",
      "deleteVip:released",
      "restart",
    ]) {
      expect(seen.get(tag) ?? 0, `never exercised: ${tag}`).toBeGreaterThan(0);
    }
  });
});
