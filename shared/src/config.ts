// Configuration: flags > MOORING_* environment variables > defaults. Every value is parsed and
// validated at start-up; a bad one is reported as one line naming the setting and where it came
// from, and the process exits with status 2.
import { Command, CommanderError, Option } from "commander";

export interface Setting<T> {
  /** Long flag without dashes, e.g. `vip-cidrs`. */
  readonly flag: string;
  /** Environment variable, e.g. `MOORING_VIP_CIDRS`. */
  readonly env: string;
  readonly description: string;
  /** The default, written as a user would write it; it goes through `parse` like any other value. */
  readonly default: string;
  /** Turns the raw string into a value, or throws an Error whose message says what is wrong. */
  readonly parse: (raw: string) => T;
}

export type Settings = Record<string, Setting<unknown>>;
export type ConfigOf<S extends Settings> = { readonly [K in keyof S]: ReturnType<S[K]["parse"]> };

/** A value was bad: `message` is the one line to print. Exit status 2. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** `--help` or `--version` was asked for: print `text` and exit 0. */
export class ConfigHelp extends Error {
  override readonly name = "ConfigHelp";
  constructor(readonly text: string) {
    super("help requested");
  }
}

export interface LoadConfigOptions {
  readonly program: string;
  readonly version: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function loadConfig<S extends Settings>(settings: S, options: LoadConfigOptions): ConfigOf<S> {
  const command = new Command(options.program)
    .version(options.version)
    .helpOption("-h, --help")
    .allowExcessArguments(false)
    .exitOverride();
  let printed = "";
  command.configureOutput({
    writeOut: (text) => {
      printed += text;
    },
    writeErr: (text) => {
      printed += text;
    },
    outputError: () => {},
  });
  for (const setting of Object.values(settings)) {
    command.addOption(
      new Option(
        `--${setting.flag} <value>`,
        `${setting.description} (env ${setting.env}, default "${setting.default}")`,
      ),
    );
  }
  try {
    command.parse([...options.argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) throw new ConfigHelp(printed);
      throw new ConfigError(error.message.replace(/^error: /, "").split("\n")[0] ?? error.message);
    }
    throw error;
  }
  const flags = command.opts<Record<string, string | undefined>>();
  const config: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(settings)) {
    const fromFlag = flags[camelCase(setting.flag)];
    const fromEnv = options.env[setting.env];
    const [raw, source] =
      fromFlag !== undefined
        ? [fromFlag, `--${setting.flag}`]
        : fromEnv !== undefined && fromEnv !== ""
          ? [fromEnv, setting.env]
          : [setting.default, `default of ${setting.env}`];
    try {
      config[key] = setting.parse(raw);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`invalid ${source}=${JSON.stringify(raw)}: ${reason}`);
    }
  }
  return config as ConfigOf<S>;
}

function camelCase(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Loads a process's configuration; `--help` exits 0 and a bad setting exits 2 (one line on stderr). */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    exitOnConfigError(error);
  }
}

/** Turns ConfigHelp into exit 0 and ConfigError into exit 2; anything else is rethrown. */
export function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigHelp) {
    process.stdout.write(error.text);
    process.exit(0);
  }
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
