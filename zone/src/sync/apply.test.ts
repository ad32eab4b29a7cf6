import { toJson } from "@bufbuild/protobuf";
import { ResourceErrorSchema } from "@mooring/proto";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { changes, createTempStore, EPOCH, key, meshService, silentLogger, type TempStore } from "../test-support.js";
import { type ApplyOutcome, type ChangesEvent, createApplier } from "./apply.js";

function ops(event: ChangesEvent | undefined): string[] {
  if (event?.kind === "loaded") return [`loaded ${event.revision}`];
  return (event?.diff ?? []).map((entry) => `${entry.op} ${entry.key}`);
}

function ok(outcome: ApplyOutcome) {
  if (!outcome.ok) throw new Error(`expected the message to apply: ${outcome.reason}`);
  return outcome;
}

describe("applying Changes", () => {
  let t: TempStore;
  let events: ChangesEvent[];
  let applier: ReturnType<typeof createApplier>;
  beforeEach(() => {
    t = createTempStore();
    events = [];
    applier = createApplier(t.store, silentLogger);
    applier.onChanges((event) => events.push(event));
  });
  afterEach(() => t.cleanup());

  it("stores a first FULL snapshot and its cursor, and announces it as loaded", () => {
    const session = applier.session({ mode: "full", epoch: EPOCH });
    const outcome = ok(
      session.apply(
        changes(0, 7, { upserts: [meshService("web", { vips: ["241.0.0.1"] }), meshService("api", { zone: "west" })] }),
      ),
    );
    expect(outcome.received).toBe(2);
    expect(outcome.completed).toEqual({ cursor: { epoch: EPOCH, revision: 7 }, errors: [] });
    expect(t.store.cursor()).toEqual({ epoch: EPOCH, revision: 7 });
    expect(events).toEqual([{ kind: "loaded", mode: "full", revision: 7 }]);
    expect(t.store.syncedKeys().map((k) => `${k.zone}/${k.name}`)).toEqual(["/web", "west/api"]);
    expect(t.store.getSynced({ type: "MeshService", mesh: "default", zone: "", name: "web" })).toMatchObject({
      vips: ["241.0.0.1"],
      spec: { ports: [{ port: 80, appProtocol: "http" }] },
      revision: 1,
      creationTime: 1_767_225_600_000,
    });
    expect(session.initialDone).toBe(true);
  });

  it("commits a first sync's messages as they arrive, unseen until the last; a restart's first sync replaces them", () => {
    const storedRows = () => {
      const db = new Database(t.path, { readonly: true });
      try {
        return (db.prepare("SELECT name FROM synced ORDER BY name").pluck().all() as string[]).join(",");
      } finally {
        db.close();
      }
    };
    const session = applier.session({ mode: "full", epoch: EPOCH });
    ok(session.apply(changes(0, 5, { upserts: [meshService("a"), meshService("b")], last: false })));
    // On disk already (so they need not wait in memory), but no read shows them and nobody is told.
    expect(storedRows()).toBe("a,b");
    expect(t.store.syncedKeys()).toEqual([]);
    expect(t.store.listMeshServices("default", 0, 10).total).toBe(0);
    expect(events).toEqual([]);

    // The zone restarts before the last message: no cursor, so its next session is a first sync again.
    const store = t.reopen();
    const restarted = createApplier(store, silentLogger);
    restarted.onChanges((event) => events.push(event));
    const again = restarted.session({ mode: "full", epoch: EPOCH });
    ok(again.apply(changes(0, 6, { upserts: [meshService("b", { port: 81 }), meshService("c")], last: false })));
    // The unfinished snapshot's rows are gone (a was deleted from the global meanwhile, say).
    expect(storedRows()).toBe("b,c");
    expect(store.syncedKeys()).toEqual([]);
    const last = ok(again.apply(changes(0, 6, { upserts: [meshService("d")], deletes: [key("c")], last: true })));
    expect(last.completed?.cursor).toEqual({ epoch: EPOCH, revision: 6 });
    expect(store.syncedKeys().map((k) => k.name)).toEqual(["b", "d"]);
    expect(store.getSynced({ type: "MeshService", mesh: "default", zone: "", name: "b" })?.spec.ports[0]?.port).toBe(
      81,
    );
    expect(events).toEqual([{ kind: "loaded", mode: "full", revision: 6 }]);
  });

  it("does not store the cursor until the message with last = true", () => {
    const session = applier.session({ mode: "full", epoch: EPOCH });
    ok(session.apply(changes(0, 5, { upserts: [meshService("a")], last: false })));
    expect(t.store.cursor()).toBeUndefined();
    expect(session.initialDone).toBe(false);
    ok(session.apply(changes(0, 5, { upserts: [meshService("b")], last: true })));
    expect(t.store.cursor()).toEqual({ epoch: EPOCH, revision: 5 });
    expect(t.store.syncedKeys().map((k) => k.name)).toEqual(["a", "b"]);
  });

  it("reports nothing for a resource re-sent with the same content and VIPs", () => {
    ok(applier.session({ mode: "full", epoch: EPOCH }).apply(changes(0, 3, { upserts: [meshService("web")] })));
    events.length = 0;
    const live = applier.session({ mode: "incremental", epoch: EPOCH });
    const outcome = ok(live.apply(changes(3, 4, { upserts: [meshService("web", { revision: 4 })] })));
    expect(outcome.diff).toEqual([]);
    expect(events).toEqual([]);
    // The metadata still follows the global.
    expect(t.store.getSynced({ type: "MeshService", mesh: "default", zone: "", name: "web" })?.revision).toBe(4);
  });

  it("reports an update when only the VIPs changed", () => {
    ok(applier.session({ mode: "full", epoch: EPOCH }).apply(changes(0, 3, { upserts: [meshService("web")] })));
    const live = applier.session({ mode: "incremental", epoch: EPOCH });
    ok(live.apply(changes(3, 4, { upserts: [meshService("web", { vips: ["241.0.0.9"] })] })));
    const update = events[1]?.kind === "diff" ? events[1].diff[0] : undefined;
    expect(update?.op).toBe("update");
    expect(update?.op === "update" && [update.previous.vips, update.value.vips]).toEqual([[], ["241.0.0.9"]]);
  });

  it("removes at the end of a FULL snapshot every key the snapshot did not name, after the adds", () => {
    ok(
      applier
        .session({ mode: "full", epoch: EPOCH })
        .apply(changes(0, 3, { upserts: [meshService("keep"), meshService("gone"), meshService("edit")] })),
    );
    events.length = 0;
    t.store.setCursor({ epoch: EPOCH, revision: 3 });
    const full = applier.session({ mode: "full", epoch: EPOCH });
    ok(full.apply(changes(0, 9, { upserts: [meshService("keep"), meshService("new")], last: false })));
    // A batch commits whole: until its last message nothing is stored and nothing is announced.
    expect(events).toEqual([]);
    expect(t.store.syncedKeys().map((k) => k.name)).toEqual(["edit", "gone", "keep"]);
    ok(full.apply(changes(0, 9, { upserts: [meshService("edit", { port: 81 })], last: true })));
    // Then one diff, make before break: adds and updates (in key order), then removes.
    expect(ops(events.at(-1))).toEqual([
      "update MeshService/default//edit",
      "add MeshService/default//new",
      "remove MeshService/default//gone",
    ]);
    expect(t.store.syncedKeys().map((k) => k.name)).toEqual(["edit", "keep", "new"]);
    // Live batches after the snapshot never sweep.
    ok(full.apply(changes(9, 10, { upserts: [meshService("late")] })));
    expect(t.store.syncedKeys()).toHaveLength(4);
  });

  it("applies deletes as removes and ignores a delete of an unknown key", () => {
    ok(applier.session({ mode: "full", epoch: EPOCH }).apply(changes(0, 2, { upserts: [meshService("a")] })));
    const live = applier.session({ mode: "incremental", epoch: EPOCH });
    const outcome = ok(live.apply(changes(2, 4, { deletes: [key("a"), key("never")] })));
    expect(outcome.diff.map((e) => `${e.op} ${e.key}`)).toEqual(["remove MeshService/default//a"]);
    expect(t.store.syncedKeys()).toEqual([]);
    expect(t.store.cursor()).toEqual({ epoch: EPOCH, revision: 4 });
  });

  it("applies the valid resources of a batch and reports each invalid one for a Nack", () => {
    const bad = meshService("bad");
    bad.spec?.ports.push({ ...bad.spec.ports[0], port: 70000, name: "p" } as never);
    const badKey = meshService("Bad_Name");
    const outcome = ok(
      applier
        .session({ mode: "full", epoch: EPOCH })
        .apply(changes(0, 5, { upserts: [meshService("good"), bad, badKey], deletes: [key("x", { mesh: "" })] })),
    );
    expect(t.store.syncedKeys().map((k) => k.name)).toEqual(["good"]);
    expect(t.store.cursor()).toEqual({ epoch: EPOCH, revision: 5 });
    expect(outcome.completed?.errors.map((e) => toJson(ResourceErrorSchema, e))).toEqual([
      {
        key: { type: "MeshService", mesh: "default", name: "bad" },
        code: "VALIDATION_FAILED",
        message: "spec.ports[1].port: must be 1-65535",
      },
      {
        key: { type: "MeshService", mesh: "default", name: "Bad_Name" },
        code: "VALIDATION_FAILED",
        message:
          "key.name: must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit",
      },
      {
        key: { type: "MeshService", name: "x" },
        code: "VALIDATION_FAILED",
        message: "key.mesh: must not be empty",
      },
    ]);
  });

  it("collects the errors of every message of a batch into the completing one", () => {
    const session = applier.session({ mode: "full", epoch: EPOCH });
    const first = ok(session.apply(changes(0, 5, { upserts: [meshService("-x")], last: false })));
    expect(first.completed).toBeUndefined();
    const last = ok(session.apply(changes(0, 5, { upserts: [meshService("-y")], last: true })));
    expect(last.completed?.errors.map((e) => e.key?.name)).toEqual(["-x", "-y"]);
  });

  it("refuses a VIP that is not an address and a malformed content hash", () => {
    const service = meshService("web", { vips: ["241.0.0.300"] });
    service.contentHash = "abc";
    const outcome = ok(applier.session({ mode: "full", epoch: EPOCH }).apply(changes(0, 1, { upserts: [service] })));
    expect(outcome.completed?.errors[0]?.message).toBe('vips[0].ip: "241.0.0.300" is not an IP address (and 1 more)');
  });

  it.each([
    [
      "full",
      undefined,
      changes(3, 4, {}),
      "the initial full batch starts at revision 3, but the zone's cursor is at 0",
    ],
    [
      "reconcile",
      8,
      changes(8, 9, {}),
      "the initial reconcile batch starts at revision 8, but the zone's cursor is at 0",
    ],
    [
      "incremental",
      8,
      changes(7, 9, {}),
      "the initial incremental batch starts at revision 7, but the zone's cursor is at 8",
    ],
    ["incremental", 8, changes(8, 7, {}), "a batch cannot end (7) before it starts (8)"],
  ] as const)(
    "refuses the first batch of a %s session when it does not fit the cursor",
    (mode, at, message, reason) => {
      if (at !== undefined) t.store.setCursor({ epoch: EPOCH, revision: at });
      expect(applier.session({ mode, epoch: EPOCH }).apply(message)).toEqual({ ok: false, reason });
      expect(t.store.cursor()?.revision).toBe(at);
    },
  );

  it("refuses a live batch that does not start at the cursor, and a split batch whose messages disagree", () => {
    const session = applier.session({ mode: "full", epoch: EPOCH });
    ok(session.apply(changes(0, 5, {})));
    expect(session.apply(changes(6, 8, { upserts: [meshService("a")] }))).toEqual({
      ok: false,
      reason: "a live batch starts at revision 6, but the zone's cursor is at 5",
    });
    expect(t.store.syncedKeys()).toEqual([]);
    ok(session.apply(changes(5, 8, { last: false })));
    expect(session.apply(changes(5, 9, {}))).toEqual({
      ok: false,
      reason: "a message of batch (5, 8] carried (5, 9]",
    });
  });

  it("refuses revisions beyond 2^53-1", () => {
    const session = applier.session({ mode: "full", epoch: EPOCH });
    const message = changes(0, 1, {});
    message.toRevision = 2n ** 60n;
    expect(session.apply(message)).toEqual({ ok: false, reason: "a batch revision does not fit in 2^53-1" });
  });

  it("keeps the state and the listeners' view when a listener throws", () => {
    const seen: number[] = [];
    applier.onChanges(() => {
      throw new Error("consumer bug");
    });
    applier.onChanges((event) => seen.push(event.revision));
    ok(applier.session({ mode: "full", epoch: EPOCH }).apply(changes(0, 1, { upserts: [meshService("a")] })));
    expect(seen).toEqual([1]);
    expect(t.store.cursor()?.revision).toBe(1);
  });

  it("stops notifying an unsubscribed listener", () => {
    const seen: ChangesEvent[] = [];
    const off = applier.onChanges((event) => seen.push(event));
    off();
    ok(applier.session({ mode: "full", epoch: EPOCH }).apply(changes(0, 1, { upserts: [meshService("a")] })));
    expect(seen).toEqual([]);
    expect(events).toHaveLength(1);
  });
});
