// RECONCILE: the zone's inventory of everything it holds from the global, cut into messages under
// the size limit. Pages are read by key, so no SQLite statement stays open while the stream drains.
import { create, toBinary } from "@bufbuild/protobuf";
import { type Inventory, type InventoryEntry, InventoryEntrySchema, InventorySchema } from "@mooring/proto";
import type { SyncedKey } from "../store/types.js";
import type { ZoneStore } from "../store/zone-store.js";
import { entryBudget, fieldBytes } from "./chunk.js";

const PAGE = 1000;

/** Inventory messages covering every synced resource; the last (possibly empty) has last = true. */
export function* inventoryChunks(store: ZoneStore, limitBytes: number): Generator<Inventory> {
  const budget = entryBudget(limitBytes);
  let entries: InventoryEntry[] = [];
  let used = 0;
  let after: SyncedKey | undefined;
  for (;;) {
    const page = store.inventoryPage(after, PAGE);
    for (const row of page) {
      const entry = create(InventoryEntrySchema, {
        key: { type: row.type, mesh: row.mesh, zone: row.zone, name: row.name },
        contentHash: row.contentHash,
        vips: row.vips.map((ip) => ({ ip })),
        revision: BigInt(row.revision),
      });
      const bytes = fieldBytes(toBinary(InventoryEntrySchema, entry).length);
      if (entries.length > 0 && used + bytes > budget) {
        yield create(InventorySchema, { entries, last: false });
        entries = [];
        used = 0;
      }
      entries.push(entry);
      used += bytes;
    }
    const last = page.at(-1);
    if (!last || page.length < PAGE) break;
    after = last;
  }
  yield create(InventorySchema, { entries, last: true });
}
