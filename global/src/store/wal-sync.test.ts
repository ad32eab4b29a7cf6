import { fdatasync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@mooring/shared";
import { afterEach, describe, expect, it } from "vitest";
import { loadGlobalConfig } from "../config.js";
import { startGlobal } from "../main.js";
import { ScriptedZone } from "../sync/sync-harness.js";
import { createWalSync, type Fdatasync } from "./wal-sync.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "mooring-walsync-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An fdatasync that waits to be let through, then really syncs. */
function heldFdatasync() {
  const held: Array<(error?: Error) => void> = [];
  const sync: Fdatasync = (fd, callback) => {
    held.push((error) => (error ? callback(error as NodeJS.ErrnoException) : fdatasync(fd, callback)));
  };
  return { sync, held };
}

const tick = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

describe("WAL sync", () => {
  it("resolves a sync only after an fdatasync that started after it; calls made meanwhile share the next", async () => {
    const path = join(tempDir(), "db-wal");
    writeFileSync(path, "frames");
    const { sync, held } = heldFdatasync();
    const wal = createWalSync(path, sync);
    cleanups.push(() => wal.close());
    expect(wal.settled()).toBeUndefined();
    const done: string[] = [];
    const first = wal.sync().then(() => done.push("first"));
    const settledFirst = wal.settled();
    const second = wal.sync().then(() => done.push("second"));
    const third = wal.sync().then(() => done.push("third"));
    expect(held).toHaveLength(1);
    expect(settledFirst).toBeInstanceOf(Promise);
    held[0]?.();
    await first;
    await settledFirst;
    await tick();
    // The first fdatasync may have started before the second and third commits: they wait for one more.
    expect(done).toEqual(["first"]);
    expect(held).toHaveLength(2);
    held[1]?.();
    await Promise.all([second, third]);
    expect(done).toEqual(["first", "second", "third"]);
    expect(wal.settled()).toBeUndefined();
  });

  it("fails every waiter and every later call once an fdatasync fails", async () => {
    const path = join(tempDir(), "db-wal");
    writeFileSync(path, "frames");
    const { sync, held } = heldFdatasync();
    const wal = createWalSync(path, sync);
    cleanups.push(() => wal.close());
    const pending = wal.sync();
    const settled = wal.settled();
    held[0]?.(new Error("EIO: i/o error"));
    await expect(pending).rejects.toThrow(/fdatasync of .*db-wal failed \(EIO: i\/o error\).*restart the global/);
    await expect(settled).rejects.toThrow(/failed/);
    await expect(wal.sync()).rejects.toThrow(/failed/);
    await expect(wal.settled()).rejects.toThrow(/failed/);
  });

  it("syncs a real file with the real fdatasync", async () => {
    const path = join(tempDir(), "db-wal");
    writeFileSync(path, "frames");
    const wal = createWalSync(path);
    await wal.sync();
    expect(wal.settled()).toBeUndefined();
    wal.close();
  });
});

describe("MOORING_DB_SYNC=full: nothing is acknowledged or shown before the WAL is synced", () => {
  it("holds a PUT's answer, a GET that reads the new service, and the zone's frame until the fdatasync returns", async () => {
    const dir = tempDir();
    const { sync, held } = heldFdatasync();
    const config = loadGlobalConfig(
      [],
      {
        MOORING_DATA_DIR: dir,
        MOORING_HTTP_ADDR: "127.0.0.1:0",
        MOORING_GRPC_ADDR: "127.0.0.1:0",
        MOORING_DB_SYNC: "full",
        MOORING_AUTH: "off",
      },
      "test",
    );
    const global = await startGlobal(config, createLogger({ level: "silent", service: "global" }), {
      fdatasync: sync,
    });
    cleanups.push(() => global.close());
    const http = `http://${global.httpAddress}`;
    const zone = new ScriptedZone(global.grpcAddress);
    cleanups.push(() => zone.cancel());
    zone.hello({ zone: "zone-1" });
    await zone.syncedBatches(1);
    const framesBefore = zone.changes().length;

    const events: string[] = [];
    const put = fetch(`${http}/meshes/default/meshservices/web`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ spec: { ports: [{ port: 80 }] } }),
    }).then((response) => {
      events.push(`put ${response.status}`);
      return response.json() as Promise<{ vips: Array<{ ip: string }> }>;
    });
    // The group has committed once its fdatasync is asked for.
    for (let i = 0; i < 100 && held.length === 0; i++) await tick(10);
    expect(held).toHaveLength(1);
    const get = fetch(`${http}/meshes/default/meshservices/web`).then((response) => {
      events.push(`get ${response.status}`);
      return response.json() as Promise<{ vips: Array<{ ip: string }> }>;
    });
    await tick(150);
    expect(events).toEqual([]);
    expect(zone.changes()).toHaveLength(framesBefore);

    held[0]?.();
    const [created, read] = await Promise.all([put, get]);
    expect(events.sort()).toEqual(["get 200", "put 201"]);
    expect(read.vips).toEqual(created.vips);
    await zone.syncedBatches(2);
    const names = zone
      .changes()
      .slice(framesBefore)
      .flatMap((c) => c.upserts.map((u) => u.key?.name));
    expect(names).toEqual(["web"]);
  });
});
