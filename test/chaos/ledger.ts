// What the chaos run has been promised, and the checks against it. Every write that got a 2xx is
// recorded here as the expected final state of its key; every VIP ever seen is remembered against
// its identity (and every identity against its VIP), so a VIP that moves, or an address that two
// identities hold, is caught the first time any view shows it.
import type { LeaseJson } from "../helpers/http.js";
import type { ServiceState } from "../helpers/sync.js";

/** A service key as `servicesOf` spells it: `zone/name`, the zone empty for global-owned services. */
export type Key = string;

/** The last acknowledged write of a key: its content (a label naming the write, and a port), or a delete. */
export type Expected = { readonly seq: number; readonly port: number } | "deleted";

/** A listed MeshService, as much as the checks read of it. */
export interface ListedService {
  readonly mesh: string;
  readonly zone?: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly spec: { ports: Array<{ port: number }> };
  readonly status: { vips: Array<{ ip: string }> };
}

export const LABEL = "chaos";

export function keyOf(service: { zone?: string; name: string }): Key {
  return `${service.zone ?? ""}/${service.name}`;
}

export function contentOf(seq: number): { port: number; label: string } {
  return { port: 1024 + (seq % 60_000), label: `w${seq}` };
}

export class Ledger {
  /** The last acknowledged write per key; keys never written are absent. */
  private readonly acked = new Map<Key, Expected>();
  /** The VIPs (comma-joined, as in ServiceState) an identity was first seen with. */
  private readonly firstVips = new Map<Key, string>();
  /** The identity each address was first seen leased to. */
  private readonly owners = new Map<string, Key>();
  /** Keys whose last write got no answer (a kill -9 landed on it): the states it may have left. */
  private readonly pending = new Map<Key, Expected[]>();

  expected(key: Key): Expected | undefined {
    return this.acked.get(key);
  }

  isLive(key: Key): boolean {
    const state = this.acked.get(key);
    return state !== undefined && state !== "deleted";
  }

  ack(key: Key, state: Expected): void {
    this.acked.set(key, state);
    this.pending.delete(key);
  }

  /** The write of `key` got no answer: it left one of `states`, its state before and (last) the one asked for. */
  uncertain(key: Key, states: Expected[]): void {
    this.pending.set(key, states);
  }

  isUncertain(key: Key): boolean {
    return this.pending.has(key);
  }

  /**
   * Reads which state each uncertain key was left in from the global's list (settled: the zones
   * agree with it) and holds to it from now on. Returns keys left in a state that was never asked for.
   */
  resolve(items: readonly ListedService[]): { problems: string[]; tookEffect: number } {
    const problems: string[] = [];
    let tookEffect = 0;
    const listed = new Map(items.map((item) => [keyOf(item), item]));
    for (const [key, states] of this.pending) {
      const item = listed.get(key);
      const found = states.find((state) =>
        state === "deleted"
          ? item === undefined
          : item?.labels[LABEL] === contentOf(state.seq).label && item.spec.ports[0]?.port === state.port,
      );
      if (found === undefined) {
        problems.push(
          `${key}: an interrupted write left ${item ? `${item.labels[LABEL]} (port ${item.spec.ports[0]?.port})` : "nothing"}, expected one of ${states.map((state) => (state === "deleted" ? "deleted" : contentOf(state.seq).label)).join(", ")}`,
        );
      } else {
        if (found === states[states.length - 1] && found !== states[0]) tookEffect += 1;
        this.ack(key, found);
      }
    }
    return { problems, tookEffect };
  }

  liveKeys(): Key[] {
    return [...this.acked].filter(([, state]) => state !== "deleted").map(([key]) => key);
  }

  identitiesSeen(): number {
    return this.firstVips.size;
  }

  /**
   * Records the VIPs `where` shows for `key`. Returns the problems: the identity was seen with other
   * VIPs before, or one of the addresses was seen with another identity.
   */
  observe(where: string, key: Key, vips: string): string[] {
    if (vips === "") return [];
    const problems: string[] = [];
    const first = this.firstVips.get(key);
    if (first === undefined) this.firstVips.set(key, vips);
    else if (first !== vips) problems.push(`${where}: ${key} has VIPs ${vips}, first seen with ${first}`);
    for (const ip of vips.split(",")) {
      const owner = this.owners.get(ip);
      if (owner === undefined) this.owners.set(ip, key);
      else if (owner !== key) problems.push(`${where}: ${ip} is shown for ${key}, but was ${owner}'s`);
    }
    return problems;
  }

  observeView(where: string, view: ReadonlyMap<Key, ServiceState>): string[] {
    return [...view].flatMap(([key, state]) => this.observe(where, key, state.vips));
  }

  /** The global's full list against the acknowledged writes: exactly the live keys, each with its last content. */
  checkFinalState(items: readonly ListedService[]): string[] {
    const problems: string[] = [];
    const listed = new Map(items.map((item) => [keyOf(item), item]));
    for (const [key, state] of this.acked) {
      const item = listed.get(key);
      if (state === "deleted") {
        if (item) problems.push(`${key}: deleted (acknowledged), but the global lists it (${item.labels[LABEL]})`);
        continue;
      }
      const want = contentOf(state.seq);
      if (!item) problems.push(`${key}: acknowledged write ${want.label} is lost: the global does not list it`);
      else if (item.labels[LABEL] !== want.label || item.spec.ports[0]?.port !== want.port) {
        problems.push(
          `${key}: the last acknowledged write is ${want.label} (port ${want.port}), the global has ${item.labels[LABEL]} (port ${item.spec.ports[0]?.port})`,
        );
      }
    }
    for (const key of listed.keys()) {
      if (!this.acked.has(key)) problems.push(`${key}: listed by the global but never written`);
    }
    return problems;
  }

  /**
   * The global's lease table against its services: one lease per identity, a `bound` lease for every
   * live service with the service's VIP, no `bound` lease without a live service.
   */
  checkLeases(leases: readonly LeaseJson[], view: ReadonlyMap<Key, ServiceState>): string[] {
    const problems: string[] = [];
    const byIdentity = new Map<Key, LeaseJson[]>();
    for (const lease of leases) {
      const key = keyOf(lease);
      byIdentity.set(key, [...(byIdentity.get(key) ?? []), lease]);
      problems.push(...this.observe("GET /vips", key, lease.ip));
    }
    const ips = leases.map((lease) => lease.ip);
    if (new Set(ips).size !== ips.length) problems.push(`GET /vips lists an address twice: ${ips.join(",")}`);
    for (const [key, held] of byIdentity) {
      if (held.length !== 1) problems.push(`${key} holds ${held.length} leases: ${held.map((l) => l.ip).join(",")}`);
      const live = view.get(key);
      for (const lease of held) {
        if (live && (lease.state !== "bound" || live.vips !== lease.ip)) {
          problems.push(`${key} is live with VIP ${live.vips}, its lease ${lease.ip} is ${lease.state}`);
        }
        if (!live && lease.state === "bound") problems.push(`${key} is not live, but its lease ${lease.ip} is bound`);
      }
    }
    for (const [key, state] of view) {
      if (!byIdentity.has(key)) problems.push(`${key} is live with VIPs "${state.vips}" but holds no lease`);
    }
    return problems;
  }
}
