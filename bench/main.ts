// `npm run bench`: every scenario against Mooring and etcd in one run; writes a Markdown table and a
// JSON document of the results. See USAGE in config.ts and the README's "Performance" section.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killAllChildren } from "./child.js";
import { MOORING_ENV, type Options, parseArgs, UsageRequested } from "./config.js";
import type { Context } from "./context.js";
import { type EtcdServer, ensureEtcd, startEtcd } from "./etcd.js";
import { describeMachine, loadNow } from "./machine.js";
import { installNoDelay } from "./no-delay.js";
import { formatSummary, profileFiles, summarizeProfile } from "./profile-summary.js";
import { evaluateTargets, type Results, toMarkdown } from "./report.js";
import { runPropagation } from "./scenarios/propagation.js";
import { runSyncAtSize, type SizeResult } from "./scenarios/sync.js";
import { runThroughput } from "./scenarios/throughput.js";
import { makeTempDir, removeTempDirs } from "./temp.js";

function log(message: string): void {
  const elapsed = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);
  console.log(`[${elapsed}s] ${message}`);
}

const startedAt = performance.now();

async function run(options: Options): Promise<void> {
  installNoDelay();
  const started = new Date();
  const loadAtStart = loadNow();
  // Other work on the machine moves every number; say so rather than hide it.
  if (loadAtStart > 0.5) log(`warning: the 1-minute load average is ${loadAtStart.toFixed(2)} before the run starts`);
  let etcd: EtcdServer | undefined;
  let etcdVersion = "not run";
  if (!options.skipEtcd) {
    const installed = ensureEtcd(log);
    etcdVersion = installed.version;
    etcd = await startEtcd(installed.bin);
    log(`etcd ${etcdVersion} listening on ${etcd.address}`);
  }
  if (options.cpuProfDir !== undefined) {
    mkdirSync(options.cpuProfDir, { recursive: true });
    log(`Mooring processes write CPU profiles to ${options.cpuProfDir}`);
  }
  const warnings: string[] = [];
  const ctx: Context = {
    options,
    etcd,
    cacheDir: makeTempDir("mooring-bench-seed-"),
    log,
    warn(message) {
      warnings.push(message);
      log(`warning: ${message}`);
    },
    profile: (label) => (options.cpuProfDir === undefined ? undefined : { dir: options.cpuProfDir, label }),
  };

  try {
    const sizes: SizeResult[] = [];
    const errors: string[] = [];
    // A scenario that fails is reported and the run goes on: one failure should not cost the rest.
    const attempt = async <T>(what: string, scenario: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await scenario();
      } catch (error) {
        const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
        errors.push(message);
        log(`FAILED ${message}`);
        return undefined;
      }
    };
    const { only, profile } = options;
    if (only.has("first-sync") || only.has("resume")) {
      for (const n of profile.sizes) {
        log(`first sync and resume, N = ${n}`);
        const which = { firstSync: only.has("first-sync"), resume: only.has("resume") };
        const size = await attempt(`first sync and resume at N = ${n}`, () => runSyncAtSize(ctx, n, which));
        if (size) sizes.push(size);
      }
    }
    let propagation: Results["propagation"];
    if (only.has("propagation")) {
      log(`propagation and memory: ${profile.propagation.zones} zones, N = ${profile.propagation.n}`);
      propagation = await attempt("propagation", () => runPropagation(ctx));
    }
    let throughput: Results["throughput"];
    if (only.has("throughput")) {
      log(`write throughput, ${profile.throughput.concurrency} in flight`);
      throughput = await attempt("throughput", () => runThroughput(ctx));
    }

    const results: Results = {
      profile: profile.name,
      startedAt: started.toISOString(),
      durationSeconds: (Date.now() - started.getTime()) / 1000,
      machine: describeMachine(etcdVersion, loadAtStart),
      mooringEnv: MOORING_ENV,
      sizes,
      ...(propagation ? { propagation } : {}),
      ...(throughput ? { throughput } : {}),
      targets: evaluateTargets(sizes, propagation, throughput),
      warnings,
      errors,
    };
    const markdown = toMarkdown(results);
    const base = options.resultsName;
    mkdirSync(options.outDir, { recursive: true });
    writeFileSync(join(options.outDir, `${base}.json`), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(options.outDir, `${base}.md`), markdown);
    console.log(`\n${markdown}`);
    log(`wrote ${join(options.outDir, `${base}.md`)} and ${base}.json`);
  } finally {
    await etcd?.stop();
    removeTempDirs();
  }

  if (options.cpuProfDir !== undefined) {
    const summaries = profileFiles(options.cpuProfDir).map((file) => formatSummary(summarizeProfile(file, 12)));
    writeFileSync(join(options.cpuProfDir, "summary.txt"), `${summaries.join("\n\n")}\n`);
    console.log(`\nCPU profiles (top self time), also in ${join(options.cpuProfDir, "summary.txt")}:\n`);
    console.log(summaries.join("\n\n"));
  }
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageRequested) {
      console.log(error.message);
      return;
    }
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
    return;
  }
  if (options.summarize.length > 0) {
    for (const path of options.summarize) {
      for (const file of profileFiles(path)) console.log(`${formatSummary(summarizeProfile(file, 25))}\n`);
    }
    return;
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killAllChildren();
      removeTempDirs();
      process.exit(130);
    });
  }
  try {
    await run(options);
  } catch (error) {
    killAllChildren();
    removeTempDirs();
    console.error(error);
    process.exitCode = 1;
  }
}

await main();
