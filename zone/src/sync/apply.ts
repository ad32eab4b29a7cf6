// Applies what the global sends. Each batch (its Changes messages up to the one marked last) is one
// SQLite transaction, committed when the last message arrives, and that transaction also stores
// the cursor. Consumers are told only after the commit,
// with a diff keyed by resource identity: an unchanged resource (same content hash, same VIPs) is
// never reported, and nothing is removed before everything new is in place.
//
// A first sync is the exception in how, not in what consumers see. Its messages commit as they
// arrive (100,000 services held in memory until the last message cost more in garbage collection
// than their inserts), and the store shows no synced row before a cursor is stored, so the snapshot
// still becomes visible whole, in the transaction that stores the cursor. Consumers then get one
// "loaded" event instead of a diff of every row as an add.
import { create } from "@bufbuild/protobuf";
import { type Changes, type ResourceError, ResourceErrorSchema, type ResourceKey } from "@mooring/proto";
import { type DiffEntry, diffByKey, type FieldError } from "@mooring/shared";
import type { Logger } from "pino";
import type { SyncCursor, SyncedKey, SyncedRow } from "../store/types.js";
import type { ZoneStore } from "../store/zone-store.js";
import { decodeKey, decodeMeshService, describeProblems, keyString, safeNumber } from "./decode.js";
import type { SessionMode } from "./mode.js";
import { type DecodedChanges, isDecodedChanges } from "./rows-decoder.js";

/** What consumers receive after each committed batch. */
export type ChangesEvent =
  | {
      readonly kind: "diff";
      readonly mode: SessionMode;
      /** The batch's `to_revision`. */
      readonly revision: number;
      /** Adds and updates first, then removes; each key at most once. */
      readonly diff: readonly DiffEntry<SyncedRow>[];
    }
  /**
   * A first sync completed: every synced resource became visible at once, where none was before.
   * Consumers re-read the store; the diff would be every stored row as an add.
   */
  | { readonly kind: "loaded"; readonly mode: "full"; readonly revision: number };

export type ChangesListener = (event: ChangesEvent) => void;

export type ApplyOutcome =
  | {
      readonly ok: true;
      /** Upserts plus deletes the message carried. */
      readonly received: number;
      /** What the batch changed, once it is complete; empty for a first sync (announced as "loaded"). */
      readonly diff: readonly DiffEntry<SyncedRow>[];
      /** Set on the message that ends a batch: the cursor now stored, and every resource refused in the batch. */
      readonly completed?: { readonly cursor: SyncCursor; readonly errors: readonly ResourceError[] };
    }
  /** A protocol violation: nothing was applied; drop the stream and reconnect from the stored cursor. */
  | { readonly ok: false; readonly reason: string };

export interface SessionApplier {
  /** A Changes message, or one rows-decoder.ts decoded into rows (every resource in it valid). */
  apply(changes: Changes | DecodedChanges): ApplyOutcome;
  /** True once the session's first batch (snapshot, catch-up or reconcile) is complete. */
  readonly initialDone: boolean;
}

export interface SessionStart {
  readonly mode: SessionMode;
  /** The Welcome's global epoch: the epoch of every cursor this session stores. */
  readonly epoch: string;
}

/** Same content and same VIPs: a resource re-sent unchanged is no change at all. */
export function sameResource(a: SyncedRow, b: SyncedRow): boolean {
  return (
    a.contentHash === b.contentHash && a.vips.length === b.vips.length && a.vips.every((ip, i) => ip === b.vips[i])
  );
}

/** Same stored row, metadata included: when true, writing would change nothing on disk either. */
function sameRow(a: SyncedRow, b: SyncedRow): boolean {
  return (
    sameResource(a, b) &&
    a.revision === b.revision &&
    a.creationTime === b.creationTime &&
    a.modificationTime === b.modificationTime
  );
}

