import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSqliteStore, type SqliteStore } from "../store/sqlite-store.js";
import { compactChangeLog } from "./compaction.js";

const dirs: string[] = [];
function store(): SqliteStore {
  const dir = mkdtempSync(join(tmpdir(), "mooring-compaction-"));
  dirs.push(dir);
  return createSqliteStore({ path: join(dir, "global.db"), synchronous: "normal" });
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Ten changes, written at t = 1000, 2000, ... 10000. */
function tenChanges(s: SqliteStore): void {
  for (let i = 1; i <= 10; i++) {
    s.appendChange("MeshService", { mesh: "default", zone: "", name: `s${i}` }, "upsert", "h", i * 1000);
  }
}

describe("change-log compaction", () => {
  it("keeps the newest maxEntries entries and moves the horizon to the last removed revision", () => {
    const s = store();
    tenChanges(s);
    expect(compactChangeLog(s, { maxEntries: 4, maxAgeMs: 1e12, now: 11_000 })).toBe(6);
    expect(s.compactedThrough()).toBe(6);
    expect(s.changesSince(0 as never, 100).map((c) => c.revision)).toEqual([7, 8, 9, 10]);
    expect(s.headRevision()).toBe(10);
    expect(compactChangeLog(s, { maxEntries: 4, maxAgeMs: 1e12, now: 11_000 })).toBe(0);
  });

  it("removes entries older than maxAgeMs even under the count limit", () => {
    const s = store();
    tenChanges(s);
    // At t = 11000 with a 5.5 s age limit, entries written before 5500 (revisions 1-5) go.
    expect(compactChangeLog(s, { maxEntries: 100, maxAgeMs: 5500, now: 11_000 })).toBe(5);
    expect(s.compactedThrough()).toBe(5);
  });

  it("checks only the count when no age limit is given (the check made after every commit)", () => {
    const s = store();
    tenChanges(s);
    expect(compactChangeLog(s, { maxEntries: 100, now: 1e9 })).toBe(0);
    expect(s.compactedThrough()).toBe(0);
    expect(compactChangeLog(s, { maxEntries: 8, now: 1e9 })).toBe(2);
    expect(compactChangeLog(s, { maxEntries: 8, maxAgeMs: 1, now: 1e9 })).toBe(8);
    expect(s.compactedThrough()).toBe(10);
  });

  it("trims by count once the log is 1% over the limit, then down to the limit", () => {
    const s = store();
    const add = (n: number) => {
      for (let i = 0; i < n; i++)
        s.appendChange("MeshService", { mesh: "default", zone: "", name: `s${i}` }, "upsert", "h", 1);
    };
    add(200);
    // Limit 100, slack 1: 99 over the limit compacts, down to the newest 100.
    expect(compactChangeLog(s, { maxEntries: 100, now: 1e9 })).toBe(100);
    add(1);
    expect(compactChangeLog(s, { maxEntries: 100, now: 1e9 })).toBe(0);
    add(1);
    expect(compactChangeLog(s, { maxEntries: 100, now: 1e9 })).toBe(2);
    expect(s.changesSince(0 as never, 1000)).toHaveLength(100);
  });

  it("never moves the horizon back, and keeps the head after compacting everything", () => {
    const s = store();
    tenChanges(s);
    expect(compactChangeLog(s, { maxEntries: 100, maxAgeMs: 1, now: 1e9 })).toBe(10);
    expect(s.compactedThrough()).toBe(10);
    expect(s.headRevision()).toBe(10);
    expect(compactChangeLog(s, { maxEntries: 100, maxAgeMs: 1e12, now: 1e9 })).toBe(0);
    expect(s.compactedThrough()).toBe(10);
  });
});
