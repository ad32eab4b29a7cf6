// Test support for the sync protocol: a real global in this process (SQLite in a temp dir, gRPC and
// REST on 127.0.0.1:0) and a scripted zone speaking raw protocol messages to it.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type Changes,
  createClient,
  type SyncRequestSchema as RequestSchemaType,
  SyncRequestSchema,
  type SyncResponse,
  ZoneSyncService,
} from "@mooring/proto";
import { createLogger, type Logger } from "@mooring/shared";
import { loadGlobalConfig } from "../config.js";
import { type RunningGlobal, startGlobal } from "../main.js";
import { createManager } from "../manager/manager.js";
import { createSqliteStore } from "../store/sqlite-store.js";
import { createVipAllocator } from "../vip/allocator.js";
import { parseCidrList } from "../vip/cidr.js";

export interface TestGlobal {
  readonly running: RunningGlobal;
  readonly dataDir: string;
  readonly http: string;
  /** Stops this global and starts another on its data dir; close the one returned, not this one. */
  restart(env?: Record<string, string>): Promise<TestGlobal>;
  close(): Promise<void>;
}

/** Writes `count` services straight into a new database in `dataDir` (fast set-up for big snapshots). */
export function seedServices(dataDir: string, count: number): void {
  const store = createSqliteStore({ path: join(dataDir, "global.db"), synchronous: "normal" });
  const allocator = createVipAllocator(store, { ranges: parseCidrList("241.0.0.0/8"), quarantineMs: 3_600_000 });
  const manager = createManager(store, allocator);
  store.transaction(() => {
    for (let i = 0; i < count; i++) {
      manager.putMeshService(
        { mesh: "default", zone: "", name: `seed-${i}` },
        {
          labels: { app: `seed-${i}`, team: "payments" },
          spec: { ports: [{ name: "http", port: 8080, appProtocol: "http" }] },
        },
      );
    }
  });
  store.close();
}

/**
 * Starts a global on `dataDir`, or on a new temp dir when none is given. The global removes on
 * close() only a dir it created: a caller's dir is the caller's to remove (it may reopen it).
 */
export async function startTestGlobal(
  env: Record<string, string> = {},
  dataDir?: string,
  logger: Logger = createLogger({ level: "silent", service: "global" }),
): Promise<TestGlobal> {
  if (dataDir !== undefined) return startOn(env, dataDir, false, logger);
  return startOn(env, mkdtempSync(join(tmpdir(), "mooring-sync-")), true, logger);
}

/** `ownsDir`: close() removes the dir; restart() hands that duty to the global it starts. */
async function startOn(
  env: Record<string, string>,
  dir: string,
  ownsDir: boolean,
  logger: Logger,
): Promise<TestGlobal> {
  const removeDir = () => {
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
  };
  let running: RunningGlobal;
  try {
    const config = loadGlobalConfig(
      [],
      {
        MOORING_DATA_DIR: dir,
        MOORING_HTTP_ADDR: "127.0.0.1:0",
        MOORING_GRPC_ADDR: "127.0.0.1:0",
        MOORING_DB_SYNC: "normal",
        // Protocol tests speak raw Hellos; authentication has its own tests, which turn it on.
        MOORING_AUTH: "off",
        ...env,
      },
      "test",
    );
    running = await startGlobal(config, logger);
  } catch (error) {
    // The caller gets no TestGlobal to close.
    removeDir();
    throw error;
  }
  return {
    running,
    dataDir: dir,
    http: `http://${running.httpAddress}`,
    async restart(next = env) {
      await running.close();
      return startOn(next, dir, ownsDir, logger);
    },
    async close() {
      try {
        await running.close();
      } finally {
        removeDir();
      }
    },
  };
}

type Request = MessageInitShape<typeof RequestSchemaType>["message"];

/** A zone driven message by message: everything the global sends is recorded in order. */
export class ScriptedZone {
  readonly received: SyncResponse[] = [];
  readonly status: Promise<grpc.ServiceError | "ended">;
  private readonly client: ReturnType<typeof createClient<typeof ZoneSyncService>>;
  private readonly stream: grpc.ClientDuplexStream<
    MessageInitShape<typeof SyncRequestSchema> & { $typeName: "mooring.v1.SyncRequest" },
    SyncResponse
  >;
  private waiters: Array<() => void> = [];

  constructor(
    address: string,
    options: grpc.ClientOptions = {},
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  ) {
    this.client = createClient(ZoneSyncService, address, credentials, options);
    this.stream = this.client.sync() as never;
    this.stream.on("data", (message: SyncResponse) => {
      this.received.push(message);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.status = new Promise((resolve) => {
      this.stream.on("error", (error: grpc.ServiceError) => {
        resolve(error);
        for (const wake of this.waiters.splice(0)) wake();
      });
      this.stream.on("end", () => {
        resolve("ended");
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  send(message: Request): void {
    this.stream.write(create(SyncRequestSchema, { message }) as never);
  }

  hello(fields: {
    zone: string;
    cursor?: { globalEpoch: string; revision: bigint };
    instanceId?: string;
    storeId?: string;
    reconcile?: boolean;
    token?: string;
  }): void {
    this.send({
      case: "hello",
      value: {
        instanceId: randomUUID(),
        storeId: randomUUID(),
        version: "test",
        ...fields,
      },
    });
  }

  /** Waits until `predicate` holds over what was received, or fails after `timeoutMs`. */
  async until(predicate: (received: SyncResponse[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received: ${this.received.map((m) => m.message.case).join(",")}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  changes(): Changes[] {
    return this.received.flatMap((m) => (m.message.case === "changes" ? [m.message.value] : []));
  }

  /** Waits for a batch to complete (a Changes with last) beyond those already seen, acks it. */
  async syncedBatches(count: number, timeoutMs = 5000): Promise<Changes[]> {
    await this.until(() => this.changes().filter((c) => c.last).length >= count, timeoutMs);
    return this.changes();
  }

  /** Sends UpstreamChanges for this zone's own services, `name` or `name:port` each (port 80 by default). */
  upstream(zone: string, zoneRevision: bigint, services: readonly string[]): void {
    this.send({
      case: "upstream",
      value: {
        zoneRevision,
        upserts: services.map((service) => {
          const [name = "", port = "80"] = service.split(":");
          return {
            key: { type: "MeshService", mesh: "default", zone, name },
            spec: { ports: [{ port: Number(port) }] },
          };
        }),
      },
    });
  }

  /** Stops reading: HTTP/2 flow control then pushes back on the global. */
  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }

  cancel(): void {
    this.stream.cancel();
    this.client.close();
  }
}

export async function putService(
  http: string,
  mesh: string,
  name: string,
  port = 80,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${http}/meshes/${mesh}/meshservices/${name}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ spec: { ports: [{ port }] } }),
  });
  if (response.status >= 300) throw new Error(`PUT ${name}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
