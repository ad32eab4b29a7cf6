// The top self-time functions of a V8 .cpuprofile (what `node --cpu-prof` writes): self time is the
// sum of the sampling intervals whose sample landed in the function itself, not in a callee.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { REPO_ROOT } from "./config.js";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: number[];
  readonly timeDeltas: number[];
}

export interface SelfTime {
  readonly name: string;
  readonly location: string;
  readonly ms: number;
  /** Of the busy time: every sample except "(idle)". */
  readonly share: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly wallMs: number;
  readonly busyMs: number;
  readonly top: SelfTime[];
}

export function summarizeProfile(file: string, limit = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, { name: string; location: string; micros: number }>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the interval before sample i; it is charged to the sample that ends it.
    const micros = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) return;
    const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
    if (name !== "(idle)") busy += micros;
    const location = frame.url === "" ? "" : `${shorten(frame.url)}:${frame.lineNumber + 1}`;
    const key = `${name} ${location}`;
    const entry = totals.get(key) ?? { name, location, micros: 0 };
    entry.micros += micros;
    totals.set(key, entry);
  });
  const top = [...totals.values()]
    .filter((entry) => entry.name !== "(idle)")
    .sort((a, b) => b.micros - a.micros)
    .slice(0, limit)
    .map((entry) => ({
      name: entry.name,
      location: entry.location,
      ms: entry.micros / 1000,
      share: busy > 0 ? entry.micros / busy : 0,
    }));
  return { file, wallMs: (profile.endTime - profile.startTime) / 1000, busyMs: busy / 1000, top };
}

function shorten(url: string): string {
  const path = url.startsWith("file://") ? url.slice("file://".length) : url;
  if (path.startsWith(REPO_ROOT)) return path.slice(REPO_ROOT.length);
  const modules = path.lastIndexOf("node_modules/");
  return modules >= 0 ? path.slice(modules) : path;
}

/** The .cpuprofile files at `path`: the file itself, or every one in the directory. */
export function profileFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => name.endsWith(".cpuprofile"))
    .sort()
    .map((name) => join(path, name));
}

export function formatSummary(summary: ProfileSummary): string {
  const lines = [
    `${basename(summary.file)}: ${(summary.wallMs / 1000).toFixed(1)} s profiled, ${(summary.busyMs / 1000).toFixed(1)} s busy`,
    "  self ms   busy%  function (location)",
  ];
  for (const entry of summary.top) {
    lines.push(
      `  ${entry.ms.toFixed(0).padStart(7)}  ${(entry.share * 100).toFixed(1).padStart(5)}%  ${entry.name}${entry.location === "" ? "" : ` (${entry.location})`}`,
    );
  }
  return lines.join("\n");
}
