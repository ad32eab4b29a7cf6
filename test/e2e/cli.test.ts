// mooringctl against a real global (and a real zone), run as a child process the way an operator
// runs it: every command in table, JSON and YAML output, every exit status, `--wait` for a global
// that is still starting, `--ca` for HTTPS, and a zone token made by `generate zone-token > file`
// that a real zone connects with.
import { writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { makeCertificates } from "../helpers/certs.js";
import {
  childEnv,
  type GlobalProcess,
  killAllGlobals,
  makeTempDir,
  removeTempDirs,
  startGlobalProcess,
} from "../helpers/global-process.js";
import { listAll, type MeshServiceJson, putMeshService, requestJson } from "../helpers/http.js";
import { type CommandResult, killProcesses, runCommand } from "../helpers/process.js";
import { syncOf, waitUntil } from "../helpers/sync.js";
import { killAllZones, startZoneProcess, type ZoneProcess } from "../helpers/zone-process.js";

const CTL = fileURLToPath(new URL("../../global/bin/mooringctl.js", import.meta.url));
const NAME = "mooringctl";

let global: GlobalProcess;
let adminTokenFile: string;
let zone: ZoneProcess;
/** Everything mooringctl printed in this file, to show that the admin token is never among it. */
const printed: string[] = [];

beforeAll(async () => {
  // A long heartbeat keeps a zone's lastSeenAt still, so `inspect zone` can be compared exactly.
  global = await startGlobalProcess({ env: { MOORING_SYNC_HEARTBEAT: "1h", MOORING_DB_SYNC: "normal" } });
  adminTokenFile = join(global.dataDir, "admin-token");
});
afterAll(async () => {
  await killProcesses(NAME);
  await killAllZones();
  await killAllGlobals();
  await removeTempDirs();
});

interface CtlOptions {
  /** MOORING_* settings; MOORING_API_URL and MOORING_ADMIN_TOKEN_FILE point at `global` unless given. */
  readonly env?: Readonly<Record<string, string>>;
  /** Leave MOORING_ADMIN_TOKEN_FILE unset. */
  readonly noToken?: boolean;
  readonly input?: string;
}

async function ctl(args: readonly string[], options: CtlOptions = {}): Promise<CommandResult> {
  const result = await runCommand(process.execPath, [CTL, ...args], {
    env: childEnv({
      MOORING_API_URL: global.http,
      ...(options.noToken ? {} : { MOORING_ADMIN_TOKEN_FILE: adminTokenFile }),
      ...options.env,
    }),
    ...(options.input === undefined ? {} : { input: options.input }),
    name: NAME,
  });
  printed.push(result.stdout, result.stderr);
  return result;
}

/** Exit status 0 and nothing on stderr: the stdout. */
async function ok(args: readonly string[], options?: CtlOptions): Promise<string> {
  const result = await ctl(args, options);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
  return result.stdout;
}

/**
 * Runs a command whose table ends with an age column. Returns the table with each age replaced by
 * `<age>`, after checking every age against the creation times in `since`: the age shown must lie
 * between the age at the start and at the end of the run.
 */
async function tableWithAges(args: readonly string[], since: readonly string[]): Promise<string> {
  const before = Date.now();
  const stdout = await ok(args);
  const after = Date.now();
  const ages = [...stdout.matchAll(/ (\d+)s$/gm)].map((match) => Number(match[1]));
  expect(ages).toHaveLength(since.length);
  ages.forEach((age, index) => {
    const created = Date.parse(since[index] ?? "");
    expect(age).toBeGreaterThanOrEqual(Math.floor((before - created) / 1000));
    expect(age).toBeLessThanOrEqual(Math.floor((after - created) / 1000));
  });
  return stdout.replace(/ \d+s$/gm, " <age>");
}

/** A TCP port nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

async function put(mesh: string, name: string, body: unknown): Promise<MeshServiceJson> {
  const answer = await putMeshService(global.http, mesh, name, body);
  if (answer.status !== 201 && answer.status !== 200) throw new Error(`PUT answered ${answer.status}`);
  return answer.body;
}

async function get<T>(path: string): Promise<T> {
  const answer = await requestJson<T>("GET", `${global.http}${path}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

const WEB =
  "type: MeshService\nmesh: apply\nname: web\nlabels:\n  app: web\nspec:\n  ports:\n    - port: 80\n      appProtocol: http\n";
const API = "type: MeshService\nmesh: apply\nname: api\nspec:\n  ports: [{port: 8080}]\n";

describe("mooringctl apply", () => {
  it("creates, then reports unchanged and configured resources, one line each, also from stdin", async () => {
    const file = join(await makeTempDir(), "services.yaml");
    await writeFile(file, `${WEB}---\n${API}`);
    expect(await ok(["apply", "-f", file])).toBe("meshservice apply/web created\nmeshservice apply/api created\n");
    expect(await ok(["apply", "-f", file])).toBe("meshservice apply/web unchanged\nmeshservice apply/api unchanged\n");
    const edited = `${WEB.replace("app: web", "app: web2")}---\n${API}`;
    expect(await ok(["apply", "-f", "-"], { input: edited })).toBe(
      "meshservice apply/web configured\nmeshservice apply/api unchanged\n",
    );
    const web = await get<MeshServiceJson>("/meshes/apply/meshservices/web");
    expect([web.labels, web.revision > 0]).toEqual([{ app: "web2" }, true]);
  });

  it("with -o json or -o yaml prints the server's objects as a list, whatever the outcome", async () => {
    const json = JSON.stringify([
      { type: "MeshService", mesh: "apply", name: "api", spec: { ports: [{ port: 8080 }] } },
    ]);
    const current = await get<MeshServiceJson>("/meshes/apply/meshservices/api");
    expect(JSON.parse(await ok(["apply", "-f", "-", "-o", "json"], { input: json }))).toEqual([current]);
    expect(parseYaml(await ok(["-o", "yaml", "apply", "-f", "-"], { input: json }))).toEqual([current]);
  });

  it("reports each resource the server refuses with its field and reason, applies the rest, and exits 1", async () => {
    const file = join(await makeTempDir(), "mixed.yaml");
    await writeFile(
      file,
      "type: MeshService\nmesh: apply\nname: bad\nspec:\n  ports: [{port: 70000}]\n---\n" +
        "type: MeshService\nmesh: apply\nname: good\nspec:\n  ports: [{port: 81}]\n",
    );
    const result = await ctl(["apply", "-f", file]);
    expect(result).toMatchObject({
      code: 1,
      stdout: "meshservice apply/good created\n",
      stderr:
        `error: meshservice apply/bad (${file}, document 1): VALIDATION_FAILED: spec.ports[0].port: must be <= 65535\n` +
        "  spec.ports[0].port: must be <= 65535\n",
    });
    expect((await requestJson("GET", `${global.http}/meshes/apply/meshservices/bad`)).status).toBe(404);
  });

  it("exits 2 for a malformed file, naming each problem's document and field, and sends nothing", async () => {
    const file = join(await makeTempDir(), "broken.yaml");
    await writeFile(file, "type: MeshService\nmesh: apply\nname: never\nspec: {ports: [{port: 1}]}\n---\nname: x\n");
    const result = await ctl(["apply", "-f", file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.split("\n").slice(0, 5)).toEqual([
      `error: ${file} has 3 problems:`,
      "  document 2: type: is required (MeshService)",
      "  document 2: mesh: is required",
      "  document 2: spec: is required",
      "",
    ]);
    expect(result.stderr).toContain("Usage: mooringctl apply [options]");
    expect((await requestJson("GET", `${global.http}/meshes/apply/meshservices/never`)).status).toBe(404);
  });
});

describe("mooringctl get meshservices and delete meshservice", () => {
  let api: MeshServiceJson;
  let web: MeshServiceJson;

  beforeAll(async () => {
    // Pinned addresses make the VIPs, and so the table, known in advance.
    for (const [ip, name] of [
      ["241.0.0.200", "api"],
      ["241.0.0.201", "web"],
    ] as const) {
      expect((await requestJson("PUT", `${global.http}/vips/${ip}`, { mesh: "tables", name })).status).toBe(201);
    }
    api = await put("tables", "api", {
      spec: {
        ports: [
          { name: "grpc", port: 8080, targetPort: 9090, appProtocol: "grpc" },
          { name: "admin", port: 8443 },
        ],
      },
    });
    web = await put("tables", "web", { labels: { app: "web" }, spec: { ports: [{ port: 80, appProtocol: "http" }] } });
  });

  it("prints an aligned table of a mesh's services", async () => {
    expect(await tableWithAges(["get", "meshservices", "--mesh", "tables"], [api.creationTime, web.creationTime])).toBe(
      [
        "MESH     NAME   ZONE   VIPS          PORTS                     AGE",
        "tables   api    -      241.0.0.200   8080:9090/grpc,8443/tcp   <age>",
        "tables   web    -      241.0.0.201   80/http                   <age>",
        "",
      ].join("\n"),
    );
    expect(await tableWithAges(["get", "meshservice", "web", "--mesh", "tables"], [web.creationTime])).toBe(
      [
        "MESH     NAME   ZONE   VIPS          PORTS     AGE",
        "tables   web    -      241.0.0.201   80/http   <age>",
        "",
      ].join("\n"),
    );
  });

  it("prints the server's objects with -o json and -o yaml: a list as an array, one as an object", async () => {
    expect(JSON.parse(await ok(["get", "meshservices", "--mesh", "tables", "-o", "json"]))).toEqual([api, web]);
    const yaml = await ok(["-o", "yaml", "get", "meshservices", "--mesh", "tables"]);
    expect(yaml.startsWith("- type: MeshService\n  mesh: tables\n  name: api\n")).toBe(true);
    expect(parseYaml(yaml)).toEqual([api, web]);
    expect(JSON.parse(await ok(["get", "meshservices", "web", "--mesh", "tables", "-o", "json"]))).toEqual(web);
    expect(parseYaml(await ok(["get", "meshservices", "web", "--mesh", "tables", "-o", "yaml"]))).toEqual(web);
  });

  it("follows the list's next pages to the end", async () => {
    const names = Array.from({ length: 230 }, (_, index) => `svc-${String(index).padStart(3, "0")}`);
    for (let start = 0; start < names.length; start += 16) {
      await Promise.all(
        names.slice(start, start + 16).map((name) => put("paged", name, { spec: { ports: [{ port: 80 }] } })),
      );
    }
    const listed = JSON.parse(await ok(["get", "meshservices", "--mesh", "paged", "-o", "json"])) as MeshServiceJson[];
    // The API's default page is 100 services: this took three pages.
    expect(listed.map((service) => service.name)).toEqual(names);
    expect(listed).toEqual((await listAll<MeshServiceJson>(global.http, "/meshes/paged/meshservices")).items);
    const table = await ok(["get", "meshservices", "--mesh", "paged"]);
    expect(table.split("\n")).toHaveLength(1 + 230 + 1);
  });

  it("says on stderr that a mesh has no services, and prints an empty list in JSON", async () => {
    expect(await ctl(["get", "meshservices", "--mesh", "empty"])).toMatchObject({
      code: 0,
      stdout: "",
      stderr: "no meshservices in mesh empty\n",
    });
    expect(await ok(["get", "meshservices", "--mesh", "empty", "-o", "json"])).toBe("[]\n");
  });

  it("exits 1 with the server's code and message for a service that does not exist", async () => {
    expect(await ctl(["get", "meshservices", "nope", "--mesh", "tables"])).toMatchObject({
      code: 1,
      stdout: "",
      stderr: "error: NOT_FOUND: MeshService tables/nope not found\n",
    });
  });

  it("deletes a service, printing one line or the deleted object, and then finds nothing", async () => {
    const gone = await put("tables", "gone", { spec: { ports: [{ port: 1 }] } });
    const again = await put("tables", "again", { spec: { ports: [{ port: 2 }] } });
    expect(await ok(["delete", "meshservice", "gone", "--mesh", "tables"])).toBe("meshservice tables/gone deleted\n");
    expect(parseYaml(await ok(["delete", "meshservice", "again", "--mesh", "tables", "-o", "yaml"]))).toEqual(again);
    expect(await ctl(["delete", "meshservice", "gone", "--mesh", "tables"])).toMatchObject({
      code: 1,
      stderr: "error: NOT_FOUND: MeshService tables/gone not found\n",
    });
    expect(gone.status.vips).toHaveLength(1);
  });

  it("exits 1 for a write without an admin token, says how to give one, and changes nothing", async () => {
    expect(await ctl(["delete", "meshservice", "web", "--mesh", "tables"], { noToken: true })).toMatchObject({
      code: 1,
      stdout: "",
      stderr:
        'error: UNAUTHENTICATED: DELETE /meshes/tables/meshservices/web needs an admin token: send "Authorization: Bearer <token>"; ' +
        "the control plane keeps it in the file admin-token of its data directory\n" +
        "hint: give the admin token with --token-file <global data dir>/admin-token (or MOORING_ADMIN_TOKEN_FILE)\n",
    });
    expect(
      await ctl(["--token", "mooring-admin-not-the-right-one-at-all", "apply", "-f", "-"], { input: WEB }),
    ).toMatchObject({
      code: 1,
      stdout: "",
      stderr:
        "error: UNAUTHENTICATED: the admin token is not valid; the control plane keeps it in the file admin-token of its data directory\n",
    });
    expect(await get<MeshServiceJson>("/meshes/tables/meshservices/web")).toEqual(web);
  });

  it("lists VIP leases and shows one with its audit events", async () => {
    const leases = (await listAll<{ ip: string }>(global.http, "/vips")).items;
    const listed = JSON.parse(await ok(["get", "vips", "-o", "json"])) as { ip: string }[];
    expect(listed).toEqual(leases);
    const rows = (await ok(["get", "vips"])).trimEnd().split("\n");
    expect(rows).toHaveLength(1 + leases.length);
    expect(rows[0]?.split(/ {3,}/)).toEqual(["IP", "FAMILY", "STATE", "SERVICE", "PINNED"]);
    expect(rows.find((row) => row.startsWith("241.0.0.201 "))?.split(/ {3,}/)).toEqual([
      "241.0.0.201",
      "IPv4",
      "bound",
      "tables/web",
      "yes",
    ]);

    const lease = await get<{ events: { at: string }[] }>("/vips/241.0.0.201");
    const [rebound, pinned] = lease.events.map((event) => event.at.replace(/\.\d+Z$/, "Z"));
    expect(await ok(["get", "vips", "241.0.0.201"])).toBe(
      [
        "IP            FAMILY   STATE   SERVICE      PINNED",
        "241.0.0.201   IPv4     bound   tables/web   yes",
        "",
        "AT                     EVENT    REASON                                SERVICE",
        `${rebound}   rebind   pinned address taken by its service   tables/web`,
        `${pinned}   pin      operator reserved an address          tables/web`,
        "",
      ].join("\n"),
    );
    expect(JSON.parse(await ok(["get", "vips", "241.0.0.201", "-o", "json"]))).toEqual(lease);
    expect(parseYaml(await ok(["get", "vip", "241.0.0.201", "-o", "yaml"]))).toEqual(lease);
    expect(await ctl(["get", "vips", "241.0.0.254"])).toMatchObject({ code: 1, stdout: "" });
  });
});

describe("mooringctl generate zone-token, get zones, inspect zone, get zone-tokens", () => {
  it("writes a token with `> file` that a real zone connects with and syncs", async () => {
    const dir = await makeTempDir("mooring-e2e-zone-");
    const tokenFile = join(dir, "east.token");
    const shell = await runCommand(
      "sh",
      ["-c", `"${process.execPath}" "${CTL}" generate zone-token --zone east --valid-for 2h > "${tokenFile}"`],
      { env: childEnv({ MOORING_API_URL: global.http, MOORING_ADMIN_TOKEN_FILE: adminTokenFile }), name: NAME },
    );
    expect({ code: shell.code, stdout: shell.stdout, stderr: shell.stderr }).toEqual({
      code: 0,
      stdout: "",
      stderr: "",
    });
    zone = await startZoneProcess({
      zone: "east",
      global: global.grpc,
      dataDir: dir,
      env: { MOORING_ZONE_TOKEN_FILE: tokenFile },
    });
    await waitUntil(
      async () => (await syncOf(zone.http)).state === "synced",
      async () => JSON.stringify(await syncOf(zone.http)),
    );
    expect((await syncOf(zone.http)).sessions).toEqual({ full: 1, incremental: 0, reconcile: 0 });
  });

  it("prints the issued token alone in table mode, and the whole answer with -o json or -o yaml", async () => {
    const token = await ok(["generate", "zone-token", "--zone", "west"]);
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const issued = JSON.parse(
      await ok(["generate", "zone-token", "--zone", "west", "--valid-for", "90m", "-o", "json"]),
    );
    expect(Object.keys(issued)).toEqual(["token", "id", "zone", "issuedAt", "expiresAt", "revokedAt"]);
    expect([issued.zone, issued.revokedAt]).toEqual(["west", null]);
    // Expiry is kept to the second (a JWT's exp).
    expect(Math.abs(Date.parse(issued.expiresAt) - Date.parse(issued.issuedAt) - 90 * 60_000)).toBeLessThan(1000);
    const yaml = parseYaml(await ok(["-o", "yaml", "generate", "zone-token", "--zone", "west"])) as { token: string };
    expect(yaml.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(await ctl(["generate", "zone-token", "--zone", "west", "--valid-for", "forever"])).toMatchObject({
      code: 1,
      stdout: "",
      stderr:
        "error: VALIDATION_FAILED: validFor: expected a duration such as 500ms, 30s, 5m, 1h or 1h30m\n" +
        "  validFor: expected a duration such as 500ms, 30s, 5m, 1h or 1h30m\n",
    });
  });

  it("lists zones and inspects one with the global's values", async () => {
    const status = await get<{ ackedRevision: number; lastSeenAt: string; connectedAt: string; zoneId: string }>(
      "/zones/east",
    );
    expect(await tableWithAges(["get", "zones"], [status.lastSeenAt])).toBe(
      [
        "NAME   ONLINE   MODE   LAG   ACKED   LAST-SEEN",
        `east   yes      full   0     ${String(status.ackedRevision).padEnd(5)}   <age>`,
        "",
      ].join("\n"),
    );
    expect(await ok(["inspect", "zone", "east"])).toBe(
      [
        "Name:               east",
        `Zone ID:            ${status.zoneId}`,
        "Online:             yes",
        `Connected at:       ${status.connectedAt}`,
        `Last seen at:       ${status.lastSeenAt}`,
        `Acked revision:     ${status.ackedRevision}`,
        "Lag:                0",
        "Generation:         1",
        "Mode:               full",
        "Sessions:           full=1 incremental=0 reconcile=0",
        "Upstream watermark: 0",
        "Last error:         -",
        "",
      ].join("\n"),
    );
    expect(await get("/zones/east")).toEqual(status);
    expect(JSON.parse(await ok(["inspect", "zone", "east", "-o", "json"]))).toEqual(status);
    expect(parseYaml(await ok(["inspect", "zone", "east", "-o", "yaml"]))).toEqual(status);
    expect(JSON.parse(await ok(["get", "zones", "-o", "json"]))).toEqual([status]);
    expect(parseYaml(await ok(["get", "zones", "east", "-o", "yaml"]))).toEqual(status);
    expect(await ctl(["inspect", "zone", "nowhere"])).toMatchObject({
      code: 1,
      stdout: "",
      stderr: "error: NOT_FOUND: zone nowhere not found\n",
    });
  });

  it("reads a zone-owned service with NAME --zone, and lists one zone's services with --zone", async () => {
    const written = await requestJson("PUT", `${zone.http}/meshes/default/meshservices/db`, {
      spec: { ports: [{ port: 5432 }] },
    });
    expect(written.status).toBe(201);
    let db: MeshServiceJson | undefined;
    await waitUntil(
      async () => {
        const answer = await requestJson<MeshServiceJson>(
          "GET",
          `${global.http}/meshes/default/zones/east/meshservices/db`,
        );
        db = answer.status === 200 && answer.body.status.vips.length > 0 ? answer.body : undefined;
        return db !== undefined;
      },
      () => "the global never had east's db with a VIP",
    );
    expect(JSON.parse(await ok(["get", "meshservices", "db", "--zone", "east", "-o", "json"]))).toEqual(db);
    expect(JSON.parse(await ok(["get", "meshservices", "--zone", "east", "-o", "json"]))).toEqual([db]);
    const vip = db?.status.vips[0]?.ip ?? "";
    expect(await tableWithAges(["get", "meshservices", "db", "--zone", "east"], [db?.creationTime ?? ""])).toBe(
      [
        `MESH      NAME   ZONE   ${"VIPS".padEnd(vip.length)}   PORTS      AGE`,
        `default   db     east   ${vip.padEnd(4)}   5432/tcp   <age>`,
        "",
      ].join("\n"),
    );
    expect(await ctl(["get", "meshservices", "db"])).toMatchObject({
      code: 1,
      stderr: "error: NOT_FOUND: MeshService default/db not found\n",
    });
  });

  it("lists the issued zone tokens without the tokens themselves", async () => {
    const tokens = (
      await listAll<{ id: string; zone: string; issuedAt: string; expiresAt: string; revokedAt: null }>(
        global.http,
        "/zone-tokens",
      )
    ).items;
    expect(tokens.map((token) => token.zone).sort()).toEqual(["east", "west", "west", "west"]);
    const listed = JSON.parse(await ok(["get", "zone-tokens", "-o", "json"])) as Record<string, unknown>[];
    expect(listed).toEqual(tokens);
    expect(listed.every((token) => !("token" in token))).toBe(true);
    expect(parseYaml(await ok(["get", "zone-tokens", "-o", "yaml"]))).toEqual(tokens);
    const second = (iso: string) => iso.replace(/\.\d+Z$/, "Z");
    expect(await ok(["get", "zone-tokens"])).toBe(
      [
        "ID                                     ZONE   ISSUED                 EXPIRES                REVOKED",
        ...tokens.map(
          (token) =>
            `${token.id}   ${token.zone.padEnd(4)}   ${second(token.issuedAt)}   ${second(token.expiresAt)}   -`,
        ),
        "",
      ].join("\n"),
    );
  });
});

describe("mooringctl exit statuses and connections", () => {
  it.each([
    [["bogus"], "error: unknown command 'bogus'"],
    [["generate", "zone-token"], "error: required option '--zone <zone>' not specified"],
    [
      ["get", "zones", "-o", "xml"],
      "error: option '-o, --output <format>' argument 'xml' is invalid. Allowed choices are table, json, yaml.",
    ],
  ])("exits 2 with commander's usage on stderr for %j", async (args, first) => {
    const result = await ctl(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.split("\n")[0]).toBe(first);
    expect(result.stderr).toMatch(/^Usage: mooringctl /m);
  });

  it("exits 1 naming the URL it could not reach", async () => {
    const port = await freePort();
    expect(await ctl(["get", "zones"], { env: { MOORING_API_URL: `http://127.0.0.1:${port}` } })).toMatchObject({
      code: 1,
      stdout: "",
      stderr:
        `error: cannot reach the Mooring API at http://127.0.0.1:${port}: connection refused (ECONNREFUSED); ` +
        "is the global running there? (--api-url, MOORING_API_URL)\n",
    });
  });

  it("with --wait, waits for a global that is still starting and for its admin-token file", async () => {
    const port = await freePort();
    const dataDir = await makeTempDir();
    const waiting = ctl(
      ["--wait", "30s", "--token-file", join(dataDir, "admin-token"), "generate", "zone-token", "--zone", "late"],
      { env: { MOORING_API_URL: `http://127.0.0.1:${port}` } },
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const late = await startGlobalProcess({ dataDir, env: { MOORING_HTTP_ADDR: `127.0.0.1:${port}` } });
    const result = await waiting;
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const tokens = await listAll<{ zone: string }>(late.http, "/zone-tokens");
    expect(tokens.items.map((token) => token.zone)).toEqual(["late"]);
    await late.stop();
  });

  it("trusts the CA given with --ca for an https:// API URL, and fails without it", async () => {
    const certs = makeCertificates(await makeTempDir("mooring-e2e-certs-"));
    const secure = await startGlobalProcess({
      env: { MOORING_TLS_CERT: certs.serverCert, MOORING_TLS_KEY: certs.serverKey },
    });
    const https = secure.http.replace(/^http:/, "https:");
    const env = { MOORING_API_URL: https, MOORING_ADMIN_TOKEN_FILE: join(secure.dataDir, "admin-token") };
    expect(await ok(["--ca", certs.ca, "generate", "zone-token", "--zone", "tls", "-o", "json"], { env })).toMatch(
      /"zone": "tls"/,
    );
    expect(await ok(["get", "zone-tokens", "-o", "json"], { env: { ...env, MOORING_API_CA: certs.ca } })).toMatch(
      /"zone": "tls"/,
    );
    const untrusted = await ctl(["get", "zones"], { env });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(
      new RegExp(
        `^error: cannot reach the Mooring API at ${https.replace(/\./g, "\\.")}: .+; pass the CA that signed its certificate with --ca\\n$`,
      ),
    );
    await secure.stop();
  });

  it("never prints the admin token, not in help, errors or any output of this file", async () => {
    const token = global.adminToken ?? "";
    expect(token).toMatch(/^mooring-admin-/);
    await ctl(["--help"], { env: { MOORING_ADMIN_TOKEN: token } });
    await ctl(["--token", token, "get", "meshservices", "nope"]);
    await ctl(["--token", token, "apply", "-f", "-"], { input: "name: x\n" });
    await ctl(["--token", token, "--api-url", "http://127.0.0.1:1", "get", "zones"]);
    expect(printed.length).toBeGreaterThanOrEqual(8);
    expect(printed.filter((text) => text.includes(token))).toEqual([]);
  });
});
