// The results of a run: the JSON document, the targets, and the Markdown tables.
import type { Machine } from "./machine.js";
import type { MemoryResult, PropagationResult } from "./scenarios/propagation.js";
import type { SizeResult, SyncRun } from "./scenarios/sync.js";
import type { InProcessRun, LoadRun, ThroughputResult } from "./scenarios/throughput.js";
import { max, median, ratio } from "./stats.js";

export interface Results {
  readonly profile: "full" | "quick";
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: Machine;
  /** The settings every Mooring process ran with (see MOORING_ENV in config.ts). */
  readonly mooringEnv: Readonly<Record<string, string>>;
  readonly sizes: SizeResult[];
  readonly propagation?: PropagationResult;
  readonly throughput?: ThroughputResult;
  readonly targets: Target[];
  /** Measurements that look suspect (a resume that was not incremental, a count that is off). */
  readonly warnings: string[];
  /** Scenarios that failed; the others still ran. */
  readonly errors: string[];
}

export interface Target {
  readonly name: string;
  readonly measured: string;
  /** Undefined when the run did not measure it. */
  readonly met: boolean | undefined;
}

const KB = 1000;
const MB = 1000 * 1000;

const medianMs = (runs: readonly SyncRun[]) => median(runs.map((run) => run.ms));
const maxWire = (runs: readonly SyncRun[]) => max(runs.map((run) => run.wireBytes));

export function evaluateTargets(
  sizes: readonly SizeResult[],
  propagation: PropagationResult | undefined,
  throughput: ThroughputResult | undefined,
): Target[] {
  const targets: Target[] = [];
  const largest = sizes.at(-1);

  const compared = sizes.filter((size) => size.n >= 10_000 && size.firstSync.mooring.length > 0);
  const firstSyncRatios = compared.map((size) => ({
    n: size.n,
    ratio: ratio(medianMs(size.firstSync.mooring), medianMs(size.firstSync.etcd)),
  }));
  targets.push({
    name: "first sync ≤ 1.0 × etcd",
    measured: firstSyncRatios.map((entry) => `N=${count(entry.n)}: ${times(entry.ratio)}`).join("; ") || "not run",
    met: allMet(firstSyncRatios.map((entry) => entry.ratio <= 1)),
  });

  const resumeAt = (k: number) => largest?.resume.find((entry) => entry.k === k && entry.mooring.length > 0);
  const k100 = resumeAt(100);
  const k100Ratio = k100 ? ratio(medianMs(k100.mooring), medianMs(k100.etcd)) : Number.NaN;
  targets.push({
    name: "resume with k = 100 ≤ 1.0 × etcd",
    measured: k100 && largest ? `N=${count(largest.n)}: ${times(k100Ratio)}` : "not run",
    met: k100 ? known(k100Ratio, k100Ratio <= 1) : undefined,
  });

  const k0 = resumeAt(0);
  const k0Bytes = k0 ? maxWire(k0.mooring) : Number.NaN;
  const k0Ms = k0 ? medianMs(k0.mooring) : Number.NaN;
  targets.push({
    name: `resume with k = 0 at N = 100,000: < 2 KB from the server and < 20 ms`,
    measured: k0 && largest ? `N=${count(largest.n)}: ${bytes(k0Bytes)} on the wire, ${ms(k0Ms)}` : "not run",
    met: k0 ? k0Bytes < 2 * KB && k0Ms < 20 : undefined,
  });

  const fastest = propagation?.rates.find((entry) => entry.rate === 1000)?.mooring;
  targets.push({
    name: `propagation p99 ≤ 50 ms at 1,000 writes/s with 10 zones`,
    measured: fastest && propagation ? `${ms(fastest.p99)} (${propagation.zones} zones)` : "not run",
    met: fastest ? known(fastest.p99, fastest.p99 <= 50) : undefined,
  });

  // Judged against the lean client: with the etcd3 library the client, not etcd, sets the rate.
  const throughputRatio = ratio(
    throughput?.mooring?.perSecond ?? Number.NaN,
    throughput?.etcdLean?.perSecond ?? Number.NaN,
  );
  const libraryRatio = ratio(throughput?.mooring?.perSecond ?? Number.NaN, throughput?.etcd?.perSecond ?? Number.NaN);
  targets.push({
    name: "REST write throughput ≥ 1.5 × etcd puts",
    measured: throughput?.mooring
      ? `${times(throughputRatio)} against etcd with a lean client (${times(libraryRatio)} against the etcd3 library)`
      : "not run",
    met: throughput?.mooring ? known(throughputRatio, throughputRatio >= 1.5) : undefined,
  });

  const memory = propagation?.memory;
  targets.push({
    name: "global RSS ≤ 400 MB at N = 100,000 with 10 zones",
    measured: memory ? `${mb(memory.globalPeakRss)} peak (N=${count(memory.n)}, ${memory.zones} zones)` : "not run",
    met: memory ? memory.globalPeakRss <= 400 * MB : undefined,
  });
  return targets;
}

