// How often one zone may open a sync session: a token bucket per zone name. A zone starts with
// `burst` attempts and regains one per `intervalMs`. A reconnect loop gone wrong (or a zone stuck
// crash-looping) then costs the global one session every interval, not one per millisecond.

export interface ReconnectLimitOptions {
  readonly burst: number;
  readonly intervalMs: number;
  readonly now?: () => number;
}

export interface ReconnectLimit {
  /** Takes one attempt; undefined when allowed, else the milliseconds until the next one is. */
  take(zone: string): number | undefined;
  forget(zone: string): void;
}

/** Buckets of zones idle this long are full again and are dropped, so the map does not grow. */
const IDLE_BUCKETS_SWEEP = 1024;

export function createReconnectLimit(options: ReconnectLimitOptions): ReconnectLimit {
  const now = options.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();

  function refill(bucket: { tokens: number; at: number }, at: number): void {
    const regained = Math.floor((at - bucket.at) / options.intervalMs);
    if (regained <= 0) return;
    bucket.tokens = Math.min(options.burst, bucket.tokens + regained);
    bucket.at = bucket.tokens === options.burst ? at : bucket.at + regained * options.intervalMs;
  }

  function sweep(at: number): void {
    for (const [zone, bucket] of buckets) {
      refill(bucket, at);
      if (bucket.tokens === options.burst) buckets.delete(zone);
    }
  }

  return {
    take(zone) {
      const at = now();
      if (buckets.size >= IDLE_BUCKETS_SWEEP) sweep(at);
      let bucket = buckets.get(zone);
      if (!bucket) {
        bucket = { tokens: options.burst, at };
        buckets.set(zone, bucket);
      }
      refill(bucket, at);
      if (bucket.tokens > 0) {
        bucket.tokens--;
        return undefined;
      }
      return Math.max(1, bucket.at + options.intervalMs - at);
    },
    forget(zone) {
      buckets.delete(zone);
    },
  };
}
