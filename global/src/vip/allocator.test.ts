// Worked examples of the VIP allocation rules (DESIGN.md "VIP allocation rules"), through the real
// manager over a real SQLite file and a fake clock. The model-based property test next to this file
// explores the same rules at random; these pin the cases by hand, with exact addresses.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MooringError, revision } from "@mooring/shared";
import { afterEach, describe, expect, test } from "vitest";
import { createManager } from "../manager/manager.js";
import { createSqliteStore } from "../store/sqlite-store.js";
import { createVipAllocator } from "./allocator.js";
import { parseCidrList } from "./cidr.js";

const QUARANTINE_MS = 60_000;
const START = 1_700_000_000_000;
const cleanups: Array<() => void> = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** 10.9.0.0/29 has 6 usable addresses (.1-.6); fd00::/125 has 7 (::1-::7). */
function setup() {
  const dir = mkdtempSync(join(tmpdir(), "mooring-vip-"));
  const clock = { now: START };
  const store = createSqliteStore({ path: join(dir, "global.db"), synchronous: "normal" });
  cleanups.push(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const allocator = createVipAllocator(store, {
    ranges: parseCidrList("10.9.0.0/29,fd00::/125"),
    quarantineMs: QUARANTINE_MS,
    now: () => clock.now,
  });
  const manager = createManager(store, allocator, { now: () => clock.now });
  const id = (name: string) => ({ mesh: "default", zone: "", name });
  return {
    clock,
    store,
    manager,
    id,
    put: (name: string, port = 80) => manager.putMeshService(id(name), { spec: { ports: [{ port }] } }),
    remove: (name: string) => manager.deleteMeshService(id(name)),
    leases: () => store.listLeases(0, 100).items,
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof MooringError) return error.code;
    throw error;
  }
  throw new Error("expected a MooringError, but the call succeeded");
}

