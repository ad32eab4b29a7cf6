import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openSqlite, sqliteBasics } from "./sqlite.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function open(synchronous: "full" | "normal") {
  const dir = mkdtempSync(join(tmpdir(), "mooring-sqlite-"));
  dirs.push(dir);
  const db = openSqlite({
    path: join(dir, "t.db"),
    synchronous,
    migrations: [{ version: 1, name: "t", sql: "CREATE TABLE t (k TEXT PRIMARY KEY)" }],
  });
  return { db, basics: sqliteBasics(db), level: () => db.pragma("synchronous", { simple: true }) };
}

describe("transactionWithoutFsync", () => {
  it("commits at NORMAL on a FULL database and puts FULL back, also after a throw", () => {
    const { db, basics, level } = open("full");
    expect(level()).toBe(2);
    const inside = basics.transactionWithoutFsync(() => {
      db.prepare("INSERT INTO t VALUES ('a')").run();
      return level();
    });
    expect(inside).toBe(1);
    expect(level()).toBe(2);
    expect(() =>
      basics.transactionWithoutFsync(() => {
        db.prepare("INSERT INTO t VALUES ('b')").run();
        throw new Error("refused");
      }),
    ).toThrow("refused");
    expect(level()).toBe(2);
    expect(db.prepare("SELECT k FROM t").pluck().all()).toEqual(["a"]);
    db.close();
  });

  it("nested in a transaction is a savepoint of it; on a NORMAL database it changes nothing", () => {
    const full = open("full");
    full.basics.transaction(() => {
      full.basics.transactionWithoutFsync(() => full.db.prepare("INSERT INTO t VALUES ('a')").run());
      expect(full.level()).toBe(2);
    });
    expect(full.db.prepare("SELECT count(*) FROM t").pluck().get()).toBe(1);
    full.db.close();
    const normal = open("normal");
    expect(normal.basics.transactionWithoutFsync(() => normal.level())).toBe(1);
    expect(normal.level()).toBe(1);
    normal.db.close();
  });
});

describe("withoutSavepoints", () => {
  it("runs nested transactions as plain calls: a throw in one undoes nothing, and totalChanges says so", () => {
    const { db, basics } = open("normal");
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    basics.transaction(() => {
      // Outside it, a nested transaction is a savepoint: its throw rolls back its insert.
      expect(() =>
        basics.transaction(() => {
          insert.run("a");
          throw new Error("refused");
        }),
      ).toThrow("refused");
      const before = basics.totalChanges();
      basics.withoutSavepoints(() => {
        expect(() =>
          basics.transaction(() => {
            insert.run("b");
            throw new Error("refused");
          }),
        ).toThrow("refused");
      });
      expect(basics.totalChanges()).toBe(before + 1);
      expect(basics.inTransaction()).toBe(true);
    });
    expect(db.prepare("SELECT k FROM t").pluck().all()).toEqual(["b"]);
    // And nested transactions are savepoints again afterwards.
    basics.transaction(() => {
      expect(() =>
        basics.transaction(() => {
          insert.run("c");
          throw new Error("refused");
        }),
      ).toThrow("refused");
    });
    expect(db.prepare("SELECT k FROM t").pluck().all()).toEqual(["b"]);
    expect(() => basics.withoutSavepoints(() => 1)).toThrow(/open transaction/);
    db.close();
  });
});
