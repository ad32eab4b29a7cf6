// VIP leases. The rules (DESIGN.md "VIP allocation rules"):
//  1. an identity keeps its VIP forever, unless an operator deletes the lease;
//  2. uniqueness is enforced by SQLite (the address is the primary key; UNIQUE identity+family),
//     not by this code;
//  3. placement never depends on the rest of the set: a per-range cursor only moves forward, and
//     an existing lease is never recomputed;
//  4. release is a tombstone: the lease stays, in quarantine, and comes back on re-create;
//  5. exhaustion is a typed error;
//  6. a pinned address is checked against the lease table and never taken from its holder;
//  7. IPv4 and IPv6, in BigInt;
//  8. every event is written to lease_events with a reason.
// Every method must run inside a store transaction, so the lease commits with the resource.
import { MooringError } from "@mooring/shared";
import type { SqliteStore } from "../store/sqlite-store.js";
import type { LeaseEventKind, LeaseRow, ServiceIdentity } from "../store/types.js";
import { fromBigInt, type IpFamily, ipKey, type ParsedIp, parseIp, rangeOf, type VipRange } from "./cidr.js";

export interface VipAllocatorOptions {
  readonly ranges: readonly VipRange[];
  readonly quarantineMs: number;
  readonly now?: () => number;
  /** Called after each recorded event (metrics). */
  readonly onEvent?: (event: LeaseEventKind, family: IpFamily) => void;
  readonly onExhausted?: (family: IpFamily) => void;
}

export type VipAllocator = ReturnType<typeof createVipAllocator>;

export type AdoptOutcome =
  | { readonly result: "adopted"; readonly lease: LeaseRow }
  | { readonly result: "held" }
  | { readonly result: "refused"; readonly reason: string };

export function identityText(id: ServiceIdentity): string {
  return id.zone === "" ? `${id.mesh}/${id.name}` : `${id.mesh}/${id.zone}/${id.name}`;
}

/** The lease of a parsed address, if any. */
export function leaseAt(store: SqliteStore, address: ParsedIp): LeaseRow | undefined {
  return store.leaseAt(address.family, ipKey(address.value, address.family));
}

