// Runs the real `mooring-global` bin as a child process, the way an operator would: its own data
// directory, ports picked by the OS, readiness taken from the "listening" log line.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The bin under test; MOORING_E2E_GLOBAL_BIN points the suite at another build (it is not passed to children). */
export const GLOBAL_BIN =
  process.env.MOORING_E2E_GLOBAL_BIN ?? fileURLToPath(new URL("../../global/bin/mooring-global.js", import.meta.url));

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface GlobalProcess {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly http: string;
  /** `127.0.0.1:<port>`, as logged. */
  readonly grpc: string;
  readonly child: ChildProcess;
  readonly dataDir: string;
  /** Milliseconds from spawn to the "listening" line. */
  readonly startupMs: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  stdout(): string;
  stderr(): string;
  /** Every stdout line that parsed as a JSON object. */
  logLines(): Array<Record<string, unknown>>;
  /** SIGKILL, then the exit status once the process is gone. */
  kill9(): Promise<ExitStatus>;
  /** SIGTERM, then the exit status; SIGKILLs and throws if the process does not exit in time. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
}

export interface StartOptions {
  /** Reuse a data directory (restart); a fresh temp directory otherwise. */
  readonly dataDir?: string;
  /** Extra MOORING_* settings; the addresses and data dir are set by the helper unless given here. */
  readonly env?: Readonly<Record<string, string>>;
  readonly args?: readonly string[];
  readonly timeoutMs?: number;
}

const live = new Set<ChildProcess>();
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

/** SIGKILLs every process started by this module that is still running. For afterEach/afterAll. */
export async function killAllGlobals(): Promise<void> {
  const children = [...live];
  await Promise.all(
    children.map(async (child) => {
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
  });
}

function tail(text: string, max = 4000): string {
  return text.length > max ? `...${text.slice(-max)}` : text;
}

export async function startGlobalProcess(options: StartOptions = {}): Promise<GlobalProcess> {
  const dataDir = options.dataDir ?? (await makeTempDir());
  const timeoutMs = options.timeoutMs ?? 20_000;
  const env = childEnv({
    MOORING_DATA_DIR: dataDir,
    MOORING_HTTP_ADDR: "127.0.0.1:0",
    MOORING_GRPC_ADDR: "127.0.0.1:0",
    ...options.env,
  });
  const startedAt = performance.now();
  const child = spawn(process.execPath, [GLOBAL_BIN, ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  const exited = exitOf(child).then((status) => {
    live.delete(child);
    return status;
  });

  let stdout = "";
  let stderr = "";
  let pending = "";
  const lines: Array<Record<string, unknown>> = [];
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });

  const describe = () =>
    `pid ${child.pid}, data dir ${dataDir}\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(stdout)}`;

  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`mooring-global did not log "listening" within ${timeoutMs} ms (${describe()})`));
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot spawn mooring-global: ${error.message}`));
    });
    void exited.then((status) => {
      clearTimeout(timer);
      reject(
        new Error(
          `mooring-global exited before listening (code ${status.code}, signal ${status.signal}; ${describe()})`,
        ),
      );
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
        if (typeof parsed !== "object" || parsed === null) continue;
        const record = parsed as Record<string, unknown>;
        lines.push(record);
        if (record.msg === "listening") {
          clearTimeout(timer);
          resolve(record);
        }
      }
    });
  });

  let ready: Record<string, unknown>;
  try {
    ready = await listening;
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    throw error;
  }
  const startupMs = performance.now() - startedAt;
  const http = ready.http;
  const grpc = ready.grpc;
  if (typeof http !== "string" || typeof grpc !== "string") {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`the "listening" line has no http/grpc address: ${JSON.stringify(ready)}`);
  }

  return {
    http: `http://${http}`,
    grpc,
    child,
    dataDir,
    startupMs,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    logLines: () => [...lines],
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
        throw new Error(`mooring-global did not exit within ${stopTimeoutMs} ms of SIGTERM (${describe()})`);
      }
      return outcome;
    },
  };
}

export interface CommandResult extends ExitStatus {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (SIGKILLed after `timeoutMs`), capturing its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? childEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
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

/** Runs the global bin once, for start-up failures and --help. */
export function runGlobalOnce(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs = 20_000,
): Promise<CommandResult> {
  return runCommand(process.execPath, [GLOBAL_BIN, ...args], { env: childEnv(env), timeoutMs });
}
