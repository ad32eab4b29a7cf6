// The change set between two versions of a zone's synced state, keyed by resource key. Matching is
// by key, never by position in a sorted list: dcos-net diffed sorted lists with inverted guards, so
// one insertion shifted every later entry and unchanged services were deleted and re-added.

export type DiffEntry<V> =
  | { readonly op: "add"; readonly key: string; readonly value: V }
  | { readonly op: "update"; readonly key: string; readonly value: V; readonly previous: V }
  | { readonly op: "remove"; readonly key: string; readonly previous: V };

/**
 * Keyed, minimal, make-before-break: every add and update (in key order) before any remove (in key
 * order). Unchanged keys (equals true) produce nothing. Keys are ordered by UTF-16 code units, as
 * `Array.prototype.sort` does, so the order does not depend on the locale.
 */
export function diffByKey<V>(
  before: ReadonlyMap<string, V>,
  after: ReadonlyMap<string, V>,
  equals: (a: V, b: V) => boolean,
): DiffEntry<V>[] {
  const upserts: DiffEntry<V>[] = [];
  for (const [key, value] of sortedEntries(after)) {
    if (!before.has(key)) {
      upserts.push({ op: "add", key, value });
      continue;
    }
    // has() said yes; the cast only drops the `undefined` that get() adds (V itself may include it).
    const previous = before.get(key) as V;
    if (!equals(previous, value)) upserts.push({ op: "update", key, value, previous });
  }
  const removes: DiffEntry<V>[] = [];
  for (const [key, previous] of sortedEntries(before)) {
    if (!after.has(key)) removes.push({ op: "remove", key, previous });
  }
  return [...upserts, ...removes];
}

/**
 * Returns a new map: `state` with the diff applied. Throws if an entry does not fit the state (add
 * of an existing key, update/remove of a missing key): applying a diff to the wrong base is a bug
 * to surface, not to paper over. `state` is never modified, even when it throws.
 */
export function applyDiff<V>(state: ReadonlyMap<string, V>, diff: readonly DiffEntry<V>[]): Map<string, V> {
  const next = new Map(state);
  for (const entry of diff) {
    switch (entry.op) {
      case "add":
        if (next.has(entry.key)) throw new Error(`cannot add ${entry.key}: it is already in the state`);
        next.set(entry.key, entry.value);
        break;
      case "update":
        if (!next.has(entry.key)) throw new Error(`cannot update ${entry.key}: it is not in the state`);
        next.set(entry.key, entry.value);
        break;
      case "remove":
        if (!next.delete(entry.key)) throw new Error(`cannot remove ${entry.key}: it is not in the state`);
        break;
    }
  }
  return next;
}

function sortedEntries<V>(map: ReadonlyMap<string, V>): Array<[string, V]> {
  const entries = [...map];
  // A snapshot arrives in key order: one pass finds that out, and the sort is skipped.
  for (let i = 1; i < entries.length; i++) {
    if ((entries[i - 1] as [string, V])[0] > (entries[i] as [string, V])[0]) {
      return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    }
  }
  return entries;
}
