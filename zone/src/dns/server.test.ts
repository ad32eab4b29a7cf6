import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { connect, createServer, type Server } from "node:net";
import { Packet, TCPClient } from "dns2";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../test-support.js";
import { answerQuery, type DnsAnswer } from "./answer.js";
import type { NameLookup } from "./name-lookup.js";
import { type DnsServer, startDnsServer } from "./server.js";

function lookup(name: string): NameLookup {
  if (name.toLowerCase() === "web.default.mesh.local") {
    return { kind: "service", addresses: { ipv4: ["241.0.0.1"], ipv6: ["fd00:241::1"] } };
  }
  return name.toLowerCase().endsWith(".mesh.local") ? { kind: "unknown" } : { kind: "outside" };
}

function query(name: string, type: number = Packet.TYPE.A, id = 7): Buffer {
  const packet = new Packet();
  packet.header.id = id;
  packet.questions.push(new Packet.Question(name, type, Packet.CLASS.IN));
  return packet.toBuffer();
}

/** One datagram to the server; resolves with the parsed answer, or undefined after `silenceMs` of nothing. */
function udp(port: number, message: Buffer, silenceMs = 2000): Promise<Packet | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, silenceMs);
    socket.once("message", (data) => {
      clearTimeout(timer);
      socket.close();
      resolve(Packet.parse(data));
    });
    socket.send(message, port, "127.0.0.1");
  });
}

/** One length-prefixed message over a fresh TCP connection; the parsed answer, or the raw bytes if it closed early. */
function tcp(port: number, frame: Buffer): Promise<{ answer?: Packet; closedWith: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        socket.end();
        resolve({ answer: Packet.parse(received.subarray(2, 2 + received.readUInt16BE(0))), closedWith: 0 });
      }
    });
    socket.on("close", () => resolve({ closedWith: received.length }));
    socket.on("error", reject);
    socket.write(frame);
  });
}

function framed(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

const summary = (packet: Packet | undefined) =>
  packet && {
    id: packet.header.id,
    rcode: packet.header.rcode,
    answers: packet.answers.map((r) => [r.name, r.type, r.ttl, r.address]),
  };

describe("DNS server", () => {
  let server: DnsServer | undefined;
  let counted: string[];
  const blockers: Server[] = [];

  async function start(answer: (request: Packet) => DnsAnswer = (request) => answerQuery(request, lookup)) {
    counted = [];
    server = await startDnsServer({
      address: { host: "127.0.0.1", port: 0 },
      answer,
      logger: silentLogger,
      onQuery: ({ type, rcode }) => counted.push(`${type} ${rcode}`),
    });
    return server;
  }

  afterEach(async () => {
    await server?.close();
    server = undefined;
    for (const blocker of blockers.splice(0)) blocker.close();
  });

  it("answers over UDP and TCP on the one port it reports", async () => {
    const { port, address } = await start();
    expect(address).toBe(`127.0.0.1:${port}`);
    expect(port).toBeGreaterThan(0);
    expect(summary(await udp(port, query("web.default.mesh.local")))).toEqual({
      id: 7,
      rcode: 0,
      answers: [["web.default.mesh.local", Packet.TYPE.A, 5, "241.0.0.1"]],
    });
    const overTcp = await tcp(port, framed(query("web.default.mesh.local", Packet.TYPE.AAAA, 8)));
    expect(summary(overTcp.answer)).toEqual({
      id: 8,
      rcode: 0,
      answers: [["web.default.mesh.local", Packet.TYPE.AAAA, 5, "fd00:241::1"]],
    });
    expect(counted).toEqual(["A NOERROR", "AAAA NOERROR"]);
  });

  it("answers Node's resolver (UDP) and dns2's TCP client", async () => {
    const { port } = await start();
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    expect(await resolver.resolve4("web.default.mesh.local", { ttl: true })).toEqual([
      { address: "241.0.0.1", ttl: 5 },
    ]);
    await expect(resolver.resolve4("nope.default.mesh.local")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(resolver.resolve4("example.com")).rejects.toMatchObject({ code: "EREFUSED" });
    const resolve = TCPClient({ dns: "127.0.0.1", port });
    expect(summary(await resolve("web.default.mesh.local", "AAAA"))?.answers).toEqual([
      ["web.default.mesh.local", Packet.TYPE.AAAA, 5, "fd00:241::1"],
    ]);
  });

  it("drops unreadable datagrams and keeps answering", async () => {
    const { port } = await start();
    expect(await udp(port, Buffer.from([0x01, 0x02, 0x03]), 300)).toBeUndefined();
    expect(await udp(port, Buffer.alloc(0), 300)).toBeUndefined();
    expect(summary(await udp(port, query("web.default.mesh.local", Packet.TYPE.A, 9)))?.rcode).toBe(0);
    expect(counted).toEqual(["NONE DROPPED", "NONE DROPPED", "A NOERROR"]);
  });

  it("closes a TCP connection that sends an unreadable message, and keeps answering others", async () => {
    const { port } = await start();
    const garbage = await tcp(port, framed(Buffer.from([0xff, 0xff, 0x01])));
    expect(garbage).toEqual({ closedWith: 0 });
    const good = await tcp(port, framed(query("web.default.mesh.local", Packet.TYPE.A, 10)));
    expect(summary(good.answer)?.id).toBe(10);
    expect(counted).toEqual(["NONE DROPPED", "A NOERROR"]);
  });

  it("answers SERVFAIL when answering throws", async () => {
    const { port } = await start(() => {
      throw new Error("index exploded");
    });
    expect(summary(await udp(port, query("web.default.mesh.local", Packet.TYPE.A, 11)))).toEqual({
      id: 11,
      rcode: 2,
      answers: [],
    });
    expect(counted).toEqual(["A SERVFAIL"]);
  });

  it("fails to start, leaving nothing bound, when its TCP port is taken", async () => {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen({ host: "127.0.0.1", port: 0 }, resolve));
    const port = (blocker.address() as { port: number }).port;
    await expect(
      startDnsServer({ address: { host: "127.0.0.1", port }, answer: () => ({}) as DnsAnswer, logger: silentLogger }),
    ).rejects.toMatchObject({ code: "EADDRINUSE" });
    // The UDP socket it bound first was released.
    const socket = createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, "127.0.0.1", () => resolve());
    });
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  });

  it("closes promptly with an idle TCP connection open, and close() is idempotent", async () => {
    const { port } = await start();
    const idle = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve) => idle.once("connect", () => resolve()));
    const closed = new Promise<void>((resolve) => idle.once("close", () => resolve()));
    idle.on("error", () => {});
    const started = Date.now();
    await Promise.all([server?.close(), server?.close()]);
    await closed;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await udp(port, query("web.default.mesh.local"), 300)).toBeUndefined();
  });
});
