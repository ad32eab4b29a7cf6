// Properties of diffByKey/applyDiff over generated states. Keys come from a tiny alphabet so that
// states overlap, and values are fresh objects compared with `equals`, so identity never decides.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyDiff, type DiffEntry, diffByKey } from "./diff.js";

interface Service {
  readonly vip: string;
  readonly port: number;
}

const sameService = (a: Service, b: Service) => a.vip === b.vip && a.port === b.port;

const key = fc.string({ unit: fc.constantFrom("a", "b", "c", "/"), minLength: 1, maxLength: 3 });
const service: fc.Arbitrary<Service> = fc.record({
  vip: fc.constantFrom("241.0.0.1", "241.0.0.2"),
  port: fc.integer({ min: 1, max: 3 }),
});
const state = fc.uniqueArray(fc.tuple(key, service), { selector: ([k]) => k, maxLength: 24 }).map((entries) => {
  return new Map(entries);
});

/** A copy of the state with fresh value objects. */
function clone(map: ReadonlyMap<string, Service>): Map<string, Service> {
  return new Map([...map].map(([k, v]) => [k, { ...v }]));
}

/**
 * An old state and a new one derived from it the way a sync sees it: each key kept (as an equal copy),
 * changed or dropped, plus some new keys. Half the time, two unrelated states instead.
 */
const transition: fc.Arbitrary<{ before: Map<string, Service>; after: Map<string, Service> }> = fc.oneof(
  fc
    .record({
      before: state,
      fates: fc.array(fc.constantFrom("keep", "change", "drop"), { maxLength: 24 }),
      added: state,
    })
    .map(({ before, fates, added }) => {
      const after = new Map<string, Service>();
      [...before].forEach(([k, v], index) => {
        const fate = fates[index] ?? "keep";
        if (fate === "keep") after.set(k, { ...v });
        if (fate === "change") after.set(k, { ...v, port: v.port + 100 });
      });
      for (const [k, v] of added) if (!before.has(k)) after.set(k, v);
      return { before, after };
    }),
  fc.record({ before: state, after: state }),
);

const isUpsert = (entry: DiffEntry<Service>) => entry.op !== "remove";
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe("diffByKey (properties)", () => {
  it("applying diff(old, new) to old gives new", () => {
    fc.assert(
      fc.property(transition, ({ before, after }) => {
        const applied = applyDiff(before, diffByKey(before, after, sameService));
        expect([...applied.keys()].sort()).toEqual([...after.keys()].sort());
        for (const [k, v] of after) expect(applied.get(k)).toEqual(v);
      }),
    );
  });

  it("never removes a key that it also adds or updates", () => {
    fc.assert(
      fc.property(transition, ({ before, after }) => {
        const diff = diffByKey(before, after, sameService);
        const upserted = new Set(diff.filter(isUpsert).map((entry) => entry.key));
        const removedAndUpserted = diff.filter((entry) => entry.op === "remove" && upserted.has(entry.key));
        expect(removedAndUpserted).toEqual([]);
      }),
    );
  });

  it("mentions each key at most once", () => {
    fc.assert(
      fc.property(transition, ({ before, after }) => {
        const keys = diffByKey(before, after, sameService).map((entry) => entry.key);
        expect(keys).toHaveLength(new Set(keys).size);
      }),
    );
  });

  it("never mentions a key whose value is unchanged", () => {
    fc.assert(
      fc.property(transition, ({ before, after }) => {
        const unchanged = [...after].filter(([k, v]) => {
          const old = before.get(k);
          return old !== undefined && sameService(old, v);
        });
        const mentioned = new Set(diffByKey(before, after, sameService).map((entry) => entry.key));
        expect(unchanged.filter(([k]) => mentioned.has(k))).toEqual([]);
      }),
    );
  });

  it("puts every add and update before any remove (make before break)", () => {
    fc.assert(
      fc.property(transition, ({ before, after }) => {
        const ops = diffByKey(before, after, sameService).map((entry) => (isUpsert(entry) ? "upsert" : "remove"));
        expect(ops).toEqual([...ops].sort((a, b) => (a === b ? 0 : a === "upsert" ? -1 : 1)));
      }),
    );
  });

  it("lists the adds and updates in key order, and the removes in key order", () => {
    fc.assert(
      fc.property(transition, ({ before, after }) => {
        const diff = diffByKey(before, after, sameService);
        const upserts = diff.filter(isUpsert).map((entry) => entry.key);
        const removes = diff.filter((entry) => !isUpsert(entry)).map((entry) => entry.key);
        expect(upserts).toEqual([...upserts].sort(byCodeUnit));
        expect(removes).toEqual([...removes].sort(byCodeUnit));
      }),
    );
  });

  it("turns one key inserted into the middle of a sorted set into exactly one add", () => {
    const sortedKeys = fc
      .uniqueArray(fc.string({ unit: fc.constantFrom("a", "b", "c", "d"), minLength: 1, maxLength: 4 }), {
        minLength: 3,
        maxLength: 24,
      })
      .map((keys) => keys.sort(byCodeUnit));
    const scenario = sortedKeys.chain((keys) =>
      fc.record({
        keys: fc.constant(keys),
        values: fc.array(service, { minLength: keys.length, maxLength: keys.length }),
        // Strictly inside: not the first, not the last.
        inserted: fc.integer({ min: 1, max: keys.length - 2 }),
      }),
    );
    fc.assert(
      fc.property(scenario, ({ keys, values, inserted }) => {
        const after = new Map(keys.map((k, index) => [k, values[index] as Service]));
        const before = clone(after);
        const insertedKey = keys[inserted] as string;
        before.delete(insertedKey);
        expect(diffByKey(before, after, sameService)).toEqual([
          { op: "add", key: insertedKey, value: after.get(insertedKey) },
        ]);
      }),
    );
  });

  it("finds nothing between a state and an equal copy of it", () => {
    fc.assert(
      fc.property(state, (current) => {
        expect(diffByKey(current, clone(current), sameService)).toEqual([]);
      }),
    );
  });
});
