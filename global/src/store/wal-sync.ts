// Durability of the REST write path without blocking the event loop on fsync.
//
// A group of REST writes commits with `synchronous = NORMAL`: SQLite appends the group's frames to
// the WAL and returns without syncing it. `sync()` then fdatasyncs the WAL file on libuv's thread
// pool, and the group is acknowledged once that returns. What reaches the disk is what FULL would
// have synced at COMMIT: in WAL mode FULL differs from NORMAL only by that one sync of the WAL after
// a commit (checkpoints sync the WAL before and the database after, at either level). Meanwhile the
// event loop parses and validates the next requests instead of waiting in the COMMIT.
//
// WAL frames are a chain: after a crash SQLite replays the WAL up to the first frame that does not
// check out, so a commit is on disk only with every commit before it, and one fdatasync covers every
// commit made before it started. Concurrent callers share one: while it runs, later commits wait
// for the next.
//
// Until their fdatasync returns, committed rows are visible to the process but may not survive a
// power loss. `settled()` is the barrier for what leaves the process: a REST read's response and a
// frame to a zone wait for it, so nothing is ever shown that a power loss could take back.
import { closeSync, fdatasync, openSync } from "node:fs";

export interface WalSync {
  /** Resolves once every commit made before the call is on disk. Call right after a NORMAL commit. */
  sync(): Promise<void>;
  /** Undefined when every commit made so far is on disk; otherwise a promise of the moment they are. */
  settled(): Promise<void> | undefined;
  close(): void;
}

interface Waiter {
  readonly upTo: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** How the WAL is synced: `fs.fdatasync`, or a stand-in in tests. */
export type Fdatasync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void;

/** `walPath` is the database's `-wal` file; it exists once the database has committed in WAL mode. */
export function createWalSync(walPath: string, sync: Fdatasync = fdatasync): WalSync {
  let fd: number | undefined;
  /** Commits handed to `sync()`, numbered from 1; `synced` of them are on disk. */
  let committed = 0;
  let synced = 0;
  let running = false;
  let closing = false;
  let failure: Error | undefined;
  let waiters: Waiter[] = [];

  function start(): void {
    if (running || synced === committed || failure) return;
    if (closing) {
      // Closing the database checkpoints and syncs it; what is committed is durable, but this
      // caller's answer can no longer be given.
      for (const waiter of waiters) waiter.reject(new Error("the store is closed"));
      waiters = [];
      return;
    }
    if (fd === undefined) {
      try {
        fd = openSync(walPath, "r");
      } catch (error) {
        fail(error);
        return;
      }
    }
    running = true;
    const upTo = committed;
    sync(fd, (error) => {
      running = false;
      if (closing) closeFd();
      if (error) {
        fail(error);
        return;
      }
      synced = upTo;
      const done = waiters.filter((w) => w.upTo <= upTo);
      waiters = waiters.filter((w) => w.upTo > upTo);
      for (const waiter of done) waiter.resolve();
      start();
    });
  }

  /**
   * A failed fdatasync leaves the WAL's state on disk unknown (the kernel may have dropped the dirty
   * pages it could not write), so nothing is acknowledged or shown from then on: every waiter and
   * every later call fails with the same error. Restarting replays the WAL that is on disk.
   */
  function fail(error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    failure = new Error(`fdatasync of ${walPath} failed (${reason}); writes since are not durable, restart the global`);
    for (const waiter of waiters) waiter.reject(failure);
    waiters = [];
  }

  function closeFd(): void {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  }

  function wait(upTo: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      waiters.push({ upTo, resolve, reject });
      start();
    });
  }

  return {
    sync(): Promise<void> {
      if (failure) return Promise.reject(failure);
      committed += 1;
      return wait(committed);
    },

    settled(): Promise<void> | undefined {
      if (failure) return Promise.reject(failure);
      if (synced === committed) return undefined;
      return wait(committed);
    },

    /** Closes the WAL file once the fdatasync in flight, if any, has returned. */
    close(): void {
      closing = true;
      if (!running) closeFd();
    },
  };
}
