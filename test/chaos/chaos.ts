// The chaos run: rounds of random faults (seeded) with writes between them, on a real global and
// three real zones. After each round everything is healed, and once the deployment has settled the
// promises are checked: every zone sees what the global sees, no VIP ever moved, no address is held
// by two identities, no acknowledged write is lost, every zone is online with lag 0, and no session
// after a zone's first was a full resync or a reconcile.
import { type LeaseJson, listAll, requestJson } from "../helpers/http.js";
import { differences, servicesOf, waitUntil } from "../helpers/sync.js";
import { Cluster, HEARTBEAT_MS, ZONES, type ZoneName, type ZoneSlot } from "./cluster.js";
import { contentOf, type Expected, type Key, LABEL, Ledger, type ListedService } from "./ledger.js";
import { createRandom } from "./random.js";

export const FAULT_KINDS = ["zone-kill", "global-kill", "cut", "blackhole", "refuse", "delay"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const WRITE_KINDS = ["global-put", "global-noop", "global-delete", "zone-put", "zone-noop", "zone-delete"] as const;
type WriteKind = (typeof WRITE_KINDS)[number];

const CHECK_KINDS = [
  "views-equal",
  "vips-stable",
  "final-state",
  "leases",
  "zones-online",
  "sessions",
  "blackhole-offline",
  "mid-round-vips",
] as const;
type CheckKind = (typeof CHECK_KINDS)[number];

/** Small key spaces, so deletes and re-creates of the same identity (inside quarantine) are common. */
const GLOBAL_NAMES = Array.from({ length: 10 }, (_, i) => `g-${i}`);
/** `g-0` on a zone is another identity than the global's `g-0`. */
const ZONE_NAMES = [...Array.from({ length: 6 }, (_, i) => `z-${i}`), "g-0"];

/** A black-hole lasts at least 5 heartbeats: longer than the 3 that mark a zone offline. */
const BLACKHOLE_MIN_MS = 5 * HEARTBEAT_MS;

export interface ChaosOptions {
  readonly rounds: number;
  readonly seed: number;
  /** How long one settle may take before the round fails. */
  readonly settleTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface ChaosSummary {
  readonly seed: number;
  rounds: number;
  readonly faults: Record<FaultKind, number>;
  /** Black-holes healed without a cut: the connection opened during one ends by the zone's Welcome timeout. */
  blackholesHealedWithoutCut: number;
  /** Of the kills, the ones that were a SIGTERM (graceful stop) instead of a kill -9. */
  gracefulStops: number;
  /** Writes that got a 2xx, and the DELETEs of absent keys that got their 404. */
  readonly writes: Record<WriteKind, number>;
  deletesOfAbsent: number;
  /** Writes cut short by a kill -9 (no answer): either outcome is accepted, then held to. */
  writesInterrupted: number;
  /** Of those, the ones found to have taken effect. */
  interruptedTookEffect: number;
  /** Writes sent while others were in flight (bursts, and the writes a kill lands among). */
  concurrentWrites: number;
  /** Zone writes made while the zone was cut off from the global (link down or global down). */
  zoneWritesWhileDisconnected: number;
  readonly checks: Record<CheckKind, number>;
  settleMs: number[];
  durationMs: number;
  identities: number;
}

export class ChaosFailure extends Error {
  override readonly name = "ChaosFailure";
}

const countsOf = <K extends string>(keys: readonly K[]) =>
  Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ZoneJson {
  readonly name: string;
  readonly online: boolean;
  readonly lag: number;
  readonly sessions: { full: number; incremental: number; reconcile: number };
}

interface ZoneSyncJson {
  readonly state: string;
  readonly sessions: { full: number; incremental: number; reconcile: number };
  readonly upstream: { pending: number; acked: number };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const log = options.log ?? (() => {});
  const settleTimeoutMs = options.settleTimeoutMs ?? 90_000;
  const rng = createRandom(options.seed);
  const ledger = new Ledger();
  const summary: ChaosSummary = {
    seed: options.seed,
    rounds: 0,
    faults: countsOf(FAULT_KINDS),
    blackholesHealedWithoutCut: 0,
    gracefulStops: 0,
    writes: countsOf(WRITE_KINDS),
    deletesOfAbsent: 0,
    writesInterrupted: 0,
    interruptedTookEffect: 0,
    concurrentWrites: 0,
    zoneWritesWhileDisconnected: 0,
    checks: countsOf(CHECK_KINDS),
    settleMs: [],
    durationMs: 0,
    identities: 0,
  };
  const started = Date.now();
  let round = 0;
  let seq = 0;
  /** What happened this round, for the failure message. */
  let trace: string[] = [];

  const fail = (what: string, problems: readonly string[] = []): never => {
    throw new ChaosFailure(
      `round ${round} (seed ${options.seed}): ${what}${problems.length ? `\n  ${problems.slice(0, 30).join("\n  ")}` : ""}\n  this round: ${trace.join("; ")}`,
    );
  };

  const cluster = await Cluster.start();
  try {
    const globalHttp = () => cluster.global?.http ?? fail("the global is not running");

    // ------------------------------------------------------------------------------------------
    // Writes: each one's status is exact (the ledger knows whether the key exists), and each 2xx is
    // recorded as the key's expected final state. A write cut short by a kill -9 (no answer) may or
    // may not have happened: its key is uncertain until the next check reads which it was.

    interface WritePlan {
      readonly target: "global" | ZoneSlot;
      readonly key: Key;
      readonly url: string;
      readonly op: "put" | "noop" | "delete";
      readonly before: Expected | undefined;
      readonly seq: number;
    }

    /** Draws a write on `only` (or any running target), on a key no other write in flight holds. */
    const plan = (busy: Set<Key>, only?: "global" | ZoneSlot): WritePlan | undefined => {
      const targets: Array<"global" | ZoneSlot> = only
        ? [only]
        : [...(cluster.global ? ["global" as const] : []), ...cluster.liveZones()];
      if (targets.length === 0) return undefined;
      const target = rng.pick(targets);
      const onGlobal = target === "global";
      const names = (onGlobal ? GLOBAL_NAMES : ZONE_NAMES).filter((name) => {
        const key = onGlobal ? `/${name}` : `${target.name}/${name}`;
        return !busy.has(key) && !ledger.isUncertain(key);
      });
      if (names.length === 0) return undefined;
      const name = rng.pick(names);
      const key: Key = onGlobal ? `/${name}` : `${target.name}/${name}`;
      busy.add(key);
      const base = onGlobal ? globalHttp() : (target.process?.http ?? fail(`${target.name} is not running`));
      const before = ledger.expected(key);
      const live = before !== undefined && before !== "deleted";
      const op = live
        ? rng.weighted([
            ["put", 6],
            ["noop", 1],
            ["delete", 3],
          ] as const)
        : rng.weighted([
            ["put", 8],
            ["delete", 1],
          ] as const);
      const writeSeq = op === "noop" && live ? before.seq : op === "put" ? ++seq : 0;
      return { target, key, url: `${base}/meshes/default/meshservices/${name}`, op, before, seq: writeSeq };
    };

    /** Sends a planned write. `mayBreak`: a kill is on its way, so no answer at all is no failure. */
    const perform = async (write: WritePlan, mayBreak = false): Promise<void> => {
      const { target, key, url, op, before } = write;
      const live = before !== undefined && before !== "deleted";
      const side = target === "global" ? "global" : "zone";
      const disconnected = target !== "global" && cluster.isDisconnected(target.name);
      const content = contentOf(write.seq);
      const attempted: Expected = op === "delete" ? "deleted" : { seq: write.seq, port: content.port };
      let response: { status: number; body: unknown };
      try {
        response =
          op === "delete"
            ? await requestJson("DELETE", url)
            : await requestJson("PUT", url, {
                labels: { [LABEL]: content.label },
                spec: { ports: [{ port: content.port }] },
              });
      } catch (error) {
        if (!mayBreak) return fail(`${op} ${key} got no answer: ${String(error)}`);
        trace.push(`${op === "delete" ? "DELETE" : "PUT"} ${key} interrupted`);
        ledger.uncertain(key, [before ?? "deleted", attempted]);
        summary.writesInterrupted += 1;
        return;
      }
      const want = op === "delete" ? (live ? 200 : 404) : live ? 200 : 201;
      trace.push(
        `${op === "delete" ? "DELETE" : "PUT"} ${key}${op === "delete" ? "" : ` ${content.label}`} ${response.status}`,
      );
      if (response.status !== want) {
        fail(`${op} ${key} answered ${response.status}, expected ${want}: ${JSON.stringify(response.body)}`);
      }
      if (op === "delete" && !live) {
        summary.deletesOfAbsent += 1;
        return;
      }
      ledger.ack(key, attempted);
      summary.writes[`${side}-${op}`] += 1;
      if (disconnected) summary.zoneWritesWhileDisconnected += 1;
      if (op === "delete") return;
      const vips = (response.body as ListedService).status.vips.map((vip) => vip.ip).join(",");
      const problems = ledger.observe(`PUT ${key} response`, key, vips);
      if (problems.length) fail("a PUT answered with another VIP", problems);
    };

    /** `count` writes, one after another or (half the time) all at once on distinct keys. */
    const writes = async (count: number): Promise<void> => {
      const busy = new Set<Key>();
      if (count > 1 && rng.chance(0.5)) {
        const plans = Array.from({ length: count }, () => plan(busy)).filter((p) => p !== undefined);
        summary.concurrentWrites += plans.length;
        await Promise.all(plans.map((p) => perform(p)));
        return;
      }
      for (let i = 0; i < count; i++) {
        const next = plan(busy);
        if (next) await perform(next);
      }
    };

    /** A burst of writes on `target` with a kill of it landing among them. */
    const killDuringWrites = async (target: "global" | ZoneSlot, kill: () => Promise<void>): Promise<void> => {
      const busy = new Set<Key>();
      const plans = Array.from({ length: rng.between(2, 6) }, () => plan(busy, target)).filter((p) => p !== undefined);
      const delayMs = rng.between(0, 60);
      summary.concurrentWrites += plans.length;
      const inFlight = plans.map((p) => perform(p, true));
      await sleep(delayMs);
      await kill();
      await Promise.all(inFlight);
    };

    // ------------------------------------------------------------------------------------------
    // Faults.

    const available = (kind: FaultKind): boolean => {
      if (kind === "global-kill") return cluster.global !== undefined;
      if (kind === "zone-kill") return cluster.liveZones().length > 0;
      return true;
    };

    const inject = async (kind: FaultKind): Promise<void> => {
      summary.faults[kind] += 1;
      if (kind === "global-kill" || kind === "zone-kill") {
        const slot = kind === "zone-kill" ? rng.pick(cluster.liveZones()) : undefined;
        const restartNow = rng.chance(0.5);
        const mayWrite = rng.chance(0.5);
        // Now and then a SIGTERM instead: the Goodbye and shutdown paths, under the same checks. Not
        // among writes: a request in flight at SIGTERM keeps the global up for fastify's 72 s
        // keep-alive timeout (test/chaos/sigterm-keep-alive.test.ts).
        const graceful = rng.chance(0.2);
        if (graceful) summary.gracefulStops += 1;
        const duringWrites = mayWrite && !graceful;
        trace.push(
          `${graceful ? "SIGTERM" : "kill -9"} ${slot?.name ?? "global"}${duringWrites ? " during writes" : ""}${restartNow ? " + restart" : ""}`,
        );
        const stop = () => (slot ? cluster.killZone(slot.name, graceful) : cluster.killGlobal(graceful));
        if (duringWrites) await killDuringWrites(slot ?? "global", stop);
        else await stop();
        if (restartNow) await (slot ? cluster.startZone(slot.name) : cluster.startGlobal());
        return;
      }
      const name: ZoneName = rng.pick(ZONES);
      const slot = cluster.zone(name);
      switch (kind) {
        case "cut":
          trace.push(`cut ${name}`);
          slot.proxy.cut();
          return;
        case "blackhole":
          trace.push(`blackhole ${name}`);
          cluster.setMode(name, "blackhole");
          return;
        case "refuse":
          trace.push(`refuse ${name}`);
          cluster.setMode(name, "refuse");
          slot.proxy.cut();
          return;
        case "delay": {
          const ms = rng.between(20, 250);
          trace.push(`delay ${name} ${ms}ms`);
          cluster.setDelay(name, ms);
          return;
        }
      }
    };

    /** Every running process's view, unsettled: a stale view is fine, a VIP that moved is not. */
    const observeAll = async (): Promise<void> => {
      const views: Array<[string, string]> = [
        ...(cluster.global ? [["global", cluster.global.http] as [string, string]] : []),
        ...cluster.liveZones().map((slot) => [slot.name, slot.process?.http ?? ""] as [string, string]),
      ];
      for (const [where, http] of views) {
        const problems = ledger.observeView(`${where} (mid-round)`, await servicesOf(http));
        summary.checks["mid-round-vips"] += 1;
        if (problems.length) fail("a VIP moved while faults were in place", problems);
      }
    };

    // ------------------------------------------------------------------------------------------
    // Heal and settle.

    const heal = async (): Promise<void> => {
      // The global first: a black-holed zone must then be shown offline by a running global.
      if (!cluster.global) await cluster.startGlobal();
      for (const slot of cluster.zones.values()) {
        if (slot.mode !== "blackhole" || slot.blackholedAt === undefined) continue;
        await sleep(Math.max(0, slot.blackholedAt + BLACKHOLE_MIN_MS - Date.now()));
        await waitUntil(
          async () => (await requestJson<ZoneJson>("GET", `${globalHttp()}/zones/${slot.name}`)).body.online === false,
          () =>
            `${slot.name} is still online on the global after ${Date.now() - (slot.blackholedAt ?? 0)} ms of black-hole`,
          30_000,
          100,
        ).catch((error: unknown) => fail(String(error)));
        summary.checks["blackhole-offline"] += 1;
      }
      for (const slot of cluster.zones.values()) {
        const wasBlackholed = slot.mode === "blackhole";
        cluster.setMode(slot.name, "pass");
        cluster.setDelay(slot.name, 0);
        // Without a cut, a connection opened during the black-hole (its HTTP/2 preface lost) is
        // ended by the zone's Welcome timeout; that path is taken now and then on purpose.
        if (wasBlackholed) {
          if (rng.chance(0.75)) slot.proxy.cut();
          else summary.blackholesHealedWithoutCut += 1;
        }
      }
      for (const slot of rng.shuffle([...cluster.zones.values()])) {
        if (!slot.process) await cluster.startZone(slot.name);
      }
    };

    const settle = async (): Promise<void> => {
      const settleStarted = Date.now();
      let waiting: string[] = [];
      await waitUntil(
        async () => {
          waiting = [];
          const global = globalHttp();
          const zones = await listAll<ZoneJson>(global, "/zones");
          for (const name of ZONES) {
            const zone = zones.items.find((item) => item.name === name);
            if (!zone?.online || zone.lag !== 0) waiting.push(`global: ${name} ${JSON.stringify(zone)}`);
          }
          for (const slot of cluster.zones.values()) {
            const status = await requestJson<ZoneSyncJson>("GET", `${slot.process?.http}/sync`);
            if (status.body.state !== "synced" || status.body.upstream.pending !== 0) {
              waiting.push(`${slot.name} /sync: ${JSON.stringify(status.body)}`);
            }
          }
          if (waiting.length) return false;
          const view = await servicesOf(global);
          for (const slot of cluster.zones.values()) {
            const differ = differences(view, await servicesOf(slot.process?.http ?? ""));
            if (differ.length) waiting.push(`${slot.name} differs from the global on ${differ.join(", ")}`);
          }
          return waiting.length === 0;
        },
        () => `the deployment did not settle: ${waiting.join("; ")}; exits: ${cluster.unexpectedExits().join("; ")}`,
        settleTimeoutMs,
        100,
      ).catch((error: unknown) => fail(String(error)));
      summary.settleMs.push(Date.now() - settleStarted);
    };

    const check = async (): Promise<void> => {
      const exits = cluster.unexpectedExits();
      if (exits.length) fail("a process exited on its own", exits);
      const global = globalHttp();

      const view = await servicesOf(global);
      for (const slot of cluster.zones.values()) {
        const zoneView = await servicesOf(slot.process?.http ?? "");
        const differ = differences(view, zoneView);
        summary.checks["views-equal"] += 1;
        if (differ.length) fail(`${slot.name}'s view differs from the global's`, differ);
        const problems = ledger.observeView(slot.name, zoneView);
        summary.checks["vips-stable"] += 1;
        if (problems.length) fail(`a VIP moved on ${slot.name}`, problems);
      }
      const vipProblems = ledger.observeView("global", view);
      const unleased = [...view].filter(([, state]) => state.vips === "").map(([key]) => `${key} has no VIP`);
      summary.checks["vips-stable"] += 1;
      if (vipProblems.length || unleased.length) fail("the global's VIPs", [...vipProblems, ...unleased]);

      const { items } = await listAll<ListedService>(global, "/meshes/default/meshservices");
      summary.checks["final-state"] += 1;
      const undecided = ledger.resolve(items);
      summary.interruptedTookEffect += undecided.tookEffect;
      if (undecided.problems.length) {
        fail("an interrupted write left neither its old nor its new state", undecided.problems);
      }
      const lost = ledger.checkFinalState(items);
      if (lost.length) fail("the global's services are not the acknowledged writes", lost);

      const leases = await listAll<LeaseJson>(global, "/vips");
      summary.checks.leases += 1;
      const leaseProblems = ledger.checkLeases(leases.items, view);
      if (leaseProblems.length) fail("the lease table", leaseProblems);

      const zones = await listAll<ZoneJson>(global, "/zones");
      summary.checks["zones-online"] += 1;
      const offline = ZONES.filter((name) => {
        const zone = zones.items.find((item) => item.name === name);
        return !zone?.online || zone.lag !== 0;
      });
      if (offline.length)
        fail(
          "zones not online with lag 0",
          offline.map((name) => JSON.stringify(zones.items.find((z) => z.name === name))),
        );

      // One full sync per zone ever (its first connect), never a reconcile: the global's database
      // survives kill -9 and the change log is never compacted here.
      summary.checks.sessions += 1;
      const resyncs = zones.items.filter((zone) => zone.sessions.full !== 1 || zone.sessions.reconcile !== 0);
      if (resyncs.length)
        fail(
          "a zone resynced fully or reconciled",
          resyncs.map((zone) => JSON.stringify(zone)),
        );
      for (const slot of cluster.zones.values()) {
        const status = await requestJson<ZoneSyncJson>("GET", `${slot.process?.http}/sync`);
        if (status.body.sessions.reconcile !== 0 || status.body.upstream.pending !== 0) {
          fail(`${slot.name} /sync after settling`, [JSON.stringify(status.body)]);
        }
      }
    };

    // ------------------------------------------------------------------------------------------

    await settle();
    await check();
    // Each round's first fault walks a shuffled list of every kind, so a run of 6 rounds has them all.
    const rotation = rng.shuffle(FAULT_KINDS);
    const playRound = async (): Promise<void> => {
      const roundStarted = Date.now();
      const faults = rng.between(1, 3);
      for (let i = 0; i < faults; i++) {
        await writes(rng.between(0, 3));
        const kind =
          i === 0 ? (rotation[(round - 1) % rotation.length] as FaultKind) : rng.pick(FAULT_KINDS.filter(available));
        await inject(kind);
        await sleep(rng.between(0, 300));
        await writes(rng.between(0, 2));
        await observeAll();
      }
      await writes(rng.between(1, 4));
      await heal();
      await settle();
      await check();
      summary.rounds = round;
      const faultSteps = trace.filter((step) => !/^(PUT|DELETE) /.test(step));
      log(
        `round ${round}/${options.rounds}: ${faultSteps.join(", ")}; ${trace.length - faultSteps.length} writes; settled in ${summary.settleMs.at(-1)} ms; round ${Date.now() - roundStarted} ms`,
      );
    };

    for (round = 1; round <= options.rounds; round++) {
      trace = [];
      await playRound().catch((error: unknown) =>
        error instanceof ChaosFailure
          ? Promise.reject(error)
          : fail(`${error instanceof Error ? error.stack : String(error)}`),
      );
    }
  } finally {
    summary.durationMs = Date.now() - started;
    summary.identities = ledger.identitiesSeen();
    await cluster.close();
    log(formatSummary(summary));
  }
  return summary;
}

export function formatSummary(summary: ChaosSummary): string {
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(", ");
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
  const settle = [...summary.settleMs].sort((a, b) => a - b);
  const at = (q: number) => settle[Math.min(settle.length - 1, Math.floor(q * settle.length))] ?? 0;
  return [
    `chaos: seed ${summary.seed}, ${summary.rounds} rounds in ${(summary.durationMs / 1000).toFixed(1)} s`,
    `  faults (${total(summary.faults)}): ${list(summary.faults)}; kills that were a SIGTERM instead: ${summary.gracefulStops}; black-holes healed without a cut: ${summary.blackholesHealedWithoutCut}`,
    `  acknowledged writes (${total(summary.writes)}): ${list(summary.writes)}; zone writes while disconnected ${summary.zoneWritesWhileDisconnected}, concurrent ${summary.concurrentWrites}; interrupted by a kill (either outcome accepted) ${summary.writesInterrupted}, of which took effect ${summary.interruptedTookEffect}; DELETEs of absent keys (404): ${summary.deletesOfAbsent}`,
    `  checks (${total(summary.checks)}): ${list(summary.checks)}; identities leased: ${summary.identities}`,
    `  settle after heal: p50 ${at(0.5)} ms, max ${settle.at(-1) ?? 0} ms`,
  ].join("\n");
}
