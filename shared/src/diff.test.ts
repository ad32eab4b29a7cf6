import { describe, expect, it } from "vitest";
import { applyDiff, type DiffEntry, diffByKey } from "./diff.js";

interface Service {
  readonly vip: string;
  readonly port: number;
}

const sameService = (a: Service, b: Service) => a.vip === b.vip && a.port === b.port;

/** Fresh objects every call, so a diff that compared by identity would see every key as changed. */
function services(entries: Record<string, Service>): Map<string, Service> {
  return new Map(Object.entries(entries).map(([key, service]) => [key, { ...service }]));
}

const api = { vip: "241.0.0.1", port: 80 };
const cache = { vip: "241.0.0.2", port: 6379 };
const db = { vip: "241.0.0.3", port: 5432 };
const web = { vip: "241.0.0.4", port: 8080 };

describe("diffByKey", () => {
  it("adds one service without touching its unchanged neighbours (dcos-net sorted-list diff incident)", () => {
    // dcos-net matched sorted lists by position with inverted guards: inserting "cache" shifted db and
    // web, which were deleted and re-added although nothing about them had changed.
    const before = services({ api, db, web });
    const after = services({ api, cache, db, web });
    expect(diffByKey(before, after, sameService)).toEqual([{ op: "add", key: "cache", value: cache }]);
  });

  it("lists adds and updates in key order, then removes in key order", () => {
    const before = services({ web, db, api: { ...api, port: 81 }, old: cache });
    const after = services({ zeta: web, web: { ...web, port: 9090 }, api, db, alpha: db });
    const expected: DiffEntry<Service>[] = [
      { op: "add", key: "alpha", value: db },
      { op: "update", key: "api", value: api, previous: { ...api, port: 81 } },
      { op: "update", key: "web", value: { ...web, port: 9090 }, previous: web },
      { op: "add", key: "zeta", value: web },
      { op: "remove", key: "old", previous: cache },
    ];
    expect(diffByKey(before, after, sameService)).toEqual(expected);
  });

  it("orders keys by code unit, not by locale", () => {
    const before = new Map<string, number>();
    const after = new Map([
      ["b", 1],
      ["B", 1],
      ["a", 1],
    ]);
    expect(diffByKey(before, after, Object.is).map((entry) => entry.key)).toEqual(["B", "a", "b"]);
  });

  it("decides changes with the equals given, not with identity", () => {
    expect(diffByKey(services({ api }), services({ api }), sameService)).toEqual([]);
    expect(diffByKey(services({ api }), services({ api }), () => false)).toEqual([
      { op: "update", key: "api", value: api, previous: api },
    ]);
  });

  it("treats a key whose value is undefined as present", () => {
    const before = new Map<string, number | undefined>([["a", undefined]]);
    const after = new Map<string, number | undefined>([["a", 1]]);
    expect(diffByKey(before, after, Object.is)).toEqual([{ op: "update", key: "a", value: 1, previous: undefined }]);
    expect(diffByKey(after, new Map(), Object.is)).toEqual([{ op: "remove", key: "a", previous: 1 }]);
  });
});

describe("applyDiff", () => {
  it("applies adds, updates and removes into a new map and leaves the state alone", () => {
    const state = new Map([
      ["a", 1],
      ["b", 2],
    ]);
    const next = applyDiff(state, [
      { op: "add", key: "c", value: 3 },
      { op: "update", key: "a", value: 10, previous: 1 },
      { op: "remove", key: "b", previous: 2 },
    ]);
    expect([...next]).toEqual([
      ["a", 10],
      ["c", 3],
    ]);
    expect([...state]).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
  });

  it("throws when an entry does not fit the state, naming the key", () => {
    const state = new Map([["a", 1]]);
    expect(() => applyDiff(state, [{ op: "add", key: "a", value: 2 }])).toThrow(
      "cannot add a: it is already in the state",
    );
    expect(() => applyDiff(state, [{ op: "update", key: "b", value: 2, previous: 1 }])).toThrow(
      "cannot update b: it is not in the state",
    );
    expect(() => applyDiff(state, [{ op: "remove", key: "b", previous: 1 }])).toThrow(
      "cannot remove b: it is not in the state",
    );
    expect([...state]).toEqual([["a", 1]]);
  });

  it("fits an entry against the state as changed by the entries before it", () => {
    const state = new Map([["a", 1]]);
    expect(() =>
      applyDiff(state, [
        { op: "remove", key: "a", previous: 1 },
        { op: "remove", key: "a", previous: 1 },
      ]),
    ).toThrow("cannot remove a");
    expect([
      ...applyDiff(state, [
        { op: "remove", key: "a", previous: 1 },
        { op: "add", key: "a", value: 2 },
      ]),
    ]).toEqual([["a", 2]]);
  });
});
