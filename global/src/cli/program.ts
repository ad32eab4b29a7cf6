// The `mooringctl` command line: global options, commands, help, and the exit status (0 done, 1 the
// server refused or could not be reached, 2 bad usage). Output goes to the streams in CliIo only.
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { createApiClient } from "./client.js";
import {
  apply,
  type CommandContext,
  deleteMeshService,
  generateZoneToken,
  getMeshServices,
  getVips,
  getZones,
  getZoneTokens,
  inspectZone,
} from "./commands.js";
import { parseDuration } from "./duration.js";
import { ApiError, describeError, EXIT, exitCodeOf, UsageError } from "./errors.js";
import { OUTPUT_FORMATS, type OutputFormat } from "./output.js";

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Read by `apply -f -`. */
  readonly stdin: NodeJS.ReadableStream;
  /** Milliseconds since the epoch; Date.now by default. */
  readonly now?: () => number;
}

interface GlobalOptions {
  readonly apiUrl: URL;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly ca?: string;
  readonly output: OutputFormat;
  readonly wait?: number;
}

const VERSION: string = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

export const DEFAULT_API_URL = "http://127.0.0.1:5681";

function parseApiUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError("expected a URL such as http://127.0.0.1:5681");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError("expected an http:// or https:// URL");
  }
  return url;
}

