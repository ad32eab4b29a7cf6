import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
});
