// A TCP proxy on 127.0.0.1:0 in front of one target, for putting faults between a zone and the
// global: cut every connection, black-hole the bytes, refuse new connections, slow every chunk, or
// point new connections at a global restarted on another port. Bytes are buffered without
// backpressure: this is for fault injection, not throughput.
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export type ProxyMode = "pass" | "blackhole" | "refuse";

export interface TcpProxy {
  /** `127.0.0.1:<port>`: give this to the client instead of the target. */
  readonly address: string;
  /** Connection pairs currently open (a pair closes when both of its sockets have). */
  connections(): number;
  /** Connections accepted since start, refused ones included. */
  accepted(): number;
  /** Destroys every open connection pair now, both sides; keeps listening. */
  cut(): void;
  /**
   * Destroys only the target's side of every open pair: the client's socket stays open and, in
   * blackhole mode, never hears of it (a close lost in a partition).
   */
  cutTargets(): void;
  /**
   * pass: forward bytes (the default). blackhole: keep sockets open but silently drop bytes both
   * ways, and do not pass a close on to the other side either. refuse: reset new connections as soon
   * as they are accepted. Open connections take the new mode from their next chunk.
   */
  setMode(mode: ProxyMode): void;
  /** Holds every chunk, in each direction, this long before forwarding it; 0 (the default) for none. */
  setDelay(ms: number): void;
  /** `host:port` for connections accepted from now on; open ones stay with the old target. */
  setTarget(address: string): void;
  /** Bytes forwarded so far: client -> target and target -> client (all of it, TLS/HTTP2 framing included). */
  bytes(): { toTarget: number; fromTarget: number };
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** A chunk to forward, or null for the end of the stream (FIN), due at `due` (performance.now()). */
interface Queued {
  readonly chunk: Buffer | null;
  readonly due: number;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  let destination = parseTarget(target);
  let mode: ProxyMode = "pass";
  let delayMs = 0;
  let accepted = 0;
  const forwarded = { toTarget: 0, fromTarget: 0 };
  const pairs = new Set<Pair>();

  /** Forwards from one socket to the other, in order, through the current mode and delay. */
  const relay = (from: Socket, to: Socket, direction: keyof typeof forwarded) => {
    const queue: Queued[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      if (to.destroyed) queue.length = 0;
      for (let head = queue[0]; head !== undefined; head = queue[0]) {
        const wait = head.due - performance.now();
        if (wait > 0) {
          timer = setTimeout(flush, wait);
          return;
        }
        queue.shift();
        if (head.chunk === null) to.end();
        else {
          forwarded[direction] += head.chunk.byteLength;
          to.write(head.chunk);
        }
      }
    };
    const enqueue = (chunk: Buffer | null) => {
      if (mode === "blackhole") return;
      queue.push({ chunk, due: performance.now() + delayMs });
      if (timer === undefined) flush();
    };
    from.on("data", (chunk: Buffer) => enqueue(chunk));
    from.on("end", () => enqueue(null));
    // An abortive close (RST, error) is passed on at once; queued bytes are lost, as they would be.
    from.on("error", () => {
      if (mode !== "blackhole") to.destroy();
    });
    // Whatever is still queued for a socket that is gone will never be sent.
    to.on("close", () => {
      clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
    });
  };

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    accepted += 1;
    if (mode === "refuse") {
      client.on("error", () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = tcpConnect({ host: destination.host, port: destination.port, allowHalfOpen: true, noDelay: true });
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    let open = 2;
    const closed = () => {
      open -= 1;
      if (open === 0) pairs.delete(pair);
    };
    client.on("close", closed);
    upstream.on("close", closed);
    relay(client, upstream, "toTarget");
    relay(upstream, client, "fromTarget");
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  if (bound === null || typeof bound === "string") throw new Error(`unexpected proxy address ${String(bound)}`);

  const destroyAll = () => {
    for (const pair of pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    pairs.clear();
  };

  return {
    address: `127.0.0.1:${bound.port}`,
    connections: () => pairs.size,
    accepted: () => accepted,
    bytes: () => ({ ...forwarded }),
    cut: destroyAll,
    cutTargets() {
      for (const pair of pairs) pair.upstream.destroy();
    },
    setMode(next) {
      mode = next;
    },
    setDelay(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay must be a non-negative number of ms, got ${ms}`);
      delayMs = ms;
    },
    setTarget(address) {
      destination = parseTarget(address);
    },
    close() {
      destroyAll();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/** `host:port` or `[v6]:port`. */
function parseTarget(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (match === null || port < 1 || port > 65535) throw new Error(`expected a target host:port, got ${address}`);
  return { host: match[1] ?? match[2] ?? "", port };
}
