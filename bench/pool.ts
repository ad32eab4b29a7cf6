// Load generation: a fixed number of calls in flight, for a count or for a duration.

export { forEachPool } from "../test/helpers/pool.js";

export interface ClosedLoopResult {
  /** Calls completed inside the measured window, per second. */
  readonly perSecond: number;
  readonly completed: number;
  readonly failed: number;
  /** The first failure, for the report. */
  readonly firstError: string | undefined;
}

/**
 * `concurrency` workers call `fn(i)` back to back for `warmupMs + seconds`; only completions after
 * the warm-up count. A call that throws counts as failed and the worker goes on.
 */
export async function closedLoop(
  concurrency: number,
  warmupMs: number,
  seconds: number,
  fn: (index: number) => Promise<void>,
): Promise<ClosedLoopResult> {
  let next = 0;
  let completed = 0;
  let failed = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const windowStart = started + warmupMs;
  const windowEnd = windowStart + seconds * 1000;
  const worker = async () => {
    while (performance.now() < windowEnd) {
      const index = next++;
      try {
        await fn(index);
        const now = performance.now();
        if (now >= windowStart && now <= windowEnd) completed += 1;
      } catch (error) {
        failed += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { perSecond: completed / seconds, completed, failed, firstError };
}

/**
 * Open loop: starts call i at `i / rate` seconds, whether or not earlier calls have finished, for
 * `seconds`; resolves when every call has settled. Returns how many calls were started.
 */
export async function openLoop(rate: number, seconds: number, fn: (index: number) => Promise<void>): Promise<number> {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const pending: Promise<void>[] = [];
  let issued = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
      while (issued < due) pending.push(fn(issued++));
      if (issued >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  return issued;
}