function resourceError(key: ResourceKey | undefined, problems: readonly FieldError[]): ResourceError {
  return create(ResourceErrorSchema, {
    key,
    code: "VALIDATION_FAILED",
    message: describeProblems(problems),
  });
}

/** A Changes message's resources, validated; refused ones are left out and reported in `errors`. */
interface DecodedMessage {
  readonly upserts: readonly SyncedRow[];
  readonly deletes: readonly SyncedKey[];
}

function decodeMessage(message: Changes | DecodedChanges, errors: ResourceError[]): DecodedMessage {
  if (isDecodedChanges(message)) return message;
  const upserts: SyncedRow[] = [];
  for (const upsert of message.upserts) {
    const decoded = decodeMeshService(upsert);
    if (decoded.ok) upserts.push(decoded.value);
    else errors.push(resourceError(upsert.key, decoded.problems));
  }
  const deletes: SyncedKey[] = [];
  for (const deleted of message.deletes) {
    const decoded = decodeKey(deleted);
    if (decoded.ok) deletes.push(decoded.value);
    else errors.push(resourceError(deleted, decoded.problems));
  }
  return { upserts, deletes };
}

export type Applier = ReturnType<typeof createApplier>;

export function createApplier(store: ZoneStore, logger: Logger) {
  const listeners = new Set<ChangesListener>();
  const log = logger.child({ component: "apply" });

  function emit(event: ChangesEvent): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        // A failing consumer must not undo a committed batch or starve the other consumers.
        log.error({ err: error }, "a changes listener threw");
      }
    }
  }

  return {
    /** Subscribes to committed diffs; returns the unsubscribe function. */
    onChanges(listener: ChangesListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    /** The applier of one session: it checks that batches follow each other and tracks FULL's snapshot. */
    session(start: SessionStart): SessionApplier {
      let initialDone = false;
      let cursorRevision = store.cursor()?.revision;
      // A first sync: no synced row is visible until its cursor is stored, so its messages can commit
      // as they arrive. (FULL is the global's answer to a zone without a cursor; with one, this zone
      // serves what it has, and a FULL batch replaces it in one transaction like any other.)
      const firstSync = start.mode === "full" && cursorRevision === undefined;
      let batch: { from: number; to: number; errors: ResourceError[]; pending: DecodedMessage[] } | undefined;
      // Keys the FULL snapshot named; when it ends, every other synced key is gone from the global.
      const seen = start.mode === "full" && !firstSync ? new Set<string>() : undefined;

      function expectedFrom(): number | undefined {
        if (!initialDone) return start.mode === "incremental" ? cursorRevision : 0;
        return cursorRevision;
      }

      function check(from: number | undefined, to: number | undefined): string | undefined {
        if (from === undefined || to === undefined) return "a batch revision does not fit in 2^53-1";
        if (to < from) return `a batch cannot end (${to}) before it starts (${from})`;
        if (batch) {
          if (batch.from !== from || batch.to !== to) {
            return `a message of batch (${batch.from}, ${batch.to}] carried (${from}, ${to}]`;
          }
          return undefined;
        }
        const expected = expectedFrom();
        if (from !== expected) {
          const phase = initialDone ? "a live batch" : `the initial ${start.mode} batch`;
          return `${phase} starts at revision ${from}, but the zone's cursor is at ${expected ?? "none"}`;
        }
        return undefined;
      }

      return {
        get initialDone() {
          return initialDone;
        },

        apply(changes: Changes | DecodedChanges): ApplyOutcome {
          const decoded = isDecodedChanges(changes);
          const from = decoded ? changes.fromRevision : safeNumber(changes.fromRevision);
          const to = decoded ? changes.toRevision : safeNumber(changes.toRevision);
          const problem = check(from, to);
          if (problem !== undefined || from === undefined || to === undefined) {
            return { ok: false, reason: problem ?? "unreachable" };
          }
          const opening = batch === undefined;
          batch ??= { from, to, errors: [], pending: [] };
          const current = batch;
          const received = changes.upserts.length + changes.deletes.length;
          if (firstSync && !initialDone) {
            const message = decodeMessage(changes, current.errors);
            const cursor = changes.last ? { epoch: start.epoch, revision: to } : undefined;
            store.transactionWithoutFsync(() => {
              // Rows of an earlier first sync that never completed: never visible, maybe not in this snapshot.
              if (opening) store.clearInvisibleSynced();
              // A message's upserts apply before its deletes, as in any other batch.
              store.putSyncedRows(message.upserts);
              for (const id of message.deletes) store.deleteSynced(id);
              if (cursor) {
                store.setCursor(cursor);
                store.dropTombstones(store.upstreamAcked());
              }
            });
            if (!cursor) return { ok: true, received, diff: [] };
            cursorRevision = to;
            batch = undefined;
            initialDone = true;
            emit({ kind: "loaded", mode: "full", revision: to });
            return { ok: true, received, diff: [], completed: { cursor, errors: current.errors } };
          }
          // Each message is validated as it arrives (while the global is still sending the rest, and
          // so its protobuf objects are short-lived), but a batch commits whole: its messages wait
          // here until the last one, then go in one transaction, so consumers never see half a
          // snapshot or half a reconcile.
          current.pending.push(decodeMessage(changes, current.errors));
          if (!changes.last) return { ok: true, received, diff: [] };
          const messages = current.pending;
          current.pending = [];
          const before = new Map<string, SyncedRow>();
          const after = new Map<string, SyncedRow>();
          const touched = new Set<string>();
          // Nothing synced yet (a cursor but no rows): there is no previous state to read key by key, and no
          // stale key for a FULL snapshot to remove.
          let empty = false;

          // Remembers a key's state before this batch first touched it.
          const touch = (key: string, id: SyncedKey) => {
            if (empty || touched.has(key)) return;
            touched.add(key);
            const row = store.getSynced(id);
            if (row) {
              before.set(key, row);
              after.set(key, row);
            }
          };

          const cursor = { epoch: start.epoch, revision: to };
          // No fsync for a synced batch: the rows commit with the cursor they were sent up to, so a
          // power loss that undoes the batch also moves the cursor back, and the global sends it
          // again. Skipping it keeps ten zones' fsyncs out of the disk queue the global's writes use.
          store.transactionWithoutFsync(() => {
            empty = !store.hasSynced();
            for (const message of messages) applyMessage(message);
            if (seen && !initialDone && !empty) {
              for (const stale of store.syncedKeys()) {
                const key = keyString(stale);
                if (seen.has(key)) continue;
                touch(key, stale);
                after.delete(key);
                store.deleteSynced(stale);
              }
            }
            store.setCursor(cursor);
            // Own deletes the global has acknowledged are done once their tombstone reaches the copy.
            store.dropTombstones(store.upstreamAcked());
          });

          function applyMessage(message: DecodedMessage): void {
            // Written together once the message's upserts are known (before its deletes): each
            // key's previous state is read (touch) before any write of this message to that key.
            const writes: SyncedRow[] = [];
            for (const row of message.upserts) {
              const key = keyString(row);
              if (!empty) seen?.add(key);
              touch(key, row);
              const stored = after.get(key);
              if (!stored || !sameRow(stored, row)) writes.push(row);
              after.set(key, row);
            }
            store.putSyncedRows(writes);
            for (const id of message.deletes) {
              const key = keyString(id);
              seen?.delete(key);
              touch(key, id);
              if (after.delete(key)) store.deleteSynced(id);
            }
          }

          const completed = { cursor, errors: current.errors };
          cursorRevision = to;
          batch = undefined;
          if (!initialDone) seen?.clear();
          initialDone = true;
          const diff = diffByKey(before, after, sameResource);
          if (diff.length > 0) emit({ kind: "diff", mode: start.mode, revision: to, diff });
          return { ok: true, received, diff, completed };
        },
      };
    },
  };
}
