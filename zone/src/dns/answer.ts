// One DNS query in, one response out, from the name index alone: no I/O, so it answers the same
// whether or not the global is reachable. Packets are built and encoded by dns2.
import { Packet, type Question, type Resource } from "dns2";
import type { NameLookup, ServiceAddresses } from "./name-lookup.js";

/**
 * The TTL of every record. VIPs never move, so a long TTL would be safe for what exists; the TTL is
 * short so that a deleted service, or a VIP published after the name first resolved (a new own
 * service has none until the global leases it), shows within seconds in resolver caches.
 */
export const DNS_TTL_SECONDS = 5;

/** RFC 1035 §4.1.1 response codes (dns2's typings do not carry them). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type RcodeName = keyof typeof RCODE;

const OPCODE_QUERY = 0;
/** OPT (RFC 6891): dns2 calls it EDNS. */
const TYPE_OPT = Packet.TYPE.EDNS;
/** The UDP payload size advertised back to EDNS clients (DNS Flag Day 2020). */
const EDNS_PAYLOAD = 1232;

/** Query types counted by name in the metrics; the rest are OTHER, so the label set stays bounded. */
const TYPE_NAMES = new Map<number, string>([
  [Packet.TYPE.A, "A"],
  [Packet.TYPE.AAAA, "AAAA"],
  [Packet.TYPE.ANY, "ANY"],
  [Packet.TYPE.CNAME, "CNAME"],
  [Packet.TYPE.MX, "MX"],
  [Packet.TYPE.NS, "NS"],
  [Packet.TYPE.PTR, "PTR"],
  [Packet.TYPE.SOA, "SOA"],
  [Packet.TYPE.SRV, "SRV"],
  [Packet.TYPE.TXT, "TXT"],
  // HTTPS (RFC 9460): browsers and curl ask it next to A and AAAA.
  [65, "HTTPS"],
]);

/** The metric label of a query type. */
export function queryTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? "OTHER";
}

export interface DnsAnswer {
  /** What to send back; undefined when nothing is (the message was itself a response). */
  readonly response: Packet | undefined;
  /** The question's type as a metric label (NONE without a question). */
  readonly type: string;
  readonly rcode: RcodeName | "DROPPED";
}

function records(question: Question, addresses: ServiceAddresses): Resource[] {
  const make = (type: number, address: string) =>
    new Packet.Resource({ name: question.name, type, class: Packet.CLASS.IN, ttl: DNS_TTL_SECONDS, address });
  const a = addresses.ipv4.map((ip) => make(Packet.TYPE.A, ip));
  const aaaa = addresses.ipv6.map((ip) => make(Packet.TYPE.AAAA, ip));
  switch (question.type) {
    case Packet.TYPE.A:
      return a;
    case Packet.TYPE.AAAA:
      return aaaa;
    case Packet.TYPE.ANY:
      return [...a, ...aaaa];
    default:
      return [];
  }
}

/**
 * Answers a parsed query. Names under `mesh.local` are answered authoritatively: a service's VIPs
 * for A, AAAA (and ANY), NOERROR with no records for other types or a family without a VIP, and
 * NXDOMAIN for a name that does not exist. Other names are REFUSED: this is not a resolver.
 */
export function answerQuery(request: Packet, lookup: (name: string) => NameLookup): DnsAnswer {
  if (request.header.qr === 1) return { response: undefined, type: "NONE", rcode: "DROPPED" };
  const question = request.questions[0];
  const type = question ? queryTypeName(question.type) : "NONE";
  const response = Packet.createResponseFromRequest(request);
  if (request.additionals.some((record) => record?.type === TYPE_OPT)) {
    const opt = Packet.Resource.EDNS([]);
    opt.class = EDNS_PAYLOAD;
    response.additionals.push(opt);
  }

  const reply = (rcode: RcodeName, authoritative: boolean, answers: Resource[] = []): DnsAnswer => {
    response.header.rcode = RCODE[rcode];
    response.header.aa = authoritative ? 1 : 0;
    response.answers = answers;
    return { response, type, rcode };
  };

  if (request.header.opcode !== OPCODE_QUERY) return reply("NOTIMP", false);
  // dns2 skips a question it cannot decode, so a count that disagrees with the header is malformed.
  if (!question || request.questions.length !== 1 || request.header.qdcount !== 1) return reply("FORMERR", false);
  if (question.class !== Packet.CLASS.IN) return reply("REFUSED", false);
  const found = lookup(question.name);
  switch (found.kind) {
    case "outside":
      return reply("REFUSED", false);
    case "unknown":
      return reply("NXDOMAIN", true);
    case "empty":
      return reply("NOERROR", true);
    case "service":
      return reply("NOERROR", true, records(question, found.addresses));
  }
}
