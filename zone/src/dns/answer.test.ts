import { Packet } from "dns2";
import { describe, expect, it } from "vitest";
import { answerQuery, DNS_TTL_SECONDS, queryTypeName, RCODE } from "./answer.js";
import type { NameLookup } from "./name-lookup.js";
import { isInDnsDomain, normalizeName } from "./names.js";

const TYPE = Packet.TYPE;
const HTTPS = 65;

/** A fixed view: web has both families, v4only and db (zone-owned) one or none. */
const SERVICES: Record<string, { ipv4: string[]; ipv6: string[] }> = {
  "web.default.mesh.local": { ipv4: ["241.0.0.1"], ipv6: ["fd00:241::1"] },
  "v4only.default.mesh.local": { ipv4: ["241.0.0.2"], ipv6: [] },
  "db.east.default.mesh.local": { ipv4: [], ipv6: [] },
};

function lookup(raw: string): NameLookup {
  const name = normalizeName(raw);
  if (!isInDnsDomain(name)) return { kind: "outside" };
  const addresses = SERVICES[name];
  if (addresses) return { kind: "service", addresses };
  if (["mesh.local", "default.mesh.local", "east.default.mesh.local"].includes(name)) return { kind: "empty" };
  return { kind: "unknown" };
}

interface QueryOptions {
  readonly cls?: number;
  readonly opcode?: number;
  readonly qr?: 0 | 1;
  readonly edns?: boolean;
  readonly questions?: number;
}

/** A query as the server receives it: encoded and parsed again by dns2. */
function query(name: string, type: number = TYPE.A, options: QueryOptions = {}): Packet {
  const packet = new Packet();
  packet.header.id = 4242;
  packet.header.rd = 1;
  packet.header.opcode = options.opcode ?? 0;
  packet.header.qr = options.qr ?? 0;
  for (let i = 0; i < (options.questions ?? 1); i += 1) {
    packet.questions.push(new Packet.Question(name, type, options.cls ?? Packet.CLASS.IN));
  }
  if (options.edns) packet.additionals.push(Packet.Resource.EDNS([]));
  return Packet.parse(packet.toBuffer());
}

/** The answer as a client decodes it off the wire. */
function ask(request: Packet) {
  const answer = answerQuery(request, lookup);
  if (!answer.response) throw new Error("no response");
  const wire = Packet.parse(answer.response.toBuffer());
  return {
    type: answer.type,
    rcode: answer.rcode,
    header: {
      id: wire.header.id,
      qr: wire.header.qr,
      aa: wire.header.aa,
      rd: wire.header.rd,
      ra: wire.header.ra,
      rcode: wire.header.rcode,
    },
    questions: wire.questions.map((q) => [q.name, q.type, q.class]),
    answers: wire.answers.map((r) => [r.name, r.type, r.class, r.ttl, r.address]),
    additionals: wire.additionals.map((r) => [r.type, r.class]),
  };
}

const authoritative = (rcode: number) => ({ id: 4242, qr: 1, aa: 1, rd: 1, ra: 0, rcode });
const notAuthoritative = (rcode: number) => ({ id: 4242, qr: 1, aa: 0, rd: 1, ra: 0, rcode });

