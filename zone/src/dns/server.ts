// The DNS listeners: dns2's UDP and TCP servers on one port. With port 0 the UDP socket binds first
// and TCP takes the port UDP got; if another process holds that TCP port, both are closed and the
// pair is tried again on a fresh port. A message that cannot be parsed is dropped (dns2 reports it
// as a requestError), and a failure while answering becomes SERVFAIL: no query stops the server.
import type { AddressInfo, Socket } from "node:net";
import { formatAddress, type ListenAddress, type Logger } from "@mooring/shared";
import { createTCPServer, createUDPServer, Packet, type TCPServer, type UDPServer } from "dns2";
import { type DnsAnswer, queryTypeName, RCODE } from "./answer.js";

export interface DnsServerOptions {
  readonly address: ListenAddress;
  /** Answers one parsed query; must not do I/O. */
  readonly answer: (request: Packet) => DnsAnswer;
  readonly logger: Logger;
  /** Called once per message received, answered or dropped: for metrics. */
  readonly onQuery?: (query: { readonly type: string; readonly rcode: string }) => void;
  /** Tries at binding UDP and TCP to one free port when the port is 0; default 8. */
  readonly bindAttempts?: number;
}

export interface DnsServer {
  /** `host:port`, as bound: UDP and TCP both. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

type Send = (response: Packet | Buffer) => Promise<Buffer>;

function serverFailure(request: Packet, type: string): DnsAnswer {
  const response = Packet.createResponseFromRequest(request);
  response.header.rcode = RCODE.SERVFAIL;
  return { response, type, rcode: "SERVFAIL" };
}

function bindUdp(socket: UDPServer, address: ListenAddress): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(address.port, address.host, () => {
      socket.off("error", reject);
      resolve(socket.address().port);
    });
  });
}

function listenTcp(server: TCPServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function closeUdp(socket: UDPServer): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      // Never bound, or already closed.
      resolve();
    }
  });
}

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const log = options.logger.child({ component: "dns" });
  const count = (type: string, rcode: string) => options.onQuery?.({ type, rcode });

  function respond(request: Packet, send: Send): void {
    const question = request.questions[0];
    let type = question ? queryTypeName(question.type) : "NONE";
    let answer: DnsAnswer;
    let bytes: Buffer | undefined;
    try {
      answer = options.answer(request);
      type = answer.type;
      bytes = answer.response?.toBuffer();
    } catch (error) {
      log.error({ err: error }, "answering a DNS query failed; answering SERVFAIL");
      try {
        answer = serverFailure(request, type);
        bytes = answer.response?.toBuffer();
      } catch (again) {
        log.error({ err: again }, "encoding SERVFAIL failed; dropping the query");
        count(type, "DROPPED");
        return;
      }
    }
    count(answer.type, answer.rcode);
    if (!bytes) return;
    // Our answers carry at most a few records, far below the 512 bytes of plain UDP. dns2's UDP
    // send returns a promise, its TCP send nothing (whatever its typings say).
    const failed = (error: unknown) => log.debug({ err: error }, "sending a DNS response failed");
    try {
      Promise.resolve(send(bytes)).catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  const dropped = (error: unknown) => {
    // dns2 reports a TCP client's reset or broken pipe the same way as an unreadable message.
    if (error instanceof Error && "syscall" in error) {
      log.debug({ err: error }, "a DNS TCP connection failed");
      return;
    }
    count("NONE", "DROPPED");
    log.debug({ err: error }, "dropped a DNS message that could not be read");
  };

  const attempts = options.address.port === 0 ? (options.bindAttempts ?? 8) : 1;
  for (let attempt = 1; ; attempt += 1) {
    const udp = createUDPServer({ type: options.address.host.includes(":") ? "udp6" : "udp4" });
    const tcp = createTCPServer();
    let port: number;
    try {
      port = await bindUdp(udp, options.address);
    } catch (error) {
      await closeUdp(udp);
      throw error;
    }
    try {
      await listenTcp(tcp, options.address.host, port);
    } catch (error) {
      await closeUdp(udp);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE" && attempt < attempts) {
        log.debug({ port, attempt }, "the TCP port of the UDP socket is taken; trying another port");
        continue;
      }
      throw error;
    }
    return serve(udp, tcp, port);
  }

  function serve(udp: UDPServer, tcp: TCPServer, port: number): DnsServer {
    const connections = new Set<Socket>();
    udp.on("request", (request, send) => respond(request, send));
    udp.on("requestError", dropped);
    udp.on("error", (error: Error) => log.error({ err: error }, "DNS UDP socket error"));
    tcp.on("request", (request, send) => respond(request, send));
    tcp.on("requestError", dropped);
    tcp.on("error", (error: Error) => log.error({ err: error }, "DNS TCP listener error"));
    tcp.on("connection", (socket: Socket) => {
      connections.add(socket);
      socket.once("close", () => connections.delete(socket));
    });

    let closing: Promise<void> | undefined;
    return {
      address: formatAddress({ host: options.address.host, port: (tcp.address() as AddressInfo).port }),
      port,
      close() {
        closing ??= Promise.all([
          closeUdp(udp),
          new Promise<void>((resolve) => {
            tcp.close(() => resolve());
            // Idle pipelining connections would hold close() for dns2's 10 s idle timeout.
            for (const socket of connections) socket.destroy();
          }),
        ]).then(() => undefined);
        return closing;
      },
    };
  }
}
