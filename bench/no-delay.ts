// Every TCP socket this process opens or accepts gets TCP_NODELAY unless its creator says otherwise.
//
// Why: test/helpers/tcp-proxy.ts (used here to count the bytes each server sends) relays with
// Node's default sockets, which use Nagle's algorithm. A server's second small write (Mooring's
// Changes right after its Welcome, etcd's events after "watch created") then waits for the client's
// delayed ACK, about 40 ms on Linux: a delay the proxy adds and no deployment has. Measured through
// the unpatched proxy, a Mooring resume with no changes took 42-44 ms from Welcome to in sync; with
// TCP_NODELAY, 1-2 ms. The helper imports `createServer` and `connect` by name from node:net; named
// imports of built-ins follow `syncBuiltinESMExports()`, so patching here reaches the helper without
// changing it. Remove this once the helper sets `noDelay` itself.

import { syncBuiltinESMExports } from "node:module";
import net from "node:net";

type ServerOptions = net.ServerOpts;

const originalCreateServer = net.createServer;
const originalConnect = net.connect;

function createServer(...args: unknown[]): net.Server {
  const [first, ...rest] = args;
  if (typeof first === "object" && first !== null) {
    return (originalCreateServer as (...all: unknown[]) => net.Server)(
      { noDelay: true, ...(first as ServerOptions) },
      ...rest,
    );
  }
  return (originalCreateServer as (...all: unknown[]) => net.Server)({ noDelay: true }, ...args);
}

function connect(...args: unknown[]): net.Socket {
  const [first, ...rest] = args;
  if (typeof first === "object" && first !== null) {
    return (originalConnect as (...all: unknown[]) => net.Socket)({ noDelay: true, ...(first as object) }, ...rest);
  }
  const socket = (originalConnect as (...all: unknown[]) => net.Socket)(...args);
  socket.setNoDelay(true);
  return socket;
}

let installed = false;

export function installNoDelay(): void {
  if (installed) return;
  installed = true;
  net.createServer = createServer as typeof net.createServer;
  net.connect = connect as typeof net.connect;
  net.createConnection = connect as typeof net.createConnection;
  syncBuiltinESMExports();
}
