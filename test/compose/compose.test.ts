// docker-compose.yml, the Dockerfile and .dockerignore, checked without a Docker engine: the compose
// file against the upstream compose-spec JSON schema (test/fixtures/compose-spec.json, vendored),
// then what the schema cannot see: references between services, volumes, ports, profiles, the
// MOORING_* settings each program really reads, and the image's USER, EXPOSE and HEALTHCHECK.
// compose-e2e.test.ts runs the services as local processes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/process.js";
import {
  type ComposeFile,
  type ComposeService,
  healthcheckCommand,
  imageEnv,
  isJob,
  packageBins,
  parseMount,
  parsePort,
  portOf,
  programOf,
  readCompose,
  readComposeDocument,
  readDockerfile,
  scriptOf,
  serviceOf,
  settingsOf,
} from "./compose-file.js";

// ajv-formats is CommonJS: its default export arrives wrapped under NodeNext module resolution.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

function compileSchema(): ValidateFunction {
  const schema = JSON.parse(readFileSync(join(REPO_ROOT, "test/fixtures/compose-spec.json"), "utf8")) as Record<
    string,
    unknown
  >;
  // Ajv's default class is draft-07 and does not load the draft's meta-schema by its URL.
  delete schema.$schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

const compose = readCompose();
const services = Object.entries(compose.services);
const dockerfile = readDockerfile();
const runtime = dockerfile.stages.at(-1) ?? [];
const instructions = (keyword: string) => runtime.filter((i) => i.keyword === keyword).map((i) => i.args);

/** Services that are on with no profile given, and those each profile adds. */
function enabledWith(file: ComposeFile, profiles: readonly string[]): string[] {
  return Object.entries(file.services)
    .filter(([, service]) => !service.profiles || service.profiles.some((p) => profiles.includes(p)))
    .map(([name]) => name)
    .sort();
}

/** The container ports a global or zone listens on: its *_ADDR settings, as set or by default. */
function listeningPorts(service: ComposeService): string[] {
  const settings = settingsOf(programOf(service));
  const ports: string[] = [];
  for (const [env, fallback] of settings) {
    if (!env.endsWith("_ADDR")) continue;
    const value = service.environment?.[env] ?? fallback ?? "";
    if (value === "off") continue;
    const port = portOf(value);
    // DNS answers over UDP and TCP on the same port.
    if (env === "MOORING_DNS_ADDR") ports.push(`${port}/udp`, `${port}/tcp`);
    else ports.push(`${port}/tcp`);
  }
  return ports.sort();
}

function mountsOf(service: ComposeService) {
  return (service.volumes ?? []).map(parseMount);
}

describe("docker-compose.yml against the compose-spec schema", () => {
  const validate = compileSchema();

  it("is valid", () => {
    const valid = validate(readComposeDocument());
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it("would catch a misspelt key and an unknown depends_on condition (the validator can fail)", () => {
    const document = readComposeDocument() as { services: Record<string, Record<string, unknown>> };
    const global = document.services.global as Record<string, unknown>;
    expect(validate({ ...document, services: { ...document.services, global: { ...global, depend_on: [] } } })).toBe(
      false,
    );
    expect(validate.errors?.[0]).toMatchObject({
      instancePath: "/services/global",
      keyword: "additionalProperties",
      params: { additionalProperty: "depend_on" },
    });
    const zone = document.services["zone-1"] as Record<string, unknown>;
    const misspeltCondition = { ...zone, depends_on: { global: { condition: "service_ready" } } };
    expect(validate({ ...document, services: { ...document.services, "zone-1": misspeltCondition } })).toBe(false);
    // depends_on is a list or a map (oneOf): the map branch names the bad condition.
    expect(validate.errors).toContainEqual(
      expect.objectContaining({ instancePath: "/services/zone-1/depends_on/global/condition", keyword: "enum" }),
    );
  });
});

describe("docker-compose.yml cross-references", () => {
  it("runs a global, zone-1 and its token job by default, and zone-2 with its job under the zone-2 profile", () => {
    expect(compose.name).toBe("mooring");
    expect(enabledWith(compose, [])).toEqual(["global", "zone-1", "zone-1-token"]);
    expect(enabledWith(compose, ["zone-2"])).toEqual(["global", "zone-1", "zone-1-token", "zone-2", "zone-2-token"]);
    expect(services.map(([name, service]) => [name, programOf(service)])).toEqual([
      ["global", "mooring-global"],
      ["zone-1-token", "mooringctl"],
      ["zone-1", "mooring-zone"],
      ["zone-2-token", "mooringctl"],
      ["zone-2", "mooring-zone"],
    ]);
  });

  it("depends only on services that exist and are on whenever the dependent is, with the right condition", () => {
    for (const [name, service] of services) {
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        const dependency = serviceOf(compose, target);
        const expected = isJob(dependency) ? "service_completed_successfully" : "service_healthy";
        expect(`${name} -> ${target}: ${condition}`).toBe(`${name} -> ${target}: ${expected}`);
        // A dependency under a profile must share one of the dependent's profiles.
        if (dependency.profiles) {
          expect(
            dependency.profiles.some((p) => service.profiles?.includes(p) ?? false),
            `${name} -> ${target}`,
          ).toBe(true);
        }
      }
    }
    // Every zone waits for the global to be healthy and for its token.
    expect(serviceOf(compose, "zone-1").depends_on).toEqual({
      global: { condition: "service_healthy" },
      "zone-1-token": { condition: "service_completed_successfully" },
    });
  });

  it("declares every named volume it mounts, and mounts every one it declares", () => {
    const used = new Set(services.flatMap(([, service]) => mountsOf(service).map((mount) => mount.volume)));
    expect([...used].sort()).toEqual(Object.keys(compose.volumes ?? {}).sort());
    expect([...used].sort()).toEqual(["global-data", "zone-1-data", "zone-2-data"]);
  });

  it("health-checks every long-running service and restarts it; one-shot jobs have neither", () => {
    for (const [name, service] of services) {
      if (isJob(service)) {
        expect([name, service.healthcheck?.disable, service.restart]).toEqual([name, true, "no"]);
      } else {
        // The test itself is the image's HEALTHCHECK; the service sets its timing.
        expect([name, service.healthcheck?.disable ?? false, service.restart]).toEqual([name, false, "unless-stopped"]);
      }
    }
    expect(instructions("HEALTHCHECK")).toHaveLength(1);
  });

  it("publishes exactly the ports each process listens on (its MOORING_*_ADDR settings), each host port once", () => {
    const hostPorts: string[] = [];
    for (const [name, service] of services) {
      const published = (service.ports ?? []).map(parsePort);
      hostPorts.push(...published.map((p) => `${p.host}/${p.protocol}`));
      const expected = isJob(service) ? [] : listeningPorts(service);
      expect([name, published.map((p) => `${p.container}/${p.protocol}`).sort()]).toEqual([name, expected]);
    }
    expect(hostPorts.length).toBe(new Set(hostPorts).size);
    expect(listeningPorts(serviceOf(compose, "global"))).toEqual(["5681/tcp", "5685/tcp"]);
    expect(listeningPorts(serviceOf(compose, "zone-1"))).toEqual(["5653/tcp", "5653/udp", "5682/tcp"]);
  });

  it("sets only MOORING_* variables the program it runs reads", () => {
    for (const [name, service] of services) {
      const settings = settingsOf(programOf(service));
      const unknown = Object.keys(service.environment ?? {}).filter((env) => !settings.has(env));
      expect([name, unknown]).toEqual([name, []]);
    }
    // The image's own settings are read by both control planes.
    for (const env of Object.keys(imageEnv(runtime)).filter((key) => key.startsWith("MOORING_"))) {
      expect([env, settingsOf("mooring-global").has(env), settingsOf("mooring-zone").has(env)]).toEqual([
        env,
        true,
        true,
      ]);
    }
    // The check itself rejects a variable nothing reads.
    expect(settingsOf("mooring-zone").has("MOORING_ZONE_TOKEN_PATH")).toBe(false);
    expect(settingsOf("mooringctl").has("MOORING_ADMIN_TOKEN_FILE")).toBe(true);
  });

  it("has authentication on, and hands each zone a token issued with the admin token read-only from the global's volume", () => {
    const global = serviceOf(compose, "global");
    const globalData = mountsOf(global).find((mount) => mount.target === imageEnv(runtime).MOORING_DATA_DIR);
    expect(global.environment?.MOORING_AUTH).toBe("on");
    for (const zoneName of ["zone-1", "zone-2"]) {
      const zone = serviceOf(compose, zoneName);
      const env = zone.environment ?? {};
      expect([env.MOORING_ZONE, env.MOORING_AUTH, env.MOORING_GLOBAL]).toEqual([zoneName, "on", "global:5685"]);
      const jobName = `${zoneName}-token`;
      const job = serviceOf(compose, jobName);
      const jobEnv = job.environment ?? {};
      // The job reaches the global's REST port by its service name...
      expect(jobEnv.MOORING_API_URL).toBe(`http://global:${portOf(global.environment?.MOORING_HTTP_ADDR ?? "")}`);
      // ...with the admin token the global wrote to its volume, mounted read-only...
      const adminMount = mountsOf(job).find((mount) => mount.volume === globalData?.volume);
      expect(adminMount?.readOnly).toBe(true);
      expect(jobEnv.MOORING_ADMIN_TOKEN_FILE).toBe(`${adminMount?.target}/admin-token`);
      // ...and writes the token, for this zone, into the zone's volume, where the zone reads it.
      const zoneMount = mountsOf(zone)[0];
      const jobZoneMount = mountsOf(job).find((mount) => mount.volume === zoneMount?.volume);
      expect(jobZoneMount?.readOnly).toBe(false);
      const script = scriptOf(job) ?? "";
      expect(script).toContain(`generate zone-token --zone ${zoneName} `);
      expect(script).toMatch(/ --wait \d+s /);
      const written = /&& mv \S+ (\S+)$/.exec(script)?.[1] ?? "";
      const relative = (path: string, target = "") => (path.startsWith(`${target}/`) ? path.slice(target.length) : "");
      expect(relative(written, jobZoneMount?.target)).toBe("/zone-token");
      expect(relative(env.MOORING_ZONE_TOKEN_FILE ?? "", zoneMount?.target)).toBe("/zone-token");
      expect(job.profiles).toEqual(zone.profiles);
    }
  });
});

describe("the Dockerfile", () => {
  it("builds on a pinned Node 20 LTS image, with the compilers better-sqlite3 needs in the build stage", () => {
    const image = dockerfile.args.find((a) => a.keyword === "ARG" && a.args.startsWith("NODE_IMAGE="))?.args;
    expect(image).toMatch(/^NODE_IMAGE=node:20\.\d+\.\d+-bookworm-slim$/);
    const from = (stage: string) => ["$", "{NODE_IMAGE} AS ", stage].join("");
    expect(dockerfile.stages.map((stage) => stage[0]?.args)).toEqual([from("build"), from("runtime")]);
    const build = dockerfile.stages[0] ?? [];
    expect(build.some((i) => i.keyword === "RUN" && /install .*python3 make g\+\+/.test(i.args))).toBe(true);
    expect(build.some((i) => i.keyword === "RUN" && i.args.startsWith("npm ci"))).toBe(true);
    expect(build.some((i) => i.keyword === "RUN" && /npm prune --omit=dev/.test(i.args))).toBe(true);
  });

  it("runs as a non-root user, with /data a volume, the ports exposed, a /readyz healthcheck and the bins on PATH", () => {
    expect(instructions("USER")).toEqual(["node"]);
    expect(instructions("VOLUME")).toEqual(["/data"]);
    expect(imageEnv(runtime).MOORING_DATA_DIR).toBe("/data");
    const exposed = instructions("EXPOSE").flatMap((args) => args.split(/\s+/));
    expect(exposed).toEqual(["5681", "5685", "5682", "5653/udp", "5653/tcp"]);
    // Every port compose publishes is one the image exposes.
    const withProtocol = exposed.map((port) => (port.includes("/") ? port : `${port}/tcp`));
    for (const [, service] of services) {
      for (const port of (service.ports ?? []).map(parsePort)) {
        expect(withProtocol).toContain(`${port.container}/${port.protocol}`);
      }
    }
    const check = healthcheckCommand(runtime);
    expect(check[0]).toBe("node");
    expect(check.join(" ")).toContain("/readyz");
    const links = instructions("RUN").join(" ");
    for (const [name, path] of packageBins()) {
      expect(links).toContain(`ln -s /app/${path} /usr/local/bin/${name}`);
    }
    expect([...packageBins().keys()].sort()).toEqual(["mooring-global", "mooring-zone", "mooringctl"]);
    expect(instructions("CMD")).toEqual(['["mooring-global"]']);
  });

  it("keeps dependencies, build output and local data out of the build context", () => {
    const ignored = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"));
    expect(ignored).toEqual(expect.arrayContaining([".git", "**/node_modules", "**/dist", "data", "test", "bench"]));
  });
});
