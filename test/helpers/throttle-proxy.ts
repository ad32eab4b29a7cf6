// A TCP proxy on 127.0.0.1:0 that forwards target -> client at a fixed rate, with backpressure: while
// more than a little is queued, the target's socket is paused, so the target's writes block (its
// kernel buffers fill and its stream's 'drain' waits), the way they do on a slow link. Client ->
// target is forwarded as it comes. tcp-proxy.ts is for faults and buffers without limit; this one
// is for slowness.
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export interface ThrottleProxy {
  /** `127.0.0.1:<port>`: give this to the client instead of the target. */
  readonly address: string;
  /** Bytes forwarded target -> client so far. */
  fromTarget(): number;
  close(): Promise<void>;
}

/** How often the queue is drained: each tick forwards `bytesPerSecond * TICK_MS / 1000` bytes. */
const TICK_MS = 20;

export async function startThrottleProxy(target: string, bytesPerSecond: number): Promise<ThrottleProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const perTick = Math.max(1, Math.floor((bytesPerSecond * TICK_MS) / 1000));
  const sockets = new Set<Socket>();
  let forwarded = 0;

  const server: Server = createServer((client) => {
    const upstream = tcpConnect({ host, port });
    sockets.add(client);
    sockets.add(upstream);
    const queue: Buffer[] = [];
    let queued = 0;
    const timer = setInterval(() => {
      let budget = perTick;
      while (budget > 0 && queue.length > 0) {
        const head = queue[0] as Buffer;
        const part = head.subarray(0, budget);
        client.write(part);
        budget -= part.byteLength;
        queued -= part.byteLength;
        forwarded += part.byteLength;
        if (part.byteLength === head.byteLength) queue.shift();
        else queue[0] = head.subarray(part.byteLength);
      }
      if (queued < perTick * 4 && upstream.isPaused()) upstream.resume();
    }, TICK_MS);
    upstream.on("data", (chunk: Buffer) => {
      queue.push(chunk);
      queued += chunk.byteLength;
      if (queued >= perTick * 4) upstream.pause();
    });
    client.on("data", (chunk: Buffer) => upstream.write(chunk));
    const close = () => {
      clearInterval(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on("error", close);
      socket.on("close", close);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const bound = server.address();
  if (bound === null || typeof bound === "string") throw new Error(`unexpected proxy address ${String(bound)}`);
  return {
    address: `127.0.0.1:${bound.port}`,
    fromTarget: () => forwarded,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
