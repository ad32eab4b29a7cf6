// Raw DNS exchanges with a zone's responder, for end-to-end tests that compare answers byte for
// byte: one query encoded by dns2 with a fixed id, sent over UDP or TCP (RFC 1035 §4.2.2 framing),
// and the response's bytes as received.
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { Packet } from "dns2";

/** `127.0.0.1:<port>` -> its parts. */
function split(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** A query for `name` of `type` (Packet.TYPE) with a fixed id, encoded by dns2. */
export function encodeQuery(name: string, type: number, id = 4242): Buffer {
  const packet = new Packet();
  packet.header.id = id;
  packet.header.rd = 1;
  packet.questions.push(new Packet.Question(name, type, Packet.CLASS.IN));
  return packet.toBuffer();
}

/** Sends one datagram; resolves with the response's bytes, or rejects after `timeoutMs`. */
export function udpExchange(address: string, query: Buffer, timeoutMs = 2000): Promise<Buffer> {
  const { host, port } = split(address);
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no DNS answer from ${address} over UDP within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("message", (data) => {
      clearTimeout(timer);
      socket.close();
      resolve(data);
    });
    socket.send(query, port, host);
  });
}

/** Sends one length-prefixed query over a fresh TCP connection; resolves with the response's bytes. */
export function tcpExchange(address: string, query: Buffer, timeoutMs = 2000): Promise<Buffer> {
  const { host, port } = split(address);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no DNS answer from ${address} over TCP within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) return;
      clearTimeout(timer);
      socket.end();
      resolve(received.subarray(2, 2 + received.readUInt16BE(0)));
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    const length = Buffer.alloc(2);
    length.writeUInt16BE(query.length);
    socket.write(Buffer.concat([length, query]));
  });
}

/** What a test asserts on: the response code, the answers' addresses and TTLs. */
export function summarize(response: Buffer): { rcode: number; aa: number; answers: Array<[string, number]> } {
  const packet = Packet.parse(response);
  return {
    rcode: packet.header.rcode,
    aa: packet.header.aa,
    answers: packet.answers.map((record): [string, number] => [record.address ?? "", record.ttl]),
  };
}
