// Address math for VIP ranges, in BigInt so IPv4 and IPv6 share one code path (128-bit safe).
import ipaddr from "ipaddr.js";

export type IpFamily = 4 | 6;

export interface VipRange {
  /** As configured, normalised: `241.0.0.0/8`, `fd00:241::/64`. */
  readonly cidr: string;
  readonly family: IpFamily;
  /** First and last allocatable addresses (network and broadcast addresses are left out). */
  readonly first: bigint;
  readonly last: bigint;
  readonly size: bigint;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

export function familyOf(address: ipaddr.IPv4 | ipaddr.IPv6): IpFamily {
  return address.kind() === "ipv4" ? 4 : 6;
}

export function toBigInt(address: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  let value = 0n;
  for (const byte of address.toByteArray()) value = (value << 8n) | BigInt(byte);
  return value;
}

export function fromBigInt(value: bigint, family: IpFamily): string {
  if (family === 4) {
    // Every allocation formats its address: dotted quad directly, as ipaddr.js would write it.
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const bytes: number[] = [];
  let rest = value;
  for (let i = 0; i < BITS[family] / 8; i++) {
    bytes.unshift(Number(rest & 0xffn));
    rest >>= 8n;
  }
  return formatIp(ipaddr.fromByteArray(bytes));
}

function formatIp(address: ipaddr.IPv4 | ipaddr.IPv6): string {
  return address.kind() === "ipv6" ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
}

/**
 * Fixed-width hex of an address: sorts like the number, so SQLite can range-scan leases by address.
 * IPv4 keys are 8 digits and IPv6 keys 32; queries always filter by family as well.
 */
export function ipKey(value: bigint, family: IpFamily): string {
  return value.toString(16).padStart(BITS[family] / 4, "0");
}

export interface ParsedIp {
  readonly ip: string;
  readonly family: IpFamily;
  readonly value: bigint;
}

/** Parses one address into its canonical text (RFC 5952 for IPv6). Throws with a reason. */
export function parseIp(raw: string): ParsedIp {
  if (!ipaddr.isValid(raw)) throw new Error(`${JSON.stringify(raw)} is not an IP address`);
  if (raw.includes("%")) throw new Error(`${JSON.stringify(raw)} has a zone index, which a VIP cannot have`);
  let address = ipaddr.parse(raw);
  if (address.kind() === "ipv4" && !ipaddr.IPv4.isValidFourPartDecimal(raw)) {
    throw new Error(`${JSON.stringify(raw)} is not in dotted-quad form`);
  }
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    address = (address as ipaddr.IPv6).toIPv4Address();
  }
  return { ip: formatIp(address), family: familyOf(address), value: toBigInt(address) };
}

export function parseCidr(raw: string): VipRange {
  const text = raw.trim();
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(text);
  } catch {
    throw new Error(`${JSON.stringify(text)} is not a CIDR such as 241.0.0.0/8 or fd00:241::/64`);
  }
  const [address, prefix] = parsed;
  if (address.kind() === "ipv4" && !ipaddr.IPv4.isValidFourPartDecimal(text.split("/")[0] ?? "")) {
    throw new Error(`${JSON.stringify(text)} is not in dotted-quad form`);
  }
  const family = familyOf(address);
  const hostBits = BigInt(BITS[family] - prefix);
  const base = toBigInt(address);
  const network = (base >> hostBits) << hostBits;
  if (network !== base) {
    throw new Error(`${text} has host bits set; did you mean ${fromBigInt(network, family)}/${prefix}?`);
  }
  const top = network + (1n << hostBits) - 1n;
  // Leave out the network address, and for IPv4 the broadcast address, when the range is big enough.
  const first = hostBits >= 2n ? network + 1n : network;
  const last = family === 4 && hostBits >= 2n ? top - 1n : top;
  return { cidr: `${fromBigInt(network, family)}/${prefix}`, family, first, last, size: last - first + 1n };
}

/** A comma-separated list of ranges that must not overlap. */
export function parseCidrList(raw: string): VipRange[] {
  const parts = raw
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  if (parts.length === 0) throw new Error("at least one CIDR is required");
  const ranges = parts.map(parseCidr);
  for (const [i, a] of ranges.entries()) {
    for (const b of ranges.slice(i + 1)) {
      if (a.family === b.family && a.first <= b.last && b.first <= a.last) {
        throw new Error(`${a.cidr} overlaps ${b.cidr}`);
      }
    }
  }
  return ranges;
}

export function rangeOf(ranges: readonly VipRange[], parsed: ParsedIp): VipRange | undefined {
  return ranges.find(
    (range) => range.family === parsed.family && parsed.value >= range.first && parsed.value <= range.last,
  );
}