function allMet(checks: readonly boolean[]): boolean | undefined {
  return checks.length === 0 ? undefined : checks.every(Boolean);
}

/** A comparison with a missing side (NaN) is not a verdict. */
function known(value: number, met: boolean): boolean | undefined {
  return Number.isFinite(value) ? met : undefined;
}

export function count(value: number): string {
  return value.toLocaleString("en-US");
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
}

export function bytes(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value < 10 * KB) return `${count(value)} B`;
  if (value < 10 * MB) return `${(value / KB).toFixed(1)} KB`;
  return `${(value / MB).toFixed(1)} MB`;
}

export function mb(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "–" : `${(value / MB).toFixed(0)} MB`;
}

export function times(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : "–";
}

function verdict(met: boolean | undefined): string {
  if (met === undefined) return "–";
  return met ? "met" : "**not met**";
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export function toMarkdown(results: Results): string {
  const { machine } = results;
  const out: string[] = [];
  out.push(
    `Run: \`npm run bench${results.profile === "quick" ? " -- --quick" : ""}\`, ${results.startedAt}, ${(results.durationSeconds / 60).toFixed(1)} min. ` +
      `Machine: ${machine.cpu}, ${machine.cores} cores, ${(machine.ramBytes / 1024 ** 3).toFixed(0)} GiB RAM, ` +
      `Node ${machine.node}, etcd ${machine.etcd}, ${machine.os}; 1-minute load average ${machine.load.start.toFixed(2)} at the start, ${machine.load.end.toFixed(2)} at the end. ` +
      `Mooring with ${Object.entries(results.mooringEnv)
        .map(([key, value]) => `\`${key}=${value}\``)
        .join(", ")}, \`MOORING_DB_SYNC\` at its default (\`full\`); etcd with its defaults (fsync per commit).`,
  );

  out.push("", "**Targets**", "");
  out.push(
    table(
      ["Target", "Measured", "Result"],
      results.targets.map((target) => [target.name, target.measured, verdict(target.met)]),
    ),
  );

  const sized = results.sizes.filter((size) => size.firstSync.mooring.length > 0);
  if (sized.length > 0) {
    out.push(
      "",
      "**First sync** (median of runs; a new zone process until its snapshot is committed, vs a new process reading a prefix range and opening a watch)",
      "",
    );
    out.push(
      table(
        [
          "N",
          "Mooring",
          "etcd",
          "Mooring / etcd",
          "Mooring from the server",
          "etcd from the server",
          "Mooring incl. process start",
        ],
        sized.map((size) => {
          const mooring = size.firstSync.mooring;
          const etcd = size.firstSync.etcd;
          return [
            count(size.n),
            ms(medianMs(mooring)),
            ms(medianMs(etcd)),
            times(ratio(medianMs(mooring), medianMs(etcd))),
            bytes(maxWire(mooring)),
            bytes(maxWire(etcd)),
            ms(median(mooring.map((run) => run.processMs ?? Number.NaN))),
          ];
        }),
      ),
    );
  }

  const resumes = results.sizes.flatMap((size) =>
    size.resume.filter((entry) => entry.mooring.length > 0).map((entry) => ({ n: size.n, ...entry })),
  );
  if (resumes.length > 0) {
    out.push(
      "",
      "**Resume** (median of runs; a running zone reconnects after k changes, from its new connection until it has applied the head, vs a new client resuming a watch from the last revision; bytes from the server on the wire, and by `mooring_global_sync_bytes_sent_total`)",
      "",
    );
    out.push(
      table(
        [
          "N",
          "k",
          "Mooring",
          "etcd",
          "Mooring / etcd",
          "Mooring on the wire",
          "Mooring by the metric",
          "etcd on the wire",
        ],
        resumes.map((entry) => [
          count(entry.n),
          count(entry.k),
          ms(medianMs(entry.mooring)),
          ms(medianMs(entry.etcd)),
          times(ratio(medianMs(entry.mooring), medianMs(entry.etcd))),
          bytes(maxWire(entry.mooring)),
          bytes(max(entry.mooring.map((run) => run.metricBytes ?? Number.NaN))),
          bytes(maxWire(entry.etcd)),
        ]),
      ),
    );
  }

  const propagation = results.propagation;
  if (propagation) {
    out.push(
      "",
      `**Propagation** (${propagation.zones} zones / watchers, N = ${count(propagation.n)}, ${propagation.seconds} s per rate after ${propagation.warmupSeconds} s of warm-up; from the write's response to applied in every zone / seen by every watcher)`,
      "",
    );
    const triple = (summary: { p50: number; p99: number; max: number } | undefined) =>
      summary ? `${ms(summary.p50)} / ${ms(summary.p99)} / ${ms(summary.max)}` : "–";
    out.push(
      table(
        [
          "writes/s",
          "Mooring p50 / p99 / max",
          "etcd p50 / p99 / max",
          "p99 Mooring / etcd",
          "Mooring REST write p50 / p99",
          "achieved Mooring / etcd",
          "lost Mooring / etcd",
        ],
        propagation.rates.map((entry) => [
          count(entry.rate),
          triple(entry.mooring),
          triple(entry.etcd),
          times(ratio(entry.mooring?.p99 ?? Number.NaN, entry.etcd?.p99 ?? Number.NaN)),
          entry.mooring ? `${ms(entry.mooring.writeP50)} / ${ms(entry.mooring.writeP99)}` : "–",
          `${rate(entry.mooring?.achievedPerSecond)} / ${rate(entry.etcd?.achievedPerSecond)}`,
          `${entry.mooring?.lost ?? "–"} / ${entry.etcd?.lost ?? "–"}`,
        ]),
      ),
    );
  }

  const throughput = results.throughput;
  if (throughput) {
    out.push(
      "",
      `**Write throughput** (${throughput.concurrency} in flight, ${throughput.seconds} s after 1 s of warm-up; Mooring: REST PUTs creating services, VIP leased, durable; etcd: puts of new keys, each client against a new etcd. CPU in cores, over the run: the server's, every thread, and the load generator's, this process)`,
      "",
    );
    const mooring = throughput.mooring?.perSecond ?? Number.NaN;
    const cpu = (run: LoadRun | InProcessRun) =>
      `${run.serverCores.toFixed(2)} / ${"clientCores" in run ? run.clientCores.toFixed(2) : "(same process)"}`;
    const row = (name: string, run: LoadRun | InProcessRun | undefined, versus: boolean) => [
      name,
      rate(run?.perSecond),
      versus ? times(ratio(mooring, run?.perSecond ?? Number.NaN)) : "",
      run ? cpu(run) : "–",
      run && run.perSecond > 0 ? `${((run.serverCores / run.perSecond) * 1e6).toFixed(0)} µs` : "–",
      `${run?.failed ?? "–"}`,
    ];
    out.push(
      table(
        ["system and client", "writes/s", "Mooring / this", "CPU server / client", "server CPU per write", "failed"],
        [
          row("Mooring, REST (`MOORING_DB_SYNC=full`, the default)", throughput.mooring, false),
          row("Mooring, REST, `MOORING_DB_SYNC=normal`", throughput.mooringDbSyncNormal, false),
          row("etcd, lean client (etcd-lean.ts)", throughput.etcdLean, true),
          row("etcd, etcd3 library", throughput.etcd, true),
          row("reference: node:http answering without work (http-floor.ts)", throughput.httpFloor, false),
          row("reference: Mooring's write path without HTTP, one process", throughput.writePath, false),
        ],
      ),
    );
  }

  const memory: MemoryResult | undefined = propagation?.memory;
  if (memory) {
    out.push(
      "",
      `**Memory** (peak RSS, VmHWM, after the propagation phases: N = ${count(memory.n)}, ${memory.zones} zones)`,
      "",
    );
    out.push(
      table(
        ["global", "global now", "zone 1", "largest zone", "etcd (whole run)"],
        [
          [
            mb(memory.globalPeakRss),
            mb(memory.globalRss),
            mb(memory.zonePeakRss),
            mb(memory.zoneMaxPeakRss),
            memory.etcdPeakRss === undefined ? "–" : `${mb(memory.etcdPeakRss)} (${count(memory.etcdKeys ?? 0)} keys)`,
          ],
        ],
      ),
    );
  }
  if (results.warnings.length > 0 || results.errors.length > 0) {
    out.push("", "**Warnings and failures**", "");
    for (const error of results.errors) out.push(`- failed: ${error}`);
    for (const warning of results.warnings) out.push(`- ${warning}`);
  }
  return `${out.join("\n")}\n`;
}

function rate(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "–" : count(Math.round(value));
}
