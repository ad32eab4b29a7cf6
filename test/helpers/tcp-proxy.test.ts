// The fault-injection proxy against real echo servers on 127.0.0.1:0.
import { once } from "node:events";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

interface EchoServer {
  readonly address: string;
  /** Server-side sockets, open or not, in accept order. */
  readonly sockets: Socket[];
  /** Every byte the server received, over all connections. */
  received(): string;
  close(): Promise<void>;
}

/** Echoes every chunk back through `transform`; half-closes when the client does. */
async function startEchoServer(transform: (text: string) => string = (text) => text): Promise<EchoServer> {
  const sockets: Socket[] = [];
  let received = "";
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      received += text;
      socket.write(transform(text));
    });
    socket.on("error", () => {});
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const bound = server.address();
  if (bound === null || typeof bound === "string") throw new Error("no port");
  return {
    address: `127.0.0.1:${bound.port}`,
    sockets,
    received: () => received,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

interface Client {
  readonly socket: Socket;
  received(): string;
  /** Settles with the socket's error code ("ECONNRESET"), or null, once it has closed. */
  readonly closed: Promise<string | null>;
  isClosed(): boolean;
}

async function connectClient(address: string): Promise<Client> {
  const [host, port] = address.split(":");
  const socket = tcpConnect({ host, port: Number(port) });
  let received = "";
  let error: string | null = null;
  let isClosed = false;
  socket.setEncoding("utf8");
  socket.on("data", (text: string) => {
    received += text;
  });
  socket.on("error", (cause: NodeJS.ErrnoException) => {
    error = cause.code ?? cause.message;
  });
  const closed = new Promise<string | null>((resolve) => {
    socket.on("close", () => {
      isClosed = true;
      resolve(error);
    });
  });
  clients.push(socket);
  // A refused connection may be reset before "connect" fires: closing counts as settled too.
  await new Promise<void>((resolve) => {
    socket.once("connect", () => resolve());
    void closed.then(() => resolve());
  });
  return { socket, received: () => received, closed, isClosed: () => isClosed };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const clients: Socket[] = [];
const cleanups: Array<() => Promise<void>> = [];

async function setUp(): Promise<{ echo: EchoServer; proxy: TcpProxy }> {
  const echo = await startEchoServer();
  const proxy = await startTcpProxy(echo.address);
  cleanups.push(
    () => proxy.close(),
    () => echo.close(),
  );
  return { echo, proxy };
}

afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe("startTcpProxy", () => {
  it("listens on 127.0.0.1 and passes bytes both ways", async () => {
    const { echo, proxy } = await setUp();
    expect(proxy.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(proxy.address).not.toBe(echo.address);
    const client = await connectClient(proxy.address);
    client.socket.write("hello");
    await vi.waitFor(() => expect(client.received()).toBe("hello"));
    expect(echo.received()).toBe("hello");
    expect(echo.sockets).toHaveLength(1);
  });

  it("passes a half-close through and delivers what the server sends after it", async () => {
    const { proxy } = await setUp();
    const client = await connectClient(proxy.address);
    client.socket.end("last words");
    expect(await client.closed).toBeNull();
    expect(client.received()).toBe("last words");
    await vi.waitFor(() => expect(proxy.connections()).toBe(0));
  });

  it("counts connections accepted in total and open now", async () => {
    const { proxy } = await setUp();
    const first = await connectClient(proxy.address);
    await connectClient(proxy.address);
    await connectClient(proxy.address);
    await vi.waitFor(() => expect([proxy.accepted(), proxy.connections()]).toEqual([3, 3]));
    first.socket.end();
    await first.closed;
    await vi.waitFor(() => expect(proxy.connections()).toBe(2));
    expect(proxy.accepted()).toBe(3);
  });

  it("cut closes both sides of every connection at once and keeps listening", async () => {
    const { echo, proxy } = await setUp();
    const a = await connectClient(proxy.address);
    const b = await connectClient(proxy.address);
    a.socket.write("a");
    b.socket.write("b");
    await vi.waitFor(() => expect([a.received(), b.received()]).toEqual(["a", "b"]));

    proxy.cut();
    expect(proxy.connections()).toBe(0);
    await Promise.all([a.closed, b.closed]);
    await vi.waitFor(() => expect(echo.sockets.map((socket) => socket.destroyed)).toEqual([true, true]));

    const c = await connectClient(proxy.address);
    c.socket.write("again");
    await vi.waitFor(() => expect(c.received()).toBe("again"));
    expect([proxy.accepted(), proxy.connections()]).toEqual([3, 1]);
  });

  it("blackhole drops bytes both ways, and closes, but keeps the connections open", async () => {
    const { echo, proxy } = await setUp();
    const before = await connectClient(proxy.address);
    before.socket.write("seen ");
    await vi.waitFor(() => expect(before.received()).toBe("seen "));

    proxy.setMode("blackhole");
    const during = await connectClient(proxy.address);
    before.socket.write("lost");
    during.socket.write("lost too");
    await sleep(200);
    expect([before.received(), during.received(), echo.received()]).toEqual(["seen ", "", "seen "]);
    expect([before.isClosed(), during.isClosed()]).toEqual([false, false]);
    expect(proxy.connections()).toBe(2);

    // A peer that goes away behind a black hole is not noticed on the other side.
    during.socket.destroy();
    await during.closed;
    await sleep(100);
    expect(echo.sockets.map((socket) => socket.destroyed)).toEqual([false, false]);

    proxy.setMode("pass");
    before.socket.write("back");
    await vi.waitFor(() => expect(before.received()).toBe("seen back"));
  });

  it("refuse resets new connections at once and leaves open ones alone", async () => {
    const { echo, proxy } = await setUp();
    const open = await connectClient(proxy.address);
    proxy.setMode("refuse");
    const refused = await connectClient(proxy.address);
    expect(await refused.closed).toBe("ECONNRESET");
    expect(refused.received()).toBe("");
    expect(echo.sockets).toHaveLength(1);
    expect([proxy.accepted(), proxy.connections()]).toEqual([2, 1]);

    open.socket.write("still here");
    await vi.waitFor(() => expect(open.received()).toBe("still here"));
  });

  it("delays every chunk in each direction, in order", async () => {
    const { proxy } = await setUp();
    const client = await connectClient(proxy.address);
    proxy.setDelay(150);
    const sentAt = performance.now();
    client.socket.write("a");
    await sleep(20);
    client.socket.write("b");
    await vi.waitFor(() => expect(client.received()).toBe("ab"), { timeout: 2000 });
    // 150 ms to the server, 150 ms back.
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(300);

    proxy.setDelay(0);
    expect(() => proxy.setDelay(-1)).toThrow("delay must be a non-negative number of ms, got -1");
  });

  it("sends new connections to a new target and leaves open ones on the old", async () => {
    const { proxy } = await setUp();
    const upper = await startEchoServer((text) => text.toUpperCase());
    cleanups.push(() => upper.close());
    const old = await connectClient(proxy.address);
    await vi.waitFor(() => expect(proxy.connections()).toBe(1));

    proxy.setTarget(upper.address);
    const moved = await connectClient(proxy.address);
    old.socket.write("old");
    moved.socket.write("new");
    await vi.waitFor(() => expect([old.received(), moved.received()]).toEqual(["old", "NEW"]));
    expect(() => proxy.setTarget("nowhere")).toThrow("expected a target host:port, got nowhere");
  });

  it("closes the client's connection when the target is down", async () => {
    const { echo, proxy } = await setUp();
    await echo.close();
    const client = await connectClient(proxy.address);
    await client.closed;
    await vi.waitFor(() => expect(proxy.connections()).toBe(0));
    expect(proxy.accepted()).toBe(1);
  });

  it("close stops listening and closes open connections", async () => {
    const echo = await startEchoServer();
    cleanups.push(() => echo.close());
    const proxy = await startTcpProxy(echo.address);
    const client = await connectClient(proxy.address);
    await proxy.close();
    await client.closed;
    const [host, port] = proxy.address.split(":");
    const late = tcpConnect({ host, port: Number(port) });
    const [error] = (await once(late, "error")) as [NodeJS.ErrnoException];
    expect(error.code).toBe("ECONNREFUSED");
  });
});