export function createVipAllocator(store: SqliteStore, options: VipAllocatorOptions) {
  const now = options.now ?? Date.now;
  const families = [...new Set(options.ranges.map((range) => range.family))].sort();

  function record(event: LeaseEventKind, lease: LeaseRow, reason: string, at: number): void {
    store.recordLeaseEvent(event, lease, reason, at);
    options.onEvent?.(event, lease.family);
  }

  /** The first address in [from, to] that no lease row holds, scanning the occupied run from `from`. */
  function firstGap(range: VipRange, from: bigint, to: bigint): bigint | undefined {
    if (from > to) return undefined;
    // The common case: nothing is leased at `from` (the cursor points past the last allocation).
    const first = store.firstLeaseKeyBetween(range.family, ipKey(from, range.family), ipKey(to, range.family));
    if (first === undefined || BigInt(`0x${first}`) > from) return from;
    let expected = from;
    for (const key of store.leaseKeysBetween(range.family, ipKey(from, range.family), ipKey(to, range.family))) {
      const value = BigInt(`0x${key}`);
      if (value > expected) return expected;
      expected = value + 1n;
      if (expected > to) return undefined;
    }
    return expected;
  }

  function fresh(range: VipRange): bigint | undefined {
    const stored = store.cursor(range.cidr);
    const cursor = stored === undefined ? range.first : BigInt(`0x${stored}`);
    const start = cursor < range.first || cursor > range.last ? range.first : cursor;
    // Forward from the cursor first: addresses freed behind it are reused only after a wrap.
    return firstGap(range, start, range.last) ?? firstGap(range, range.first, start - 1n);
  }

  function take(range: VipRange, value: bigint, id: ServiceIdentity, at: number, reason: string): LeaseRow {
    const lease: LeaseRow = {
      ...id,
      ip: fromBigInt(value, range.family),
      ipKey: ipKey(value, range.family),
      family: range.family,
      state: "bound",
      pinned: false,
      leasedAt: at,
      releasedAt: null,
    };
    store.insertLease(lease);
    const next = value + 1n > range.last ? range.first : value + 1n;
    store.setCursor(range.cidr, ipKey(next, range.family));
    record("allocate", lease, reason, at);
    return lease;
  }

  function allocate(id: ServiceIdentity, family: IpFamily, at: number): LeaseRow {
    const ranges = options.ranges.filter((range) => range.family === family);
    for (const range of ranges) {
      const value = fresh(range);
      if (value !== undefined) return take(range, value, id, at, "new identity");
    }
    // Every address is held. Reuse the one whose quarantine ended longest ago, if any.
    for (const range of ranges) {
      const from = ipKey(range.first, family);
      const to = ipKey(range.last, family);
      const expired = store.oldestReclaimable(family, at - options.quarantineMs, from, to);
      if (expired) {
        store.deleteLease(expired);
        record("reclaim", expired, `quarantine over; reused for ${identityText(id)}`, at);
        return take(
          range,
          BigInt(`0x${expired.ipKey}`),
          id,
          at,
          `new identity (reclaimed from ${identityText(expired)})`,
        );
      }
    }
    options.onExhausted?.(family);
    const cidrs = ranges.map((range) => range.cidr).join(", ");
    throw new MooringError(
      "VIP_EXHAUSTED",
      `no free IPv${family} VIP for ${identityText(id)}: every address in ${cidrs} is leased or in quarantine`,
    );
  }

  return {
    families,

    /**
     * Makes sure `id` holds a bound lease in every configured family: the one it already has (bound,
     * in quarantine, or pinned ahead of time) or a new one. Returns whether anything changed, and the
     * bound addresses of the configured families in family order.
     */
    bind(id: ServiceIdentity): { changed: boolean; bound: string[] } {
      const at = now();
      let changed = false;
      const bound: string[] = [];
      for (const family of families) {
        const existing = store.leaseOf(id, family);
        if (existing?.state === "bound") {
          bound.push(existing.ip);
          continue;
        }
        changed = true;
        if (existing) {
          store.updateLease(existing, { state: "bound", pinned: existing.pinned, releasedAt: null });
          const why = existing.state === "reserved" ? "pinned address taken by its service" : "re-created; same VIP";
          record("rebind", existing, why, at);
          bound.push(existing.ip);
        } else {
          bound.push(allocate(id, family, at).ip);
        }
      }
      return { changed, bound };
    },

    /** The service is gone: its leases enter quarantine (pinned ones stay reserved for it). */
    release(id: ServiceIdentity, reason: string): void {
      const at = now();
      for (const lease of store.leasesOf(id)) {
        if (lease.state !== "bound") continue;
        store.updateLease(lease, { state: "released", pinned: lease.pinned, releasedAt: at });
        record("release", lease, reason, at);
      }
    },

    /**
     * Reserves `rawIp` for `id`. Never takes an address from another identity, and never moves an
     * identity that already holds a different address in that family.
     */
    pin(rawIp: string, id: ServiceIdentity, serviceExists: boolean): { lease: LeaseRow; created: boolean } {
      const at = now();
      let parsed: ReturnType<typeof parseIp>;
      try {
        parsed = parseIp(rawIp);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new MooringError("VALIDATION_FAILED", `ip: ${reason}`, { details: [{ field: "ip", reason }] });
      }
      const range = rangeOf(options.ranges, parsed);
      if (!range) {
        const reason = `${parsed.ip} is outside the VIP ranges (${options.ranges.map((r) => r.cidr).join(", ")})`;
        throw new MooringError("VIP_OUT_OF_RANGE", reason, { details: [{ field: "ip", reason }] });
      }
      const holder = leaseAt(store, parsed);
      if (holder && identityText(holder) !== identityText(id)) {
        const reason = `${parsed.ip} is leased to ${identityText(holder)} (${holder.state})`;
        throw new MooringError("VIP_CONFLICT", reason, { details: [{ field: "ip", reason }] });
      }
      const current = store.leaseOf(id, parsed.family);
      if (current && current.ip !== parsed.ip) {
        const reason = `${identityText(id)} already holds ${current.ip}; a VIP never changes, so delete that lease first`;
        throw new MooringError("VIP_CONFLICT", reason, { details: [{ field: "ip", reason }] });
      }
      if (current) {
        if (!current.pinned) {
          store.updateLease(current, { state: current.state, pinned: true, releasedAt: current.releasedAt });
          record("pin", current, "operator pinned the address its identity already held", at);
        }
        return { lease: { ...current, pinned: true }, created: false };
      }
      const lease: LeaseRow = {
        ...id,
        ip: parsed.ip,
        ipKey: ipKey(parsed.value, parsed.family),
        family: parsed.family,
        state: serviceExists ? "bound" : "reserved",
        pinned: true,
        leasedAt: at,
        releasedAt: null,
      };
      store.insertLease(lease);
      record(
        "pin",
        lease,
        serviceExists ? "operator pinned an address for a live service" : "operator reserved an address",
        at,
      );
      return { lease, created: true };
    },

    /**
     * Re-adopts an address a zone reports for `id` after this database was replaced, so the VIP
     * survives the loss. Like a pin it never takes an address from another identity and never moves
     * an identity; a refused claim is audited as `adopt-conflict` and returned with its reason.
     */
    adopt(rawIp: string, id: ServiceIdentity, serviceExists: boolean, source: string): AdoptOutcome {
      const at = now();
      let parsed: ReturnType<typeof parseIp>;
      try {
        parsed = parseIp(rawIp);
      } catch (error) {
        return { result: "refused", reason: error instanceof Error ? error.message : String(error) };
      }
      const refuse = (reason: string): AdoptOutcome => {
        const claimed: LeaseRow = {
          ...id,
          ip: parsed.ip,
          ipKey: ipKey(parsed.value, parsed.family),
          family: parsed.family,
          state: "released",
          pinned: false,
          leasedAt: at,
          releasedAt: at,
        };
        record("adopt-conflict", claimed, `${source}: ${reason}`, at);
        return { result: "refused", reason };
      };
      if (!rangeOf(options.ranges, parsed)) return refuse(`${parsed.ip} is outside the VIP ranges`);
      const holder = leaseAt(store, parsed);
      if (holder && identityText(holder) !== identityText(id)) {
        return refuse(`${parsed.ip} is already leased to ${identityText(holder)}; a lease is never stolen`);
      }
      const current = store.leaseOf(id, parsed.family);
      if (current) {
        return current.ip === parsed.ip
          ? { result: "held" }
          : refuse(`${identityText(id)} already holds ${current.ip}`);
      }
      const lease: LeaseRow = {
        ...id,
        ip: parsed.ip,
        ipKey: ipKey(parsed.value, parsed.family),
        family: parsed.family,
        state: serviceExists ? "bound" : "released",
        pinned: false,
        leasedAt: at,
        // Not live here yet: quarantined from now, so the service gets it back when it returns.
        releasedAt: serviceExists ? null : at,
      };
      store.insertLease(lease);
      record("adopt", lease, `${source}: re-adopted after the database was replaced`, at);
      return { result: "adopted", lease };
    },

    /** Operator removal of a lease that no live service holds. */
    remove(rawIp: string): LeaseRow {
      const at = now();
      let address: ParsedIp | undefined;
      try {
        address = parseIp(rawIp);
      } catch {
        // Not an address, so no lease has it: answered as not found below.
      }
      const lease = address && leaseAt(store, address);
      if (!lease) throw new MooringError("NOT_FOUND", `no lease for ${rawIp}`);
      if (lease.state === "bound") {
        throw new MooringError(
          "LEASE_IN_USE",
          `${lease.ip} is bound to the live service ${identityText(lease)}; delete the service first`,
        );
      }
      store.deleteLease(lease);
      record("delete", lease, "operator deleted the lease", at);
      return lease;
    },

    /** The state an operator sees: quarantine ends `quarantineMs` after release. */
    describe(lease: LeaseRow): {
      state: "bound" | "quarantined" | "reclaimable" | "reserved";
      quarantineEndsAt?: number;
    } {
      if (lease.state === "bound") return { state: "bound" };
      if (lease.state === "reserved" || lease.pinned) return { state: "reserved" };
      const ends = (lease.releasedAt ?? 0) + options.quarantineMs;
      return { state: ends > now() ? "quarantined" : "reclaimable", quarantineEndsAt: ends };
    },
  };
}