function parseWait(raw: string): number {
  try {
    return parseDuration(raw);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  stream.setEncoding("utf8");
  for await (const chunk of stream) text += chunk as string;
  return text;
}

const HELP_AFTER = `
Exit status: 0 done; 1 the API refused the request or could not be reached; 2 bad usage (an unknown
command or option, a missing argument, a bad file).

Examples:
  mooringctl --token-file data/admin-token apply -f web.yaml
  mooringctl get meshservices -o yaml
  mooringctl inspect zone zone-1
  mooringctl generate zone-token --zone zone-1 > zone-1.token`;

/** The program, fresh for each run (commander keeps parse state on it). `done` receives the exit status. */
export function createProgram(io: CliIo, done: (status: number) => void): Command {
  const program = new Command("mooringctl");
  program
    .description("Manage a Mooring global control plane through its REST API.")
    .version(VERSION, "-V, --version")
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride()
    .showHelpAfterError()
    .addOption(
      new Option("--api-url <url>", "the global's REST API")
        .env("MOORING_API_URL")
        .default(parseApiUrl(DEFAULT_API_URL), DEFAULT_API_URL)
        .argParser(parseApiUrl),
    )
    .addOption(
      new Option("--token <token>", "admin token (prefer --token-file: a flag shows in the process list)").env(
        "MOORING_ADMIN_TOKEN",
      ),
    )
    .addOption(
      new Option("--token-file <file>", "file holding the admin token, e.g. the global's data/admin-token").env(
        "MOORING_ADMIN_TOKEN_FILE",
      ),
    )
    .addOption(new Option("--ca <file>", "PEM CA to trust for an https:// API URL").env("MOORING_API_CA"))
    .addOption(new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table"))
    .addOption(
      new Option(
        "--wait <duration>",
        "retry a refused connection and a missing or empty token file for this long (e.g. 30s), while the global starts",
      ).argParser(parseWait),
    )
    .addHelpText("after", HELP_AFTER);

  /** The context of a command: its client, built from the global options. */
  function contextOf(): CommandContext {
    const options = program.opts<GlobalOptions>();
    // A flag beats an environment variable; between two of the same origin, the token beats the file.
    const fromCli = (name: string) => program.getOptionValueSource(name) === "cli";
    const useFile =
      options.tokenFile !== undefined && (options.token === undefined || (fromCli("tokenFile") && !fromCli("token")));
    let ca: Buffer | undefined;
    if (options.ca !== undefined && options.apiUrl.protocol === "https:") {
      try {
        ca = readFileSync(options.ca);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
        throw new UsageError(`cannot read the CA file ${options.ca} (${code})`);
      }
    }
    const client = createApiClient({
      apiUrl: options.apiUrl,
      auth: useFile ? { file: options.tokenFile } : options.token !== undefined ? { token: options.token } : {},
      ...(ca ? { ca } : {}),
      ...(options.wait !== undefined ? { waitUntil: Date.now() + options.wait } : {}),
    });
    return {
      client,
      output: options.output,
      out: (text) => io.stdout.write(text),
      err: (text) => io.stderr.write(text),
      now: io.now ?? Date.now,
      async readInput(file) {
        if (file === "-") return readAll(io.stdin);
        try {
          return readFileSync(file, "utf8");
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
          throw new UsageError(`cannot read ${file} (${code})`);
        }
      },
    };
  }

  /**
   * Runs a command with a fresh context and records its exit status. A usage problem found while
   * running (an unreadable file, a bad apply file) is reported like commander's own: the message,
   * then the command's usage.
   */
  const run =
    <A extends unknown[]>(action: (context: CommandContext, ...args: A) => Promise<number>) =>
    async (...args: A) => {
      try {
        done(await action(contextOf(), ...args));
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        const command = args[args.length - 1] as Command;
        command.error(`error: ${error.message}`, { exitCode: EXIT.usage, code: "mooringctl.usage" });
      }
    };

  const get = program.command("get").description("show resources: meshservices, zones, vips, zone-tokens");
  get
    .command("meshservices")
    .aliases(["meshservice", "ms"])
    .description("list a mesh's services, or show one (with --zone: one owned by that zone)")
    .argument("[name]", "a service name")
    .option("--mesh <mesh>", "the mesh", "default")
    .option("--zone <zone>", "the owning zone: one zone's services, or with NAME one service of that zone")
    .action(
      run((context, name: string | undefined, options: { mesh: string; zone?: string }) =>
        getMeshServices(context, name, options),
      ),
    );
  get
    .command("zones")
    .alias("zone")
    .description("list the zones that have connected, or show one")
    .argument("[name]", "a zone name")
    .action(run((context, name: string | undefined) => getZones(context, name)));
  get
    .command("vips")
    .alias("vip")
    .description("list VIP leases, or show one with its audit events")
    .argument("[ip]", "an address")
    .action(run((context, ip: string | undefined) => getVips(context, ip)));
  get
    .command("zone-tokens")
    .alias("zone-token")
    .description("list issued zone tokens (ids and validity; never the tokens)")
    .action(run((context) => getZoneTokens(context)));

  const inspect = program.command("inspect").description("show the detailed state of a resource");
  inspect
    .command("zone")
    .description("a zone's sync state: online, lag, revisions, sessions by mode, last error")
    .argument("<name>", "a zone name")
    .action(run((context, name: string) => inspectZone(context, name)));

  program
    .command("apply")
    .description(
      "create or update the resources of a YAML or JSON file (several YAML documents may be separated by ---)",
    )
    .requiredOption("-f, --file <file>", 'the file, or "-" for stdin')
    .action(run((context, options: { file: string }) => apply(context, options.file)));

  const remove = program.command("delete").description("delete a resource");
  remove
    .command("meshservice")
    .aliases(["meshservices", "ms"])
    .description("delete a global-owned service; its VIP enters quarantine")
    .argument("<name>", "the service name")
    .option("--mesh <mesh>", "the mesh", "default")
    .action(run((context, name: string, options: { mesh: string }) => deleteMeshService(context, name, options)));

  const generate = program.command("generate").description("create credentials");
  generate
    .command("zone-token")
    .description("issue a token for a zone; prints only the token (-o json|yaml: with its id and validity)")
    .requiredOption("--zone <zone>", "the zone the token is for")
    .option("--valid-for <duration>", "how long it is valid, e.g. 24h, 30d (at most 5 years)", "24h")
    .action(run((context, options: { zone: string; validFor: string }) => generateZoneToken(context, options)));

  return program;
}

/** Runs `mooringctl` with these arguments (without the node and script paths) and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let status: number = EXIT.ok;
  const program = createProgram(io, (code) => {
    status = code;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return status;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message and the usage already. An explicit --help or --version is
      // a success; help printed because a command is missing is bad usage.
      return error.code === "commander.helpDisplayed" || error.code === "commander.version" ? EXIT.ok : EXIT.usage;
    }
    io.stderr.write(`error: ${describeError(error)}\n`);
    if (error instanceof ApiError && error.status === 401 && !hasTokenOption(program)) {
      io.stderr.write(
        "hint: give the admin token with --token-file <global data dir>/admin-token (or MOORING_ADMIN_TOKEN_FILE)\n",
      );
    }
    return exitCodeOf(error);
  }
}

function hasTokenOption(program: Command): boolean {
  const options = program.opts<GlobalOptions>();
  return options.token !== undefined || options.tokenFile !== undefined;
}

/** The `mooringctl` process: the CLI on the process's own streams, its status as the exit code. */
export async function runMain(argv: readonly string[]): Promise<void> {
  // A reader that stops early (`mooringctl get vips | head`) closes the pipe: stop quietly, as
  // Unix tools do, instead of dying on an unhandled EPIPE.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(process.exitCode ?? EXIT.ok);
  });
  process.exitCode = await runCli(argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
}