describe("answering DNS queries", () => {
  it("answers A with the IPv4 VIPs and AAAA with the IPv6 VIPs, authoritatively, with a 5 s TTL", () => {
    expect(DNS_TTL_SECONDS).toBe(5);
    expect(ask(query("web.default.mesh.local", TYPE.A))).toEqual({
      type: "A",
      rcode: "NOERROR",
      header: authoritative(RCODE.NOERROR),
      questions: [["web.default.mesh.local", TYPE.A, Packet.CLASS.IN]],
      answers: [["web.default.mesh.local", TYPE.A, Packet.CLASS.IN, 5, "241.0.0.1"]],
      additionals: [],
    });
    expect(ask(query("web.default.mesh.local", TYPE.AAAA)).answers).toEqual([
      ["web.default.mesh.local", TYPE.AAAA, Packet.CLASS.IN, 5, "fd00:241::1"],
    ]);
  });

  it("answers in the case the question was asked in, with a trailing dot tolerated", () => {
    const asked = ask(query("WEB.Default.mesh.LOCAL.", TYPE.A));
    expect(asked.rcode).toBe("NOERROR");
    expect(asked.answers).toEqual([["WEB.Default.mesh.LOCAL", TYPE.A, Packet.CLASS.IN, 5, "241.0.0.1"]]);
  });

  it("answers ANY with both families", () => {
    expect(ask(query("web.default.mesh.local", TYPE.ANY)).answers).toEqual([
      ["web.default.mesh.local", TYPE.A, Packet.CLASS.IN, 5, "241.0.0.1"],
      ["web.default.mesh.local", TYPE.AAAA, Packet.CLASS.IN, 5, "fd00:241::1"],
    ]);
  });

  it.each([
    ["v4only.default.mesh.local", TYPE.AAAA, "AAAA"],
    ["db.east.default.mesh.local", TYPE.A, "A"],
    ["web.default.mesh.local", TYPE.TXT, "TXT"],
    ["web.default.mesh.local", TYPE.MX, "MX"],
    ["web.default.mesh.local", HTTPS, "HTTPS"],
    ["default.mesh.local", TYPE.A, "A"],
    ["east.default.mesh.local", TYPE.AAAA, "AAAA"],
    ["mesh.local", TYPE.SOA, "SOA"],
  ])("answers NOERROR with no records (NODATA) for %s type %s", (name, type, label) => {
    expect(ask(query(name, type))).toMatchObject({
      type: label,
      rcode: "NOERROR",
      header: authoritative(RCODE.NOERROR),
      answers: [],
    });
  });

  it("answers NXDOMAIN, authoritatively, for an unknown name inside mesh.local", () => {
    expect(ask(query("nope.default.mesh.local", TYPE.A))).toMatchObject({
      rcode: "NXDOMAIN",
      header: authoritative(RCODE.NXDOMAIN),
      questions: [["nope.default.mesh.local", TYPE.A, Packet.CLASS.IN]],
      answers: [],
    });
  });

  it("refuses names outside mesh.local and classes other than IN", () => {
    expect(ask(query("example.com", TYPE.A))).toMatchObject({
      rcode: "REFUSED",
      header: notAuthoritative(RCODE.REFUSED),
      questions: [["example.com", TYPE.A, Packet.CLASS.IN]],
      answers: [],
    });
    expect(ask(query("web.default.mesh.local", TYPE.A, { cls: Packet.CLASS.CH }))).toMatchObject({
      rcode: "REFUSED",
      header: notAuthoritative(RCODE.REFUSED),
      answers: [],
    });
  });

  it("answers NOTIMP to an opcode other than QUERY", () => {
    expect(ask(query("web.default.mesh.local", TYPE.A, { opcode: 2 }))).toMatchObject({
      rcode: "NOTIMP",
      header: notAuthoritative(RCODE.NOTIMP),
      answers: [],
    });
  });

  it("answers FORMERR to no question, two questions, or a question that does not decode", () => {
    expect(ask(query("web.default.mesh.local", TYPE.A, { questions: 0 }))).toMatchObject({
      type: "NONE",
      rcode: "FORMERR",
      header: notAuthoritative(RCODE.FORMERR),
      answers: [],
    });
    expect(ask(query("web.default.mesh.local", TYPE.A, { questions: 2 }))).toMatchObject({
      rcode: "FORMERR",
      answers: [],
    });
    // A header announcing one question, followed by a label length byte and nothing else.
    const truncated = Buffer.from([0x10, 0x92, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x03]);
    expect(ask(Packet.parse(truncated))).toMatchObject({
      type: "NONE",
      rcode: "FORMERR",
      header: { id: 4242, qr: 1, rcode: RCODE.FORMERR },
      questions: [],
    });
  });

  it("never answers a message that is itself a response", () => {
    expect(answerQuery(query("web.default.mesh.local", TYPE.A, { qr: 1 }), lookup)).toEqual({
      response: undefined,
      type: "NONE",
      rcode: "DROPPED",
    });
  });

  it("returns an OPT record (1232-byte payload) to an EDNS query, and none otherwise", () => {
    expect(ask(query("web.default.mesh.local", TYPE.A, { edns: true })).additionals).toEqual([[TYPE.EDNS, 1232]]);
    expect(ask(query("nope.default.mesh.local", TYPE.A, { edns: true })).additionals).toEqual([[TYPE.EDNS, 1232]]);
    expect(ask(query("web.default.mesh.local", TYPE.A)).additionals).toEqual([]);
  });

  it("labels query types for metrics with a bounded set", () => {
    expect([TYPE.A, TYPE.AAAA, HTTPS, TYPE.SRV, TYPE.SPF, 999].map(queryTypeName)).toEqual([
      "A",
      "AAAA",
      "HTTPS",
      "SRV",
      "OTHER",
      "OTHER",
    ]);
  });
});
