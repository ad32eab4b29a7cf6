// Helpers for the zone's unit tests: real SQLite files in temp dirs, protobuf builders, and a
// scripted fake of the global on a real gRPC server (the real global is exercised end to end in test/).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  addService,
  type Changes,
  ChangesSchema,
  type MeshService,
  MeshServiceSchema,
  ResourceKeySchema,
  SyncMode,
  type SyncRequest,
  type SyncResponse,
  SyncResponseSchema,
  ZoneSyncService,
} from "@mooring/proto";
import { contentHash, createLogger, type Logger, MESH_SERVICE } from "@mooring/shared";
import { createZoneStore, type ZoneStore } from "./store/zone-store.js";

export const silentLogger: Logger = createLogger({ level: "silent", service: "zone" });

export const EPOCH = "0b7f6c1e-2a44-4c57-9a55-8c1a3c0a0e01";
export const OTHER_EPOCH = "7d1e9f3a-5b6c-4d2e-8f10-112233445566";

export interface TempStore {
  store: ZoneStore;
  dir: string;
  path: string;
  /** Closes and reopens the same file (a process restart). */
  reopen(): ZoneStore;
  cleanup(): void;
}

export function createTempStore(zone = "east"): TempStore {
  const dir = mkdtempSync(join(tmpdir(), "mooring-zone-"));
  const path = join(dir, `zone-${zone}.db`);
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let store: ZoneStore;
  try {
    store = createZoneStore({ path, synchronous: "normal", zone });
  } catch (error) {
    // The caller gets no TempStore to clean up.
    removeDir();
    throw error;
  }
  const t: TempStore = {
    store,
    dir,
    path,
    reopen() {
      t.store.close();
      t.store = createZoneStore({ path, synchronous: "normal", zone });
      return t.store;
    },
    cleanup() {
      try {
        t.store.close();
      } finally {
        removeDir();
      }
    },
  };
  return t;
}

export interface ServiceOptions {
  mesh?: string;
  zone?: string;
  port?: number;
  vips?: string[];
  revision?: number;
  labels?: Record<string, string>;
}

/** A MeshService as the global would publish it, with a real content hash. */
export function meshService(name: string, options: ServiceOptions = {}): MeshService {
  const mesh = options.mesh ?? "default";
  const zone = options.zone ?? "";
  const labels = options.labels ?? {};
  const spec = { ports: [{ port: options.port ?? 80, appProtocol: "http" }] };
  return create(MeshServiceSchema, {
    key: { type: MESH_SERVICE, mesh, zone, name },
    labels,
    spec: { ports: [{ port: options.port ?? 80, appProtocol: "http" }] },
    vips: (options.vips ?? []).map((ip) => ({ ip })),
    contentHash: contentHash({ mesh, zone, name, labels, spec }),
    revision: BigInt(options.revision ?? 1),
    creationTimeUnixMs: 1_767_225_600_000n,
    modificationTimeUnixMs: 1_767_225_600_000n,
  });
}

export function key(name: string, options: { mesh?: string; zone?: string } = {}) {
  return create(ResourceKeySchema, {
    type: MESH_SERVICE,
    mesh: options.mesh ?? "default",
    zone: options.zone ?? "",
    name,
  });
}

export function changes(
  from: number,
  to: number,
  body: { upserts?: MeshService[]; deletes?: ReturnType<typeof key>[]; last?: boolean },
): Changes {
  return create(ChangesSchema, {
    fromRevision: BigInt(from),
    toRevision: BigInt(to),
    upserts: body.upserts ?? [],
    deletes: body.deletes ?? [],
    last: body.last ?? true,
  });
}

type RequestCase = NonNullable<SyncRequest["message"]["case"]>;
type RequestOf<K extends RequestCase> = Extract<SyncRequest["message"], { case: K }>["value"];
type ResponseInit = NonNullable<MessageInitShape<typeof SyncResponseSchema>["message"]>;

