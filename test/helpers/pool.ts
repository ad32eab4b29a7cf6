// A small promise pool: at most `concurrency` calls of `fn` in flight at a time.

/** Calls `fn(i)` for i in [0, count), `concurrency` at a time; rejects with the first failure. */
export async function forEachPool(
  count: number,
  concurrency: number,
  fn: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < count) {
      const index = next++;
      try {
        await fn(index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Runs `concurrency` copies of `worker(id)` until they all return. */
export async function runWorkers(concurrency: number, worker: (id: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: concurrency }, (_, id) => worker(id)));
}
