// The HTTP client against a small scripted server on 127.0.0.1:0: paging, error bodies, the admin
// token, and waiting for a server that is not up yet.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createApiClient } from "./client.js";
import { ApiError, ConnectionError, UsageError } from "./errors.js";

type Handler = (request: IncomingMessage) => { status: number; body: string };

const servers: Server[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function serve(handler: Handler, port = 0): Promise<{ url: URL; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((request, response) => {
    seen.push(request);
    const { status, body } = handler(request);
    response.writeHead(status, { "content-type": "application/json" }).end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), seen };
}

/** A port nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mooringctl-"));
  dirs.push(dir);
  return dir;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error,
  );
}

describe("createApiClient", () => {
  it("follows next until the last page and sends the admin token read from its file", async () => {
    const pages: Record<string, unknown> = {
      "/zones": { total: 3, items: [{ n: 1 }, { n: 2 }], next: "/zones?offset=2&size=2" },
      "/zones?offset=2&size=2": { total: 3, items: [{ n: 3 }], next: null },
    };
    const { url, seen } = await serve((request) => ({ status: 200, body: JSON.stringify(pages[request.url ?? ""]) }));
    const dir = await tempDir();
    await writeFile(join(dir, "admin-token"), "mooring-admin-secret-secret-secret\n");
    const client = createApiClient({ apiUrl: url, auth: { file: join(dir, "admin-token") } });
    expect(await client.list("/zones")).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(seen.map((request) => [request.url, request.headers.authorization])).toEqual([
      ["/zones", "Bearer mooring-admin-secret-secret-secret"],
      ["/zones?offset=2&size=2", "Bearer mooring-admin-secret-secret-secret"],
    ]);
  });

  it("keeps a path prefix of the API URL and sends no authorization without a token", async () => {
    const { url, seen } = await serve(() => ({ status: 200, body: "{}" }));
    const client = createApiClient({ apiUrl: new URL(`${url.href}mooring/`) });
    expect(await client.get("/zones/east")).toEqual({});
    expect(seen.map((request) => [request.url, request.headers.authorization])).toEqual([
      ["/mooring/zones/east", undefined],
    ]);
  });

  it("throws the server's error body as an ApiError, and any other error body as HTTP_<status>", async () => {
    const body = {
      code: "VALIDATION_FAILED",
      message: "spec.ports[0].port: must be <= 65535",
      details: [{ field: "spec.ports[0].port", reason: "must be <= 65535" }],
    };
    const { url } = await serve((request) =>
      request.url === "/bad" ? { status: 400, body: JSON.stringify(body) } : { status: 502, body: "Bad Gateway" },
    );
    const client = createApiClient({ apiUrl: url });
    const refused = (await failure(client.request("PUT", "/bad", { spec: {} }))) as ApiError;
    expect(refused).toBeInstanceOf(ApiError);
    expect([refused.status, refused.code, refused.message, refused.details]).toEqual([
      400,
      body.code,
      body.message,
      body.details,
    ]);
    const proxied = (await failure(client.get("/other"))) as ApiError;
    expect([proxied.status, proxied.code, proxied.message]).toEqual([502, "HTTP_502", "Bad Gateway"]);
  });

  it("names the URL it could not reach", async () => {
    const port = await freePort();
    const error = await failure(createApiClient({ apiUrl: new URL(`http://127.0.0.1:${port}`) }).get("/zones"));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).message).toBe(
      `cannot reach the Mooring API at http://127.0.0.1:${port}: connection refused (ECONNREFUSED); ` +
        "is the global running there? (--api-url, MOORING_API_URL)",
    );
  });

  it("with a wait, retries a refused connection and a missing token file until both are there", async () => {
    const port = await freePort();
    const dir = await tempDir();
    const tokenFile = join(dir, "admin-token");
    const client = createApiClient({
      apiUrl: new URL(`http://127.0.0.1:${port}`),
      auth: { file: tokenFile },
      waitUntil: Date.now() + 20_000,
    });
    const answer = client.request("POST", "/zone-tokens", { zone: "east", validFor: "1h" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await writeFile(tokenFile, "mooring-admin-later-later-later-later\n");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { seen } = await serve(() => ({ status: 201, body: '{"token":"t"}' }), port);
    expect(await answer).toEqual({ status: 201, body: { token: "t" } });
    expect(seen.map((request) => [request.method, request.headers.authorization])).toEqual([
      ["POST", "Bearer mooring-admin-later-later-later-later"],
    ]);
  });

  it("refuses a token (or token file) holding more than one word without showing it", async () => {
    const dir = await tempDir();
    const tokenFile = join(dir, "admin-token");
    await writeFile(tokenFile, "mooring-admin-one two\n");
    const error = await failure(
      createApiClient({ apiUrl: new URL("http://127.0.0.1:1"), auth: { file: tokenFile } }).get("/zones"),
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(`the admin token file ${tokenFile} must hold one token without spaces`);
    expect(() =>
      createApiClient({ apiUrl: new URL("http://127.0.0.1:1"), auth: { token: "mooring-admin-one\ntwo" } }),
    ).toThrow(new UsageError("the admin token must be one word without spaces"));
  });
});
