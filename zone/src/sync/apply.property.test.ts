// Model test: random sessions of random batches, split into random messages, applied through the
// applier against a real SQLite file. After every message the store equals a plain Map model, and the
// emitted diff is exactly the model's change: no unchanged key, no key twice, adds/updates first.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { changes, createTempStore, EPOCH, key, meshService, silentLogger } from "../test-support.js";
import { type ChangesEvent, createApplier } from "./apply.js";

interface Content {
  readonly port: number;
  readonly vip: string | undefined;
}

type Op =
  | { kind: "upsert"; name: string; zone: string; content: Content }
  | { kind: "delete"; name: string; zone: string };

const names = fc.constantFrom("a", "b", "c", "d", "e");
const zones = fc.constantFrom("", "west");
const content = fc.record({
  port: fc.constantFrom(80, 81, 82),
  vip: fc.constantFrom(undefined, "241.0.0.1", "241.0.0.2"),
});
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("upsert" as const), name: names, zone: zones, content }),
  fc.record({ kind: fc.constant("delete" as const), name: names, zone: zones }),
);
/** A batch: its messages, each a list of operations. */
const batch = fc.array(fc.array(op, { maxLength: 6 }), { minLength: 1, maxLength: 3 });
/** A FULL snapshot: each key at most once, upserts only, split into messages. */
const snapshot = fc
  .uniqueArray(fc.record({ name: names, zone: zones, content }), {
    selector: (entry) => `${entry.zone}/${entry.name}`,
    maxLength: 10,
  })
  .chain((entries) =>
    fc.array(fc.nat(entries.length), { maxLength: 2 }).map((cuts) =>
      splitAt(
        entries.map((entry): Op => ({ kind: "upsert", ...entry })),
        cuts,
      ),
    ),
  );
const session = fc.oneof(
  fc.record({ mode: fc.constant("full" as const), first: snapshot, live: fc.array(batch, { maxLength: 4 }) }),
  fc.record({ mode: fc.constant("incremental" as const), first: batch, live: fc.array(batch, { maxLength: 4 }) }),
);

function splitAt<T>(items: T[], cuts: number[]): T[][] {
  const points = [...new Set([0, ...cuts, items.length])].sort((a, b) => a - b);
  const parts = points.slice(1).map((end, i) => items.slice(points[i], end));
  return parts.length > 0 ? parts : [[]];
}

const keyOf = (name: string, zone: string) => `MeshService/default/${zone}/${name}`;
const same = (a: Content | undefined, b: Content | undefined) => a?.port === b?.port && a?.vip === b?.vip;

describe("applier model", () => {
  it("keeps the store equal to the model and emits exactly the minimal diff", () => {
    fc.assert(
      fc.property(fc.array(session, { minLength: 1, maxLength: 3 }), (sessions) => {
        const t = createTempStore();
        try {
          const applier = createApplier(t.store, silentLogger);
          const events: ChangesEvent[] = [];
          applier.onChanges((event) => events.push(event));
          let model = new Map<string, Content>();
          let revision = 0;
          for (const [index, plan] of sessions.entries()) {
            // An incremental session needs a cursor; the first session of a fresh zone is FULL.
            const mode = index === 0 ? "full" : plan.mode;
            const applierSession = applier.session({ mode, epoch: EPOCH });
            const batches = [plan.first, ...plan.live];
            for (const [b, messages] of batches.entries()) {
              const initial = b === 0;
              const from = initial && mode === "full" ? 0 : revision;
              const to = revision + 1 + messages.flat().length;
              const snapshotKeys = new Set<string>();
              // A batch commits whole at its last message: `committed` is what the store holds until then.
              const committed = model;
              for (const [m, ops] of messages.entries()) {
                const last = m === messages.length - 1;
                const before = committed;
                const after = new Map(model);
                // A message carries its upserts and its deletes in two lists: upserts apply first.
                const ordered = [...ops.filter((o) => o.kind === "upsert"), ...ops.filter((o) => o.kind === "delete")];
                for (const entry of ordered) {
                  const k = keyOf(entry.name, entry.zone);
                  if (entry.kind === "upsert") {
                    after.set(k, entry.content);
                    snapshotKeys.add(k);
                  } else {
                    after.delete(k);
                    snapshotKeys.delete(k);
                  }
                }
                if (last && initial && mode === "full") {
                  for (const k of [...after.keys()]) if (!snapshotKeys.has(k)) after.delete(k);
                }
                events.length = 0;
                const outcome = applierSession.apply(
                  changes(from, to, {
                    upserts: ops.flatMap((entry) =>
                      entry.kind === "upsert"
                        ? [
                            meshService(entry.name, {
                              zone: entry.zone,
                              port: entry.content.port,
                              vips: entry.content.vip ? [entry.content.vip] : [],
                              revision: to,
                            }),
                          ]
                        : [],
                    ),
                    deletes: ops.flatMap((entry) =>
                      entry.kind === "delete" ? [key(entry.name, { zone: entry.zone })] : [],
                    ),
                    last,
                  }),
                );
                expect(outcome.ok).toBe(true);

                // The expected minimal diff between the model before and after this message.
                const expected: string[] = [];
                for (const [k, value] of [...after].sort(([x], [y]) => (x < y ? -1 : 1))) {
                  if (!before.has(k)) expected.push(`add ${k}`);
                  else if (!same(before.get(k), value)) expected.push(`update ${k}`);
                }
                for (const k of [...before.keys()].sort()) if (!after.has(k)) expected.push(`remove ${k}`);
                // A first sync is announced as loaded: nothing was visible before, so it stands for
                // every stored key as an add.
                const emitted = events.flatMap((event) =>
                  event.kind === "loaded"
                    ? t.store.syncedKeys().map((k) => `add ${k.type}/${k.mesh}/${k.zone}/${k.name}`)
                    : event.diff.map((entry) => `${entry.op} ${entry.key}`),
                );
                expect(emitted).toEqual(last ? expected : []);
                model = after;

                const stored = new Map(
                  t.store
                    .allSynced()
                    .map((row) => [
                      `${row.type}/${row.mesh}/${row.zone}/${row.name}`,
                      { port: row.spec.ports[0]?.port, vip: row.vips[0] },
                    ]),
                );
                expect(stored).toEqual(last ? model : committed);
              }
              revision = to;
              expect(t.store.cursor()).toEqual({ epoch: EPOCH, revision: to });
            }
          }
        } finally {
          t.cleanup();
        }
      }),
      { numRuns: 150 },
    );
  });
});
