// Every live resource, encoded once, for FULL snapshots and RECONCILE. Without it each snapshot read
// the whole resources table (a VIP subquery per row), parsed every row's JSON and encoded it again:
// about 0.8 s of the global's time per zone at 100,000 services, on the path of every new zone.
//
// The cache is kept current the way a zone is: from the change log. It is built once by a paged scan
// that yields between pages (the scan starts at head H; rows read later may be newer), then brought
// to the head by re-reading every key changed after H, which repairs whatever the scan read
// half-way. Each snapshot first catches up from the change log (only the keys changed since the
// last one), so what it hands out is exactly the state at the head it names. If the log was
// compacted past the cache, the cache is rebuilt.
//
// Entries are immutable: an update replaces the entry, so a snapshot that is still being written
// keeps the bytes it started with.
import { setImmediate as setImmediatePromise } from "node:timers/promises";
import { MESH_SERVICE, type MeshServiceSpec, revision } from "@mooring/shared";
import type { SqliteStore } from "../store/sqlite-store.js";
import type { ChangeRow, ResourceWithVips, ServiceIdentity } from "../store/types.js";
import { encodeMeshServiceLatin1 } from "./encode.js";

export interface CachedResource {
  /** `keyText` of the resource. */
  readonly key: string;
  /** `contentHash|vips`: equal when a zone's copy has the same content and VIPs. */
  readonly fingerprint: string;
  /** The revision the resource was last written at. */
  readonly revision: number;
  /** The MeshService message, one latin1 character per byte (see `encodeMeshServiceLatin1`). */
  readonly encoded: string;
}

export interface Snapshot {
  /** The revision every resource is at. */
  readonly head: number;
  /** In key order, except for keys created since the cache was built (they follow). */
  readonly resources: readonly CachedResource[];
}

export type SnapshotCache = ReturnType<typeof createSnapshotCache>;

/** Equal when a zone's copy needs nothing: same content and the same VIPs. */
export function fingerprint(contentHash: string, vips: readonly string[]): string {
  return `${contentHash}|${vips.join(",")}`;
}

/**
 * `type/mesh/zone/name`; a MeshService when `type` is left out. Built by join, which makes a flat
 * string: a template literal makes a chain of cons strings, which every long-lived cache key would
 * carry (about 20 MB more at 100,000 services).
 */
export function keyText(id: ServiceIdentity & { readonly type?: string }): string {
  return [id.type ?? MESH_SERVICE, id.mesh, id.zone, id.name].join("/");
}

/** A stored MeshService with its VIPs, as the batch builder encodes it (the store keeps specs as validated). */
export function asRecord(row: ResourceWithVips): ResourceWithVips & { readonly spec: MeshServiceSpec } {
  return row as ResourceWithVips & { readonly spec: MeshServiceSpec };
}

/**
 * Each key the change rows name, once, with its current state: the row, or undefined when it is
 * deleted. What both a live batch and the cache's catch-up are made of.
 */
export function latestOfChanged(
  store: SqliteStore,
  changes: readonly ChangeRow[],
): Array<{ key: string; id: ServiceIdentity & { type: string }; row: ResourceWithVips | undefined }> {
  const ids = new Map<string, ServiceIdentity & { type: string }>();
  for (const change of changes) ids.set(keyText(change), change);
  return [...ids].map(([key, id]) => ({ key, id, row: store.getResourceWithVips(id.type, id) }));
}

/** Rows read per step of the build scan and of a catch-up. */
const SCAN_PAGE = 500;
const CHANGE_PAGE = 5000;

// About 100,000 of these live as long as the global: nothing in them that a snapshot does not use,
// and flat strings (see keyText).
function cached(key: string, row: ResourceWithVips): CachedResource {
  return {
    key,
    fingerprint: [row.contentHash, row.vips.join(",")].join("|"),
    revision: row.revision,
    encoded: encodeMeshServiceLatin1(asRecord(row)),
  };
}

export function createSnapshotCache(store: SqliteStore) {
  let entries: Map<string, CachedResource> | undefined;
  /** The revision `entries` reflect. */
  let through = 0;
  let building: Promise<void> | undefined;
  /** Bumped by invalidate(): a build that started before it does not install what it read. */
  let generation = 0;
  let closed = false;

  async function build(): Promise<void> {
    const started = generation;
    const from = store.headRevision();
    const fresh = new Map<string, CachedResource>();
    let position: Parameters<typeof store.resourcesAfter>[0];
    for (;;) {
      if (closed || !store.isOpen()) throw new Error("the store closed while the snapshot cache was being built");
      const rows = store.resourcesAfter(position, SCAN_PAGE);
      for (const row of rows) {
        const key = keyText(row);
        fresh.set(key, cached(key, row));
      }
      if (rows.length < SCAN_PAGE) break;
      position = rows.at(-1);
      await setImmediatePromise();
    }
    if (started !== generation) return;
    entries = fresh;
    through = from;
  }

  /** Brings `entries` to the head from the change log; false when the rows it needs were compacted. */
  function catchUp(current: Map<string, CachedResource>): boolean {
    const head = store.headRevision();
    while (through < head) {
      if (through < store.compactedThrough()) return false;
      const rows = store.changesSince(revision(through), CHANGE_PAGE);
      const last = rows.at(-1);
      if (!last) break;
      for (const { key, row } of latestOfChanged(store, rows)) {
        if (row) current.set(key, cached(key, row));
        else current.delete(key);
      }
      through = last.revision;
    }
    through = head;
    return true;
  }

  /** Builds the cache unless it is built or being built; concurrent callers share one build. */
  function ensureBuilt(): Promise<void> {
    if (entries) return Promise.resolve();
    building ??= build().finally(() => {
      building = undefined;
    });
    return building;
  }

  return {
    /**
     * Starts building in the background (at start-up, so the first zone does not wait for it).
     * `onBuilt` gets the number of resources cached and how long the build took.
     */
    warm(callbacks: {
      readonly onBuilt: (resources: number, ms: number) => void;
      readonly onError: (error: unknown) => void;
    }): void {
      const startedAt = performance.now();
      ensureBuilt().then(
        () => {
          if (!closed) callbacks.onBuilt(entries?.size ?? 0, performance.now() - startedAt);
        },
        (error: unknown) => {
          if (!closed) callbacks.onError(error);
        },
      );
    },

    /** Every live resource at the current head. Synchronous once built: nothing commits in between. */
    async snapshot(): Promise<Snapshot> {
      for (;;) {
        await ensureBuilt();
        const current = entries;
        if (current && catchUp(current)) return { head: through, resources: [...current.values()] };
        entries = undefined;
      }
    },

    /** Drops the cache: the next snapshot rebuilds it (for state changed outside the change log). */
    invalidate(): void {
      generation++;
      entries = undefined;
    },

    /** How many resources are cached (0 when not built). */
    size(): number {
      return entries?.size ?? 0;
    },

    close(): void {
      closed = true;
      entries = undefined;
    },
  };
}
