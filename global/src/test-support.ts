// Builds a global's REST app over a real SQLite file in a temp dir, for app.inject() tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@mooring/shared";
import { build, type GlobalApp } from "./api/app.js";
import { createManager, type Manager } from "./manager/manager.js";
import { createMetrics } from "./metrics.js";
import { createSqliteStore, type SqliteStore } from "./store/sqlite-store.js";
import { createVipAllocator } from "./vip/allocator.js";
import { parseCidrList } from "./vip/cidr.js";

export interface TestGlobal {
  app: GlobalApp;
  store: SqliteStore;
  manager: Manager;
  clock: { now: number };
  dir: string;
  /** Closes the app and the store and reopens both on the same file (a restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface TestGlobalOptions {
  cidrs?: string;
  quarantineMs?: number;
  bodyLimit?: number;
}

export async function createTestGlobal(options: TestGlobalOptions = {}): Promise<TestGlobal> {
  const dir = mkdtempSync(join(tmpdir(), "mooring-global-"));
  const clock = { now: Date.parse("2026-01-01T00:00:00Z") };
  const logger = createLogger({ level: "silent", service: "global" });
  const open = async () => {
    const store = createSqliteStore({ path: join(dir, "global.db"), synchronous: "normal" });
    const metrics = createMetrics(store);
    const allocator = createVipAllocator(store, {
      ranges: parseCidrList(options.cidrs ?? "241.0.0.0/8"),
      quarantineMs: options.quarantineMs ?? 3_600_000,
      now: () => clock.now,
      onEvent: (event, family) => metrics.vipEvents.inc({ event, family: String(family) }),
    });
    const manager = createManager(store, allocator, { now: () => clock.now });
    const app = await build({
      manager,
      store,
      metrics,
      logger,
      bodyLimit: options.bodyLimit ?? 1_048_576,
      version: "test",
    });
    return { app, store, manager };
  };
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let opened: Awaited<ReturnType<typeof open>>;
  try {
    opened = await open();
  } catch (error) {
    // The caller gets no TestGlobal to close.
    removeDir();
    throw error;
  }
  const t: TestGlobal = {
    ...opened,
    clock,
    dir,
    async restart() {
      await t.app.close();
      t.store.close();
      Object.assign(t, await open());
    },
    async close() {
      try {
        await t.app.close();
        t.store.close();
      } finally {
        removeDir();
      }
    },
  };
  return t;
}
