// Runs a Mooring bin as a child process, the way an operator would: its own data directory, ports
// picked by the OS, readiness taken from the JSON log line with "msg":"listening". The per-service
// helpers (global-process.ts, zone-process.ts) add the environment and the addresses they expect.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export type LogLine = Record<string, unknown>;

export interface ServiceProcessOptions {
  /** For error messages and `killProcesses(name)`: "mooring-global", "mooring-zone". */
  readonly name: string;
  /** The bin's path; run with this Node (`process.execPath`). */
  readonly bin: string;
  /** The child's whole environment (see `childEnv`). */
  readonly env: NodeJS.ProcessEnv;
  readonly args?: readonly string[];
  /** Only reported in error messages; the bin learns it from `env`. */
  readonly dataDir: string;
  /** How long to wait for the "listening" line; default 20 s. */
  readonly timeoutMs?: number;
}

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly dataDir: string;
  /** The "listening" log line, for the addresses it carries. */
  readonly ready: LogLine;
  /** Milliseconds from spawn to the "listening" line. */
  readonly startupMs: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  stdout(): string;
  stderr(): string;
  /** Every stdout line that parsed as a JSON object. */
  logLines(): LogLine[];
  /**
   * The first log line, already seen or still to come, that matches (a predicate that throws does
   * not match). Rejects after `timeoutMs` (default 10 s), or as soon as the process's output has
   * ended without a match.
   */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGKILL, then the exit status once the process is gone. */
  kill9(): Promise<ExitStatus>;
  /** SIGTERM, then the exit status; SIGKILLs and throws if the process does not exit in time. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

/** Children still running, with the name they were started under, so each helper kills only its own. */
const live = new Map<ChildProcess, string>();
const tempDirs = new Set<string>();

/** A fresh directory under the OS temp dir, removed by `removeTempDirs()`. */
export async function makeTempDir(prefix = "mooring-e2e-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  const dirs = [...tempDirs];
  tempDirs.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

/** SIGKILLs every child started under `name` (every child, without one) that is still running. */
export async function killProcesses(name?: string): Promise<void> {
  const children = [...live].filter(([, started]) => name === undefined || started === name);
  await Promise.all(
    children.map(async ([child]) => {
      const gone = exitOf(child);
      child.kill("SIGKILL");
      await gone;
    }),
  );
}

/** The environment of a child: the parent's, minus any MOORING_* setting that would leak in. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("MOORING_")) env[key] = value;
  }
  return { ...env, ...extra };
}

function exitOf(child: ChildProcess): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    // A child that never started emits "error" and no "exit".
    child.once("error", () => {
      if (child.pid === undefined) resolve({ code: null, signal: null });
    });
  });
}

/** A predicate that throws on a line of another shape (`line.zone.name`) does not match it. */
function matches(predicate: (line: LogLine) => boolean, line: LogLine): boolean {
  try {
    return predicate(line);
  } catch {
    return false;
  }
}

function tail(text: string, max = 4000): string {
  return text.length > max ? `...${text.slice(-max)}` : text;
}

interface Waiter {
  readonly predicate: (line: LogLine) => boolean;
  readonly resolve: (line: LogLine) => void;
  /** The output ended: "exited (code 1, signal null)". */
  readonly fail: (reason: string) => void;
}

export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const { name, dataDir } = options;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const startedAt = performance.now();
  const child = spawn(process.execPath, [options.bin, ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.set(child, name);
  const exited = exitOf(child).then((status) => {
    live.delete(child);
    return status;
  });

  let stdout = "";
  let stderr = "";
  let pending = "";
  let ended: string | undefined;
  const lines: LogLine[] = [];
  const waiters = new Set<Waiter>();
  const describe = () =>
    `pid ${child.pid}, data dir ${dataDir}\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(stdout)}`;

  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  child.stdout?.on("data", (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) continue;
      const record = parsed as LogLine;
      lines.push(record);
      for (const waiter of [...waiters]) {
        if (matches(waiter.predicate, record)) waiter.resolve(record);
      }
    }
  });
  const outputOver = (reason: string) => {
    ended ??= reason;
    for (const waiter of [...waiters]) waiter.fail(ended);
  };
  child.once("error", (error) => outputOver(`could not be spawned (${error.message})`));
  // "close", not "exit": by then stdout is drained, so no line can still arrive.
  child.once("close", (code, signal) => outputOver(`exited (code ${code}, signal ${signal})`));

  /** `what` names the awaited line in the error messages. */
  const waitFor = (predicate: (line: LogLine) => boolean, waitMs: number, what: string) => {
    const failure = (reason: string) => new Error(`${name} ${reason} before logging ${what} (${describe()})`);
    const seen = lines.find((line) => matches(predicate, line));
    if (seen !== undefined) return Promise.resolve(seen);
    if (ended !== undefined) return Promise.reject(failure(ended));
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`${name} did not log ${what} within ${waitMs} ms (${describe()})`));
      }, waitMs);
      const waiter: Waiter = {
        predicate,
        resolve: (line) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(line);
        },
        fail: (reason) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          reject(failure(reason));
        },
      };
      waiters.add(waiter);
    });
  };

  let ready: LogLine;
  try {
    ready = await waitFor((line) => line.msg === "listening", timeoutMs, '"listening"');
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    throw error;
  }
  const startupMs = performance.now() - startedAt;

  return {
    name,
    child,
    dataDir,
    ready,
    startupMs,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    logLines: () => [...lines],
    waitForLog: (predicate, waitMs = 10_000) => waitFor(predicate, waitMs, "a matching line"),
    async kill9() {
      child.kill("SIGKILL");
      return exited;
    },
    async stop(stopTimeoutMs = 10_000) {
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), stopTimeoutMs);
      });
      const outcome = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        child.kill("SIGKILL");
        await exited;
        throw new Error(`${name} did not exit within ${stopTimeoutMs} ms of SIGTERM (${describe()})`);
      }
      return outcome;
    },
  };
}

export interface CommandResult extends ExitStatus {
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunCommandOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs?: number;
  /** The name `killProcesses` knows the child by; the command by default. */
  readonly name?: string;
  /** Written to the child's stdin, which is then closed; without it stdin is not connected. */
  readonly input?: string;
}

/** Runs a command to completion (SIGKILLed after `timeoutMs`), capturing its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? childEnv(),
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    live.set(child, options.name ?? command);
    // A child that exits without reading its input makes the write fail (EPIPE); that is its business.
    child.stdin?.on("error", () => {});
    child.stdin?.end(options.input);
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      live.delete(child);
      reject(error);
    });
    // "close", not "exit": the output pipes are drained by then.
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