/** One stream as the fake global sees it. */
export class FakeStream {
  readonly received: SyncRequest[] = [];
  private readonly consumed = new Set<SyncRequest>();
  private readonly waiters = new Set<() => void>();
  /** The zone half-closed; the fake then ends the stream with OK, as the global does. */
  readonly halfClosed: Promise<void>;
  /** The zone cancelled the call. */
  readonly cancelled: Promise<void>;

  constructor(readonly call: grpc.ServerDuplexStream<SyncRequest, SyncResponse>) {
    call.on("data", (message: SyncRequest) => {
      this.received.push(message);
      for (const waiter of [...this.waiters]) waiter();
    });
    call.on("error", () => {});
    this.halfClosed = new Promise((resolve) =>
      call.on("end", () => {
        resolve();
        if (!call.cancelled) call.end();
      }),
    );
    this.cancelled = new Promise((resolve) => call.on("cancelled", () => resolve()));
  }

  /** The next message of that kind not taken yet (heartbeats are skipped unless asked for). */
  take<K extends RequestCase>(kind: K, timeoutMs = 3000): Promise<RequestOf<K>> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const found = this.received.find((m) => m.message.case === kind && !this.consumed.has(m));
        if (!found) return false;
        this.consumed.add(found);
        this.waiters.delete(attempt);
        clearTimeout(timer);
        resolve(found.message.value as never);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(attempt);
        const seen = this.received.map((m) => m.message.case).join(", ");
        reject(new Error(`no ${kind} within ${timeoutMs}ms (received: ${seen})`));
      }, timeoutMs);
      if (!attempt()) this.waiters.add(attempt);
    });
  }

  /** Messages of that kind received so far, taken or not. */
  all<K extends RequestCase>(kind: K): RequestOf<K>[] {
    return this.received.filter((m) => m.message.case === kind).map((m) => m.message.value as RequestOf<K>);
  }

  send(message: ResponseInit): void {
    this.call.write(create(SyncResponseSchema, { message }));
  }

  welcome(value: Partial<Extract<ResponseInit, { case: "welcome" }>["value"]> = {}): void {
    this.send({
      case: "welcome",
      value: {
        sessionId: "session-1",
        generation: 1n,
        mode: SyncMode.FULL,
        globalEpoch: EPOCH,
        headRevision: 0n,
        upstreamWatermark: 0n,
        heartbeatIntervalMs: 10_000,
        ...value,
      },
    });
  }

  changes(message: ReturnType<typeof changes>): void {
    this.send({ case: "changes", value: message });
  }

  /** Ends the stream with a status, as the global does. */
  fail(code: grpc.status, details: string): void {
    this.call.emit("error", { code, details });
  }
}

export interface FakeGlobal {
  readonly address: { host: string; port: number };
  readonly streams: FakeStream[];
  nextStream(timeoutMs?: number): Promise<FakeStream>;
  close(): void;
}

/** A grpc-js server on 127.0.0.1:0 playing the global; each test scripts it message by message. */
export async function startFakeGlobal(): Promise<FakeGlobal> {
  const server = new grpc.Server();
  const streams: FakeStream[] = [];
  let taken = 0;
  const waiters = new Set<() => void>();
  addService(server, ZoneSyncService, {
    sync(call) {
      streams.push(new FakeStream(call));
      for (const waiter of [...waiters]) waiter();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    address: { host: "127.0.0.1", port },
    streams,
    nextStream(timeoutMs = 3000) {
      return new Promise((resolve, reject) => {
        const attempt = () => {
          const stream = streams[taken];
          if (!stream) return false;
          taken += 1;
          waiters.delete(attempt);
          clearTimeout(timer);
          resolve(stream);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(attempt);
          reject(new Error(`no new stream within ${timeoutMs}ms`));
        }, timeoutMs);
        if (!attempt()) waiters.add(attempt);
      });
    },
    close() {
      server.forceShutdown();
    },
  };
}