describe("VIP allocation rules, by example", () => {
  test("an identical PUT is a no-op: same revision, no new change row (content-hash no-op)", () => {
    const { store, manager, id, put } = setup();
    const created = put("web");
    expect(created.outcome).toBe("created");
    expect(created.service.revision).toBe(1);
    expect(created.service.vips).toEqual(["10.9.0.1", "fd00::1"]);
    expect(store.headRevision()).toBe(1);

    // The same intent, also when spelled with the default appProtocol written out.
    for (const input of [
      { spec: { ports: [{ port: 80 }] } },
      { spec: { ports: [{ port: 80, appProtocol: "tcp" as const }] } },
    ]) {
      const again = manager.putMeshService(id("web"), input);
      expect(again.outcome).toBe("unchanged");
      expect(again.service.revision).toBe(1);
      expect(again.service.vips).toEqual(["10.9.0.1", "fd00::1"]);
    }
    expect(store.headRevision()).toBe(1);
    expect(store.changesSince(revision(0), 100)).toHaveLength(1);
  });

  test("a spec edit keeps the VIP and bumps the revision (rule 1)", () => {
    const { store, put } = setup();
    put("web");
    put("api");
    const edited = put("web", 8080);
    expect(edited.outcome).toBe("updated");
    expect(edited.service.revision).toBe(3);
    expect(store.headRevision()).toBe(3);
    expect(edited.service.vips).toEqual(["10.9.0.1", "fd00::1"]);
    // Nothing happened to the lease: its only event is the original allocation.
    expect(store.leaseEvents("10.9.0.1", 10).map((event) => event.event)).toEqual(["allocate"]);
  });

  test("delete + re-create inside quarantine returns the same VIP, which nobody else got (rule 4)", () => {
    const { clock, store, put, remove } = setup();
    put("web");
    put("api");
    remove("web");
    clock.now += QUARANTINE_MS - 1;
    // The tombstone is still there and still holds both addresses.
    expect(put("db").service.vips).toEqual(["10.9.0.3", "fd00::3"]);
    const back = put("web");
    expect(back.outcome).toBe("created");
    expect(back.service.vips).toEqual(["10.9.0.1", "fd00::1"]);
    expect(store.leaseEvents("10.9.0.1", 10).map((event) => event.event)).toEqual(["rebind", "release", "allocate"]);
  });

  test("after quarantine, a full range reuses the address whose quarantine ended first (rule 4, rule 5)", () => {
    const { clock, put, remove, leases } = setup();
    for (let i = 0; i < 6; i++) put(`svc-${i}`); // 10.9.0.1-.6 and fd00::1-::6: IPv4 is now full
    remove("svc-1"); // releases 10.9.0.2 at START
    clock.now += 10_000;
    remove("svc-0"); // releases 10.9.0.1 at START + 10 s

    clock.now = START + QUARANTINE_MS - 1;
    const before = leases();
    expect(codeOf(() => put("svc-6"))).toBe("VIP_EXHAUSTED");
    expect(leases()).toEqual(before);

    clock.now = START + QUARANTINE_MS; // svc-1's quarantine is over (svc-0's is not)
    expect(put("svc-6").service.vips).toEqual(["10.9.0.2", "fd00::7"]);

    // svc-1 comes back: its IPv6 tombstone is still there, but its IPv4 address is gone and the only
    // other tombstone (svc-0's) is still in quarantine.
    expect(codeOf(() => put("svc-1"))).toBe("VIP_EXHAUSTED");
    clock.now = START + 10_000 + QUARANTINE_MS;
    expect(put("svc-1").service.vips).toEqual(["10.9.0.1", "fd00::2"]);
  });

  test("cursor placement: a freed address is not reused while fresh ones remain (rule 3)", () => {
    const { clock, manager, put, remove } = setup();
    put("a");
    remove("a");
    manager.deleteVip("10.9.0.1");
    manager.deleteVip("fd00::1");
    clock.now += 2 * QUARANTINE_MS;
    // 10.9.0.1 is free and its quarantine long over, yet the cursor moves on.
    expect(put("b").service.vips).toEqual(["10.9.0.2", "fd00::2"]);
    for (const name of ["c", "d", "e"]) put(name);
    expect(put("f").service.vips).toEqual(["10.9.0.6", "fd00::6"]);
    // Only after the end of the range does the cursor wrap round to the freed address.
    expect(put("g").service.vips).toEqual(["10.9.0.1", "fd00::7"]);
    expect(codeOf(() => put("h"))).toBe("VIP_EXHAUSTED");
  });

  test("exhaustion of the second family rolls back the first: nothing is leased, nothing created (rule 5)", () => {
    const { store, manager, id, put, leases } = setup();
    for (let i = 1; i <= 7; i++) manager.pinVip(`fd00::${i}`, id(`reserved-${i}`)); // IPv6 is now full
    const before = leases();
    expect(before).toHaveLength(7);
    expect(store.headRevision()).toBe(0);

    // IPv4 has room, so 10.9.0.1 is taken first inside the transaction, then IPv6 runs out.
    expect(codeOf(() => put("web"))).toBe("VIP_EXHAUSTED");
    expect(leases()).toEqual(before);
    expect(store.cursor("10.9.0.0/29")).toBeUndefined();
    expect(store.headRevision()).toBe(0);
    expect(codeOf(() => manager.getMeshService(id("web")))).toBe("NOT_FOUND");
  });

  test("a pin is checked against the lease table and never steals (rule 6)", () => {
    const { manager, id, put, leases } = setup();
    put("a"); // 10.9.0.1, fd00::1
    const before = leases();
    expect(codeOf(() => manager.pinVip("10.9.0.1", id("b")))).toBe("VIP_CONFLICT"); // held by a
    expect(codeOf(() => manager.pinVip("10.9.0.2", id("a")))).toBe("VIP_CONFLICT"); // a already holds .1
    expect(codeOf(() => manager.pinVip("10.9.0.7", id("b")))).toBe("VIP_OUT_OF_RANGE"); // broadcast
    expect(codeOf(() => manager.pinVip("fd00::", id("b")))).toBe("VIP_OUT_OF_RANGE"); // network
    expect(leases()).toEqual(before);

    const pinned = manager.pinVip("10.9.0.2", id("b"));
    expect(pinned.created).toBe(true);
    expect(pinned.lease.state).toBe("reserved");
    expect(put("b").service.vips).toEqual(["10.9.0.2", "fd00::2"]);
    // The cursor still points at .2, which is held, so the next identity gets .3.
    expect(put("c").service.vips).toEqual(["10.9.0.3", "fd00::3"]);
  });
});
