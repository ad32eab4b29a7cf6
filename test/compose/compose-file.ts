// Reading docker-compose.yml and the Dockerfile for the compose tests: the compose file parsed as
// Compose reads it (YAML merge keys resolved), the subset of its shape the project uses, typed, and
// the Dockerfile's instructions by stage.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { GLOBAL_SETTINGS } from "@mooring/global";
import { ZONE_SETTINGS } from "@mooring/zone";
import { parse } from "yaml";
import { createProgram } from "../../global/src/cli/program.js";
import { REPO_ROOT } from "../helpers/process.js";

export interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly entrypoint?: string[];
  readonly command?: string[];
  readonly environment?: Record<string, string>;
  readonly volumes?: string[];
  readonly ports?: string[];
  readonly depends_on?: Record<string, { readonly condition: string }>;
  readonly healthcheck?: { readonly disable?: boolean; readonly test?: unknown };
  readonly restart?: string;
  readonly profiles?: string[];
}

export interface ComposeFile {
  readonly name?: string;
  readonly services: Record<string, ComposeService>;
  readonly volumes?: Record<string, unknown>;
}

export const COMPOSE_PATH = join(REPO_ROOT, "docker-compose.yml");
export const DOCKERFILE_PATH = join(REPO_ROOT, "Dockerfile");

/** The compose file as a plain object, `<<` merge keys applied, as `docker compose config` sees it. */
export function readComposeDocument(path = COMPOSE_PATH): unknown {
  return parse(readFileSync(path, "utf8"), { merge: true });
}

export function readCompose(path = COMPOSE_PATH): ComposeFile {
  return readComposeDocument(path) as ComposeFile;
}

export function serviceOf(compose: ComposeFile, name: string): ComposeService {
  const service = compose.services[name];
  if (!service) throw new Error(`docker-compose.yml has no service ${name}`);
  return service;
}

/** The program a service runs: its argv, `sh -c SCRIPT` reduced to the script's first word. */
export type Program = "mooring-global" | "mooring-zone" | "mooringctl";

export function argvOf(service: ComposeService): string[] {
  return [...(service.entrypoint ?? []), ...(service.command ?? [])];
}

/** The shell script of a `sh -c` service, undefined for a service that runs a program directly. */
export function scriptOf(service: ComposeService): string | undefined {
  const argv = argvOf(service);
  return argv[0] === "sh" && argv[1] === "-c" ? argv[2] : undefined;
}

export function programOf(service: ComposeService): Program {
  const script = scriptOf(service);
  const first = script === undefined ? argvOf(service)[0] : script.trim().split(/\s+/)[0];
  if (first === "mooring-global" || first === "mooring-zone" || first === "mooringctl") return first;
  throw new Error(`a service runs ${JSON.stringify(first)}, not one of the Mooring bins`);
}

/** One-shot jobs: the services that run mooringctl (a global or a zone runs until stopped). */
export function isJob(service: ComposeService): boolean {
  return programOf(service) === "mooringctl";
}

/** The MOORING_* variables each program reads, from the sources (the CLI's from its commander options). */
export function settingsOf(program: Program): Map<string, string | undefined> {
  if (program === "mooring-global") {
    return new Map(Object.values(GLOBAL_SETTINGS).map((setting) => [setting.env, setting.default]));
  }
  if (program === "mooring-zone") {
    return new Map(Object.values(ZONE_SETTINGS).map((setting) => [setting.env, setting.default]));
  }
  const silent = { write: () => true };
  const options = createProgram({ stdout: silent, stderr: silent, stdin: new PassThrough() }, () => {}).options;
  return new Map(
    options
      .filter((option) => option.envVar !== undefined)
      .map((option) => [
        option.envVar as string,
        option.defaultValue === undefined ? undefined : String(option.defaultValue),
      ]),
  );
}

/** The port of a listen address (`:5681`, `0.0.0.0:5681`, `[::]:5681`). */
export function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

export interface PublishedPort {
  readonly host: number;
  readonly container: number;
  readonly protocol: "tcp" | "udp";
}

/** `"5653:5653/udp"` -> {host: 5653, container: 5653, protocol: "udp"}; only the HOST:CONTAINER[/PROTO] form. */
export function parsePort(spec: string): PublishedPort {
  const match = /^(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(spec);
  if (!match) throw new Error(`port ${spec} is not of the form HOST:CONTAINER[/tcp|udp]`);
  return { host: Number(match[1]), container: Number(match[2]), protocol: (match[3] ?? "tcp") as "tcp" | "udp" };
}

export interface Mount {
  readonly volume: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** `"global-data:/global:ro"` -> {volume: "global-data", target: "/global", readOnly: true}. */
export function parseMount(spec: string): Mount {
  const [volume, target, mode, ...rest] = spec.split(":");
  if (!volume || !target?.startsWith("/") || volume.startsWith(".") || volume.startsWith("/") || rest.length > 0) {
    throw new Error(`volume ${spec} is not of the form NAMED_VOLUME:/PATH[:ro]`);
  }
  return { volume, target, readOnly: mode === "ro" };
}

export interface DockerInstruction {
  readonly keyword: string;
  readonly args: string;
}

/** The Dockerfile's instructions (continuation lines joined, comments dropped), by stage. */
export function readDockerfile(path = DOCKERFILE_PATH): { args: DockerInstruction[]; stages: DockerInstruction[][] } {
  const text = readFileSync(path, "utf8").replace(/\\\n/g, " ");
  const instructions = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const space = line.search(/\s/);
      return { keyword: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });
  const args: DockerInstruction[] = [];
  const stages: DockerInstruction[][] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") stages.push([instruction]);
    else if (stages.length === 0) args.push(instruction);
    else stages.at(-1)?.push(instruction);
  }
  return { args, stages };
}

/** The runtime (last) stage's `ENV` variables. */
export function imageEnv(stage: readonly DockerInstruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of stage) {
    if (keyword !== "ENV") continue;
    for (const pair of args.split(/\s+/)) {
      const equals = pair.indexOf("=");
      if (equals <= 0) throw new Error(`ENV ${args}: only KEY=VALUE pairs are supported here`);
      env[pair.slice(0, equals)] = pair.slice(equals + 1);
    }
  }
  return env;
}

/** The exec-form array of a HEALTHCHECK ... CMD [...] instruction. */
export function healthcheckCommand(stage: readonly DockerInstruction[]): string[] {
  const healthcheck = stage.find((instruction) => instruction.keyword === "HEALTHCHECK");
  const match = healthcheck && /\bCMD\s+(\[.*\])\s*$/.exec(healthcheck.args);
  if (!match?.[1]) throw new Error("the Dockerfile has no HEALTHCHECK ... CMD [exec form]");
  return JSON.parse(match[1]) as string[];
}

/** The bins the workspace packages declare: name -> path relative to the repository. */
export function packageBins(): Map<string, string> {
  const bins = new Map<string, string>();
  for (const dir of ["global", "zone"]) {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, dir, "package.json"), "utf8")) as {
      bin?: Record<string, string>;
    };
    for (const [name, path] of Object.entries(manifest.bin ?? {})) bins.set(name, join(dir, path));
  }
  return bins;
}
