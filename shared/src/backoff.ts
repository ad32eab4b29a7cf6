// Delays between reconnect attempts: exponential, capped, and jittered so that zones cut off by the
// same global restart do not all come back in the same instant.

export interface BackoffOptions {
  /** First delay; default 100 ms. */
  readonly initialMs?: number;
  /** Cap; default 10 s (10_000 ms). */
  readonly maxMs?: number;
  /** Growth per attempt; default 2. 1 keeps the delay constant. */
  readonly multiplier?: number;
  /** Source of randomness in [0,1); default Math.random (tests inject one). */
  readonly random?: () => number;
}

export interface Backoff {
  /** The next delay in ms, then counts the attempt. */
  next(): number;
  /** After a stable session. */
  reset(): void;
  /** Attempts counted since creation or the last reset. */
  readonly attempts: number;
}

const BACKOFF_DEFAULTS = { initialMs: 100, maxMs: 10_000, multiplier: 2 } as const;

/**
 * "Equal jitter": with base = min(maxMs, initialMs * multiplier^attempts), each delay is drawn from
 * [base/2, base] (base itself only by floating-point rounding, as random() < 1), so it grows like
 * the base but never collapses to 0 (full jitter can hand out a near-zero delay and turn a
 * reconnect loop into a hot loop). Defaults: initialMs 100, maxMs 10 000, multiplier 2, random
 * Math.random. Throws a RangeError for a value that is not a finite number, a non-positive delay,
 * a multiplier below 1, or maxMs below initialMs.
 */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initialMs = options.initialMs ?? BACKOFF_DEFAULTS.initialMs;
  const maxMs = options.maxMs ?? BACKOFF_DEFAULTS.maxMs;
  const multiplier = options.multiplier ?? BACKOFF_DEFAULTS.multiplier;
  const random = options.random ?? Math.random;
  requirePositive("initialMs", initialMs);
  requirePositive("maxMs", maxMs);
  requirePositive("multiplier", multiplier);
  if (multiplier < 1) throw new RangeError(`backoff multiplier must be at least 1, got ${multiplier}`);
  if (maxMs < initialMs)
    throw new RangeError(`backoff maxMs (${maxMs}) must not be less than initialMs (${initialMs})`);

  let attempts = 0;
  return {
    next() {
      // Past the cap the power overflows to Infinity, which min() turns back into maxMs.
      const base = Math.min(maxMs, initialMs * multiplier ** attempts);
      attempts += 1;
      return base / 2 + (random() * base) / 2;
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}

function requirePositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`backoff ${name} must be a positive finite number, got ${value}`);
  }
}
