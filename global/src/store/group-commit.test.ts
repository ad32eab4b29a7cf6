import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqliteBasics } from "@mooring/shared";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createGroupCommit } from "./group-commit.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openDb() {
  const dir = mkdtempSync(join(tmpdir(), "mooring-group-"));
  dirs.push(dir);
  const db = new Database(join(dir, "t.db"));
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
  const events: string[] = [];
  let commits = 0;
  const transaction = <T>(fn: () => T): T => {
    const outer = !db.inTransaction;
    const result = db.transaction(fn).immediate();
    if (outer) {
      commits++;
      events.push("commit");
    }
    return result;
  };
  const insert = db.prepare("INSERT INTO t (k, v) VALUES (?, ?)");
  return { db, transaction, insert, events, commits: () => commits };
}

describe("group commit", () => {
  it("commits writes that arrive together in one transaction and acknowledges each after the commit", async () => {
    const t = openDb();
    const group = createGroupCommit({ transaction: t.transaction });
    const acks = Array.from({ length: 100 }, (_, i) =>
      group
        .run(() => {
          t.insert.run(`k${i}`, i);
          return i;
        })
        .then((value) => {
          t.events.push(`ack ${value}`);
          return value;
        }),
    );
    expect(await Promise.all(acks)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(t.commits()).toBe(1);
    expect(t.events[0]).toBe("commit");
    expect(t.db.prepare("SELECT count(*) FROM t").pluck().get()).toBe(100);
  });

  it("rolls back only a write that fails; the others of its group commit", async () => {
    const t = openDb();
    const group = createGroupCommit({ transaction: t.transaction });
    const results = await Promise.allSettled([
      group.run(() => t.insert.run("a", 1)),
      group.run(() => {
        t.insert.run("b", 2);
        throw new Error("refused after writing");
      }),
      group.run(() => t.insert.run("a", 3)), // UNIQUE violation
      group.run(() => t.insert.run("c", 4)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error("refused after writing"));
    expect(t.db.prepare("SELECT k, v FROM t ORDER BY k").all()).toEqual([
      { k: "a", v: 1 },
      { k: "c", v: 4 },
    ]);
    expect(t.commits()).toBe(1);
  });

  it("with savepointPerWrite false, a write that is its own transaction still rolls back alone", async () => {
    const t = openDb();
    const group = createGroupCommit({ transaction: t.transaction, savepointPerWrite: false });
    const results = await Promise.allSettled([
      group.run(() => t.transaction(() => t.insert.run("a", 1))),
      group.run(() =>
        t.transaction(() => {
          t.insert.run("b", 2);
          throw new Error("refused after writing");
        }),
      ),
      group.run(() => t.transaction(() => t.insert.run("a", 3))), // UNIQUE violation
      group.run(() => t.transaction(() => t.insert.run("c", 4))),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    expect(t.db.prepare("SELECT k, v FROM t ORDER BY k").all()).toEqual([
      { k: "a", v: 1 },
      { k: "c", v: 4 },
    ]);
    expect(t.commits()).toBe(1);
  });

  it("rejects the whole group when the commit itself fails, and keeps serving later writes", async () => {
    const t = openDb();
    let failNext = true;
    let depth = 0;
    // The outermost transaction throws at its end, as a failing COMMIT would: everything rolls back.
    const group = createGroupCommit({
      transaction: <T>(fn: () => T): T =>
        t.transaction(() => {
          depth++;
          try {
            const result = fn();
            if (depth === 1 && failNext) {
              failNext = false;
              throw new Error("disk I/O error");
            }
            return result;
          } finally {
            depth--;
          }
        }),
    });
    const first = await Promise.allSettled([
      group.run(() => t.insert.run("a", 1)),
      group.run(() => t.insert.run("b", 2)),
    ]);
    expect(first.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(t.db.prepare("SELECT count(*) FROM t").pluck().get()).toBe(0);
    await group.run(() => t.insert.run("c", 3));
    expect(t.db.prepare("SELECT k FROM t").pluck().all()).toEqual(["c"]);
  });

  it("bounds a group to maxGroup writes", async () => {
    const t = openDb();
    const group = createGroupCommit({ transaction: t.transaction, maxGroup: 10 });
    await Promise.all(Array.from({ length: 25 }, (_, i) => group.run(() => t.insert.run(`k${i}`, i))));
    expect(t.commits()).toBe(3);
  });

  describe("without savepoints", () => {
    /** A group commit that runs writes without savepoints first, counting the savepoints it opens. */
    function unguarded() {
      const t = openDb();
      const basics = sqliteBasics(t.db);
      let savepoints = 0;
      const group = createGroupCommit({
        transaction: <T>(fn: () => T): T => {
          if (t.db.inTransaction) savepoints++;
          return t.transaction(fn);
        },
        withoutSavepoints: {
          run: basics.withoutSavepoints,
          totalChanges: basics.totalChanges,
          inTransaction: basics.inTransaction,
        },
      });
      // Each write is its own transaction, as the manager's are: inline while there are no savepoints.
      const own = <T>(fn: () => T): T => basics.transaction(fn);
      return { ...t, group, own, savepoints: () => savepoints };
    }

    it("answers a write that fails before changing anything with its error, and commits the rest without a savepoint", async () => {
      const t = unguarded();
      const runs: string[] = [];
      const results = await Promise.allSettled([
        t.group.run(() => t.own(() => t.insert.run("a", 1))),
        t.group.run(() =>
          t.own(() => {
            runs.push("refused");
            throw new Error("revision conflict");
          }),
        ),
        t.group.run(() => t.own(() => t.insert.run("a", 3))), // UNIQUE violation: SQLite undoes the statement
        t.group.run(() => t.own(() => t.insert.run("c", 4))),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error("revision conflict"));
      expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
      expect(t.db.prepare("SELECT k, v FROM t ORDER BY k").all()).toEqual([
        { k: "a", v: 1 },
        { k: "c", v: 4 },
      ]);
      expect(runs).toEqual(["refused"]);
      expect(t.savepoints()).toBe(0);
      expect(t.commits()).toBe(1);
    });

    it("rolls the group back and runs it again with savepoints when a write fails after changing something", async () => {
      const t = unguarded();
      const runs: string[] = [];
      const results = await Promise.allSettled([
        t.group.run(() => t.own(() => t.insert.run("a", 1))),
        t.group.run(() =>
          t.own(() => {
            runs.push("half");
            t.insert.run("b", 2);
            throw new Error("second family exhausted");
          }),
        ),
        t.group.run(() => t.own(() => t.insert.run("c", 3))),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error("second family exhausted"));
      // Nothing of the half-done write is left, and the others committed once.
      expect(t.db.prepare("SELECT k, v FROM t ORDER BY k").all()).toEqual([
        { k: "a", v: 1 },
        { k: "c", v: 3 },
      ]);
      expect(runs).toEqual(["half", "half"]);
      expect(t.savepoints()).toBe(3);
      expect(t.commits()).toBe(1);
    });

    it("refuses to run outside a transaction", () => {
      const t = unguarded();
      expect(() => sqliteBasics(t.db).withoutSavepoints(() => 1)).toThrow(/open transaction/);
    });
  });

  it("acknowledges a group only once it is durable, and starts the next group only then", async () => {
    const t = openDb();
    const syncs: Array<() => void> = [];
    const group = createGroupCommit({
      transaction: t.transaction,
      commitSyncedLater: (fn) => {
        const value = t.transaction(fn);
        return { value, durable: new Promise<void>((resolve) => syncs.push(resolve)) };
      },
    });
    const acked: string[] = [];
    const first = group.run(() => t.insert.run("a", 1)).then(() => acked.push("a"));
    await new Promise((resolve) => setImmediate(resolve));
    const second = group.run(() => t.insert.run("b", 2)).then(() => acked.push("b"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // "a" is committed but not durable: not acknowledged, and "b" waits for the next group.
    expect(t.commits()).toBe(1);
    expect(acked).toEqual([]);
    expect(syncs).toHaveLength(1);
    syncs[0]?.();
    await first;
    expect(acked).toEqual(["a"]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(t.commits()).toBe(2);
    syncs[1]?.();
    await second;
    expect(acked).toEqual(["a", "b"]);
  });
});
