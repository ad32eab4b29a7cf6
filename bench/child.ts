// Child processes for the benchmark: the Mooring bins (readiness from the "listening" log line, as
// in test/helpers/process.ts) and etcd. Unlike the test helper, Node options can be put before the
// bin (`--cpu-prof` is not allowed in NODE_OPTIONS), log lines can be observed as they arrive (for
// propagation timing), and the peak RSS is read from /proc before the process is stopped.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export type LogLine = Record<string, unknown>;

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ChildOptions {
  /** For error messages: "global", "zone-3", "etcd". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  /** Calls `listener` for every stdout line that parses as a JSON object, from now on; returns the unsubscribe. */
  onLog(listener: (line: LogLine) => void): () => void;
  /** The first line, already seen or still to come, that matches; rejects on timeout or exit. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Forgets the lines seen so far (a long run would otherwise keep every one). */
  clearLog(): void;
  /** VmHWM and VmRSS from /proc/<pid>/status, in bytes. */
  memory(): { peakRss: number; rss: number };
  /** CPU time used so far (user + system, all threads), from /proc/<pid>/stat. */
  cpuMs(): number;
  /** The tail of stdout and stderr, for error messages. */
  describe(): string;
  /** SIGTERM (a clean exit writes `--cpu-prof` profiles), SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
  kill9(): Promise<ExitStatus>;
}

const live = new Set<ChildProcess>();

/** SIGKILLs every child still running: the last resort of a failed run. */
export function killAllChildren(): void {
  for (const child of live) child.kill("SIGKILL");
}

export function startChild(options: ChildOptions): Child {
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${options.name}: could not spawn ${options.command}`);
  const pid = child.pid;
  live.add(child);
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });

  let lines: LogLine[] = [];
  let stdoutTail = "";
  let stderrTail = "";
  let pending = "";
  let ended: string | undefined;
  const listeners = new Set<(line: LogLine) => void>();
  const failures = new Set<(reason: string) => void>();

  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4000);
  });
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    stdoutTail = (stdoutTail + chunk).slice(-4000);
    pending += chunk;
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const text = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
      if (!text.startsWith("{")) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        continue;
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) continue;
      const line = parsed as LogLine;
      lines.push(line);
      for (const listener of [...listeners]) listener(line);
    }
  });
  child.once("close", (code, signal) => {
    ended = `exited (code ${code}, signal ${signal})`;
    for (const fail of [...failures]) fail(ended);
  });

  const describe = () => `${options.name} (pid ${pid})\n--- stderr ---\n${stderrTail}\n--- stdout ---\n${stdoutTail}`;

  const onLog = (listener: (line: LogLine) => void) => {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  };

  return {
    name: options.name,
    pid,
    exited,
    onLog,
    waitForLog(predicate, timeoutMs = 60_000) {
      const seen = lines.find((line) => safely(predicate, line));
      if (seen) return Promise.resolve(seen);
      if (ended !== undefined) return Promise.reject(new Error(`${options.name} ${ended}: ${describe()}`));
      return new Promise<LogLine>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          off();
          failures.delete(fail);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${options.name}: no matching log line within ${timeoutMs} ms: ${describe()}`));
        }, timeoutMs);
        const off = onLog((line) => {
          if (!safely(predicate, line)) return;
          done();
          resolve(line);
        });
        const fail = (reason: string) => {
          done();
          reject(new Error(`${options.name} ${reason}: ${describe()}`));
        };
        failures.add(fail);
      });
    },
    clearLog() {
      lines = [];
    },
    memory() {
      return readMemory(pid);
    },
    cpuMs() {
      return readCpuMs(pid);
    },
    describe,
    async stop(timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), timeoutMs);
      });
      const outcome = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (outcome !== "late") return outcome;
      child.kill("SIGKILL");
      return exited;
    },
    async kill9() {
      child.kill("SIGKILL");
      return exited;
    },
  };
}

function safely(predicate: (line: LogLine) => boolean, line: LogLine): boolean {
  try {
    return predicate(line);
  } catch {
    return false;
  }
}

/** VmHWM (the peak resident set) and VmRSS of a live process, in bytes. */
export function readMemory(pid: number): { peakRss: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { peakRss: kib("VmHWM") * 1024, rss: kib("VmRSS") * 1024 };
}

let clockTicks: number | undefined;

/** utime + stime of a live process (every thread), in milliseconds. */
export function readCpuMs(pid: number): number {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which is in parentheses and may hold spaces): state is the first,
  // utime the 12th and stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

/** The `time` of a pino line (ISO with milliseconds) as epoch milliseconds. */
export function logTime(line: LogLine): number {
  const time = line.time;
  if (typeof time === "number") return time;
  if (typeof time === "string") return Date.parse(time);
  throw new Error(`log line without a time: ${JSON.stringify(line)}`);
}
