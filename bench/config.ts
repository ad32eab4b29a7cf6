// What a run measures: the full profile (`npm run bench`) and the quick one (`-- --quick`), the
// command line, and the one place that sets the environment of every Mooring process.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root; the compiled file is bench/dist/bench/config.js. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const GLOBAL_BIN = resolve(REPO_ROOT, "global/bin/mooring-global.js");
export const ZONE_BIN = resolve(REPO_ROOT, "zone/bin/mooring-zone.js");
export const RESULTS_DIR = resolve(REPO_ROOT, "bench/results");

/**
 * Settings every Mooring process of the benchmark gets, on top of its addresses and data dir.
 * Authentication is being added; until the benchmark carries credentials it runs with auth off.
 * MOORING_DB_SYNC stays at its default (`full`: every commit survives power loss), like etcd's fsync.
 */
export const MOORING_ENV: Readonly<Record<string, string>> = {
  MOORING_AUTH: "off",
  MOORING_LOG_LEVEL: "info",
};

/** Zones also serve DNS (UDP and TCP on one port): many zones on one machine need a port each. */
export const ZONE_ENV: Readonly<Record<string, string>> = {
  MOORING_DNS_ADDR: "127.0.0.1:0",
};

export const SCENARIOS = ["first-sync", "resume", "propagation", "throughput"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Profile {
  readonly name: "full" | "quick";
  /** Data-set sizes for first sync and resume (the scaling table); the largest is "the" N. */
  readonly sizes: readonly number[];
  readonly firstSyncRuns: (n: number) => number;
  /** Changes made while disconnected, per data-set size. */
  readonly resumeChanges: (n: number) => readonly number[];
  readonly resumeRuns: (k: number) => number;
  /** Propagation and memory: data-set size, zones, write rates and how long each rate is held. */
  readonly propagation: {
    readonly n: number;
    readonly zones: number;
    readonly rates: readonly number[];
    readonly seconds: number;
  };
  readonly throughput: { readonly concurrency: number; readonly seconds: number };
}

export const FULL: Profile = {
  name: "full",
  sizes: [1000, 10_000, 100_000],
  firstSyncRuns: (n) => (n >= 100_000 ? 5 : 9),
  resumeChanges: (n) => (n >= 100_000 ? [0, 100, 10_000] : [0, 100]),
  resumeRuns: (k) => (k >= 10_000 ? 2 : 5),
  propagation: { n: 100_000, zones: 10, rates: [200, 1000], seconds: 30 },
  throughput: { concurrency: 64, seconds: 10 },
};

export const QUICK: Profile = {
  name: "quick",
  sizes: [1000, 10_000],
  firstSyncRuns: () => 2,
  resumeChanges: (n) => (n >= 10_000 ? [0, 100, 1000] : [0, 100]),
  resumeRuns: () => 2,
  propagation: { n: 1000, zones: 10, rates: [200, 1000], seconds: 2 },
  throughput: { concurrency: 64, seconds: 2 },
};

export interface Options {
  readonly profile: Profile;
  readonly only: ReadonlySet<ScenarioName>;
  /** Where Mooring processes write `--cpu-prof` profiles; undefined for no profiling. */
  readonly cpuProfDir: string | undefined;
  /** Skip etcd (Mooring only): for profiling runs. */
  readonly skipEtcd: boolean;
  /** Print the top self-time functions of these .cpuprofile files (or directories) and exit. */
  readonly summarize: readonly string[];
  readonly outDir: string;
  /**
   * The results' file name without extension: `latest` for a whole full run, `latest-quick` for a
   * whole quick one, and a dated `partial-*` name for anything narrower (--only, --sizes, --runs,
   * --no-etcd, --cpu-prof), so a profiling run never replaces the published results.
   */
  readonly resultsName: string;
}

export const USAGE = `usage: npm run bench -- [options]

  --quick               small data sets and short phases (under 2 minutes)
  --only <a,b>          run only these scenarios: ${SCENARIOS.join(", ")}
  --cpu-prof[=<dir>]    start Mooring's global and zones with --cpu-prof --cpu-prof-dir=<dir>
                        (default bench/results/profiles/<timestamp>) and summarise the profiles
  --no-etcd             measure Mooring only (with --cpu-prof, to keep the machine to Mooring)
  --sizes <n,n>         data-set sizes for first sync and resume instead of the profile's
  --runs <n>            runs per first-sync and resume measurement instead of the profile's
  --out <dir>           where latest.md and latest.json go (default bench/results)
  --summarize <path>    print the top self-time functions of a .cpuprofile (or of every one in a
                        directory) and exit`;

export function parseArgs(argv: readonly string[]): Options {
  let profile = FULL;
  let only = new Set<ScenarioName>(SCENARIOS);
  let cpuProfDir: string | undefined;
  let skipEtcd = false;
  const summarize: string[] = [];
  let outDir = RESULTS_DIR;
  let sizes: number[] | undefined;
  let runs: number | undefined;
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return next;
    };
    if (arg === "--quick") profile = QUICK;
    else if (arg === "--no-etcd") skipEtcd = true;
    else if (arg === "--cpu-prof") cpuProfDir = resolve(RESULTS_DIR, "profiles", stamp);
    else if (arg.startsWith("--cpu-prof=")) cpuProfDir = resolve(arg.slice("--cpu-prof=".length));
    else if (arg === "--out") outDir = resolve(value());
    else if (arg === "--summarize") summarize.push(resolve(value()));
    else if (arg === "--sizes")
      sizes = value()
        .split(",")
        .map((text) => positiveInteger(arg, text));
    else if (arg === "--runs") runs = positiveInteger(arg, value());
    else if (arg === "--only") {
      const names = value().split(",");
      for (const name of names) {
        if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario ${name}\n${USAGE}`);
      }
      only = new Set(names as ScenarioName[]);
    } else if (arg === "--help" || arg === "-h") throw new UsageRequested();
    else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  if (sizes !== undefined || runs !== undefined) {
    const fixedRuns = runs;
    profile = {
      ...profile,
      sizes: sizes ?? profile.sizes,
      ...(fixedRuns === undefined ? {} : { firstSyncRuns: () => fixedRuns, resumeRuns: () => fixedRuns }),
    };
  }
  const whole =
    only.size === SCENARIOS.length &&
    sizes === undefined &&
    runs === undefined &&
    !skipEtcd &&
    cpuProfDir === undefined;
  const resultsName = whole
    ? profile.name === "full"
      ? "latest"
      : "latest-quick"
    : `partial-${profile.name}-${stamp}`;
  return { profile, only, cpuProfDir, skipEtcd, summarize, outDir, resultsName };
}

function positiveInteger(option: string, text: string): number {
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isInteger(value) || value < 1) throw new Error(`${option}: ${text} is not a positive integer\n${USAGE}`);
  return value;
}

export class UsageRequested extends Error {
  constructor() {
    super(USAGE);
  }
}
