// Message sizes on the sync stream, so that no message the zone builds exceeds the configured
// limit (MOORING_SYNC_MAX_MESSAGE): the global refuses a larger one with RESOURCE_EXHAUSTED, and a
// zone that rebuilt the same message after every reconnect would never get past it.

/** Bytes of `value` as a protobuf varint. */
export function varintBytes(value: number): number {
  let bytes = 1;
  let rest = Math.floor(value / 128);
  while (rest > 0) {
    bytes += 1;
    rest = Math.floor(rest / 128);
  }
  return bytes;
}

/** Bytes of a length-delimited field (field number below 16) holding `length` bytes. */
export function fieldBytes(length: number): number {
  return 1 + varintBytes(length) + length;
}

/**
 * What a chunk's envelope may take besides its repeated entries: the SyncRequest oneof field around
 * it (tag + a 5-byte length at most) and one scalar field (tag + a 10-byte varint at most).
 */
export const ENVELOPE_BYTES = 6 + 11;

/** Most resources in one UpstreamChanges, whatever their size: bounds the global's work per message. */
export const UPSTREAM_MAX_RESOURCES = 500;

/** Bytes the entries of one chunk may take under a message limit of `limitBytes`. */
export function entryBudget(limitBytes: number): number {
  return limitBytes - ENVELOPE_BYTES;
}

/**
 * Splits `sizes` (encoded entry sizes, in order) at the longest prefix that fits `budget` bytes and
 * `maxCount` entries. Always takes at least one entry, so an entry larger than the budget is the
 * caller's to handle (it comes back alone).
 */
export function prefixThatFits(sizes: readonly number[], budget: number, maxCount: number): number {
  let used = 0;
  let count = 0;
  for (const size of sizes) {
    const bytes = fieldBytes(size);
    if (count >= maxCount || (count > 0 && used + bytes > budget)) break;
    used += bytes;
    count += 1;
  }
  return count;
}
