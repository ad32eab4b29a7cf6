// Fuzzing a running global over real HTTP (issue 4): what app.inject() cannot express. Raw request
// bytes, broken request lines and headers, wrong and missing content types, chunked bodies (over the
// limit, malformed), bodies that are not UTF-8, giant headers, path traversal and percent-encoding.
// The server answers every request it can read with a 4xx in the {code, message, details} shape (never
// a 5xx), stays up, and a refused request changes nothing it stores.
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGlobal, type TestGlobal } from "../../global/src/sync/sync-harness.js";
import { expectRestError, fuzz, Tally, validBody } from "./fuzz-support.js";

interface RawResponse {
  /** Undefined when the server closed the connection without answering. */
  readonly status?: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly timedOut: boolean;
}

let g: TestGlobal;
let token = "";
let host = "";
let port = 0;
let db: Database.Database;

/** Writes `request` on a fresh connection and reads until the server closes it, or `timeoutMs`. */
function raw(request: Buffer | string, timeoutMs = 3000, halfClose = false): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ ...parse(Buffer.concat(chunks)), timedOut });
    });
    socket.write(request, () => {
      if (halfClose) socket.end();
    });
  });
}

/** The first HTTP/1.1 response in `bytes` (Content-Length or chunked). */
function parse(bytes: Buffer): Omit<RawResponse, "timedOut"> {
  const text = bytes.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return { headers: {}, body: "" };
  const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let rest = bytes.subarray(end + 4);
  let body: Buffer;
  if (headers["transfer-encoding"] === "chunked") {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = rest.indexOf("\r\n");
      const size = Number.parseInt(rest.subarray(0, lineEnd).toString("latin1"), 16);
      if (!(size > 0)) break;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else {
    const length = Number(headers["content-length"] ?? rest.length);
    body = rest.subarray(0, length);
  }
  return { status: Number.isNaN(status) ? undefined : status, headers, body: body.toString("utf8") };
}

function request(method: string, path: string, headers: Array<[string, string]>, body?: Buffer | string): Buffer {
  const bytes = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  const lines = [`${method} ${path} HTTP/1.1`, "Host: mooring", "Connection: close"];
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  if (bytes && !headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k))) {
    lines.push(`Content-Length: ${bytes.length}`);
  }
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), bytes ?? Buffer.alloc(0)]);
}

function chunked(body: string, chunkSize: number): string {
  let out = "";
  for (let i = 0; i < body.length; i += chunkSize) {
    const part = body.slice(i, i + chunkSize);
    out += `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`;
  }
  return `${out}0\r\n\r\n`;
}

/** Stored state as the database holds it, plus the lists clients read. */
async function state(): Promise<string> {
  const rows = {
    head: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").pluck().get(),
    resources: db.prepare("SELECT * FROM resources ORDER BY type, mesh, zone, name").all(),
    leases: db.prepare("SELECT * FROM vip_leases ORDER BY ip").all(),
    tokens: db.prepare("SELECT * FROM zone_tokens ORDER BY id").all(),
    zones: db.prepare("SELECT * FROM zones ORDER BY name").all(),
  };
  const lists = await Promise.all(
    ["/meshes/default/meshservices?size=1000", "/vips?size=1000", "/zone-tokens?size=1000"].map(async (path) =>
      (await fetch(`${g.http}${path}`)).text(),
    ),
  );
  return JSON.stringify({ rows, lists });
}

/**
 * A request the server could not even read (a broken request line, headers too large): Node answers
 * it before any route runs, in Mooring's shape like every other answer.
 */
function expectClientError(response: RawResponse, context: string): void {
  const where = `${context} -> ${response.status} ${response.body.slice(0, 200)}`;
  expect(response.status, where).toBeGreaterThanOrEqual(400);
  expect(response.status, where).toBeLessThan(500);
  expectRestError(
    { status: response.status ?? 0, contentType: response.headers["content-type"], body: response.body },
    context,
  );
}

const tally = new Tally("global HTTP (raw sockets)");
let before = "";

beforeAll(async () => {
  g = await startTestGlobal({ MOORING_AUTH: "on", MOORING_HTTP_BODY_LIMIT: "64KiB" });
  token = readFileSync(join(g.dataDir, "admin-token"), "utf8").trim();
  [host = "", port = 0] = ((address) =>
    [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))] as const)(
    g.running.httpAddress,
  );
  db = new Database(join(g.dataDir, "global.db"), { readonly: true, fileMustExist: true });
  const created = await raw(
    request(
      "PUT",
      "/meshes/default/meshservices/web",
      [
        ["Authorization", `Bearer ${token}`],
        ["Content-Type", "application/json"],
      ],
      JSON.stringify({ spec: { ports: [{ port: 80 }] } }),
    ),
  );
  expect(created.status).toBe(201);
  before = await state();
});

afterAll(async () => {
  tally.print();
  db.close();
  await g.close();
});

/** After a refused request: nothing stored changed, and the global still answers. */
async function expectUnchangedAndServing(context: string): Promise<void> {
  expect(await state(), `state changed by ${context}`).toBe(before);
  expect((await fetch(`${g.http}/readyz`)).status).toBe(200);
}

describe("global REST over real HTTP", () => {
  it("answers the cases inject cannot express exactly", async () => {
    const auth: [string, string] = ["Authorization", `Bearer ${token}`];
    const json: [string, string] = ["Content-Type", "application/json"];
    const put = "/meshes/default/meshservices/web";
    const spec = { ports: [{ port: 81 }] };
    const notUtf8 = Buffer.concat([
      Buffer.from('{"spec":{"ports":[{"port":81}]},"labels":{"a":"'),
      Buffer.from([0xff, 0xfe, 0xc0, 0x80]),
      Buffer.from('"}}'),
    ]);
    const notUtf8Key = Buffer.concat([
      Buffer.from('{"spec":{"ports":[{"port":81}]},"labels":{"'),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('":"a"}}'),
    ]);
    const big = JSON.stringify({ spec, labels: { a: "x".repeat(70_000) } });
    const cases: Array<{ what: string; bytes: Buffer; status: number; code: string; halfClose?: boolean }> = [
      {
        what: "a chunked body over the limit",
        bytes: request("PUT", put, [auth, json, ["Transfer-Encoding", "chunked"]], chunked(big, 8192)),
        status: 413,
        code: "BODY_TOO_LARGE",
      },
      {
        what: "a Content-Length over the limit, body never sent",
        bytes: request("PUT", put, [auth, json, ["Content-Length", "10000000000"]]),
        status: 413,
        code: "BODY_TOO_LARGE",
      },
      {
        what: "a label value that is not UTF-8",
        bytes: request("PUT", put, [auth, json], notUtf8),
        status: 400,
        code: "VALIDATION_FAILED",
      },
      {
        what: "a label key that is a UTF-8-encoded surrogate",
        bytes: request("PUT", put, [auth, json], notUtf8Key),
        status: 400,
        code: "VALIDATION_FAILED",
      },
      {
        what: "a chunked body that is not JSON",
        bytes: request("PUT", put, [auth, json, ["Transfer-Encoding", "chunked"]], chunked("{spec:", 3)),
        status: 400,
        code: "MALFORMED_JSON",
      },
      {
        what: "a gzip Content-Encoding",
        bytes: request(
          "PUT",
          put,
          [auth, json, ["Content-Encoding", "gzip"]],
          Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]),
        ),
        status: 400,
        code: "MALFORMED_JSON",
      },
      {
        what: "no Content-Type",
        bytes: request("PUT", put, [auth], JSON.stringify({ spec })),
        status: 415,
        code: "UNSUPPORTED_MEDIA_TYPE",
      },
      {
        what: "Content-Type text/plain",
        bytes: request("PUT", put, [auth, ["Content-Type", "text/plain"]], JSON.stringify({ spec })),
        status: 415,
        code: "UNSUPPORTED_MEDIA_TYPE",
      },
      {
        what: "a UTF-16 body",
        bytes: request(
          "PUT",
          put,
          [auth, ["Content-Type", "application/json; charset=utf-16le"]],
          Buffer.from(JSON.stringify({ spec }), "utf16le"),
        ),
        status: 400,
        code: "MALFORMED_JSON",
      },
      {
        what: "an Authorization of 8 KB",
        bytes: request("PUT", put, [["Authorization", `Bearer ${"a".repeat(8192)}`], json], JSON.stringify({ spec })),
        status: 401,
        code: "UNAUTHENTICATED",
      },
      {
        what: "an Authorization with latin-1 bytes",
        bytes: Buffer.concat([
          Buffer.from(
            `PUT ${put} HTTP/1.1\r\nHost: m\r\nConnection: close\r\nAuthorization: Bearer \xe9\xff\xfe\r\n\r\n`,
            "latin1",
          ),
        ]),
        status: 401,
        code: "UNAUTHENTICATED",
      },
      {
        what: "the token in a query string, not the header",
        bytes: request("PUT", `${put}?access_token=${token}`, [json], JSON.stringify({ spec })),
        status: 401,
        code: "UNAUTHENTICATED",
      },
      {
        what: "a traversal to another route",
        bytes: request("GET", "/meshes/default/meshservices/..%2f..%2fvips", []),
        status: 400,
        code: "VALIDATION_FAILED",
      },
      {
        what: "a literal traversal",
        bytes: request("DELETE", "/meshes/default/../../vips/241.0.0.1", [auth]),
        status: 404,
        code: "ROUTE_NOT_FOUND",
      },
      {
        what: "an encoded NUL in a name",
        bytes: request("DELETE", "/meshes/default/meshservices/web%00", [auth]),
        status: 400,
        code: "VALIDATION_FAILED",
      },
      {
        what: "an overlong UTF-8 dot",
        bytes: request("GET", "/meshes/default/meshservices/%C0%AE", []),
        status: 400,
        code: "VALIDATION_FAILED",
      },
    ];
    for (const c of cases) {
      const response = await raw(c.bytes, 5000, c.halfClose);
      expect(response.timedOut, c.what).toBe(false);
      const code = expectRestError(
        { status: response.status ?? 0, contentType: response.headers["content-type"], body: response.body },
        c.what,
      );
      expect({ what: c.what, status: response.status, code }).toEqual({ what: c.what, status: c.status, code: c.code });
      tally.add(`${response.status} exact`);
      await expectUnchangedAndServing(c.what);
    }
  });

  it("answers requests it cannot parse with a 4xx and keeps serving", async () => {
    const auth = `Authorization: Bearer ${token}\r\n`;
    const cases: Array<[string, Buffer | string, number]> = [
      [
        "a giant header",
        `GET /vips HTTP/1.1\r\nHost: m\r\nX-Big: ${"a".repeat(20_000)}\r\nConnection: close\r\n\r\n`,
        431,
      ],
      [
        "a giant Authorization",
        `PUT /meshes/default/meshservices/web HTTP/1.1\r\nHost: m\r\nAuthorization: Bearer ${"a".repeat(70_000)}\r\nConnection: close\r\n\r\n`,
        431,
      ],
      [
        "10,000 headers",
        `GET /vips HTTP/1.1\r\nHost: m\r\n${"X-A: b\r\n".repeat(10_000)}Connection: close\r\n\r\n`,
        431,
      ],
      ["an unknown method", "BREW /vips HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n", 400],
      ["garbage", "\u0000\u0001\u0002garbage\r\n\r\n", 400],
      [
        "a control character in a header",
        "GET /vips HTTP/1.1\r\nHost: m\r\nX-A: a\u0001b\r\nConnection: close\r\n\r\n",
        400,
      ],
      [
        "two different Content-Lengths",
        `PUT /meshes/default/meshservices/web HTTP/1.1\r\nHost: m\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{}`,
        400,
      ],
      [
        "Content-Length with Transfer-Encoding",
        `PUT /meshes/default/meshservices/web HTTP/1.1\r\nHost: m\r\n${auth}Content-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
        400,
      ],
      [
        "a chunk size that is not hex",
        `PUT /meshes/default/meshservices/web HTTP/1.1\r\nHost: m\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
        400,
      ],
      ["a space in the request target", "GET /vi ps HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n", 400],
      ["an HTTP version that is not one", "GET /vips HTTP/x.y\r\nHost: m\r\nConnection: close\r\n\r\n", 400],
    ];
    for (const [what, bytes, status] of cases) {
      const response = await raw(bytes, 5000);
      expect(response.timedOut, what).toBe(false);
      expect(response.status, what).toBe(status);
      expectClientError(response, what);
      tally.add(`${status} unparseable`);
      await expectUnchangedAndServing(what);
    }
  });

  it("bodies cut short, or never finished, leave nothing behind and do not wedge the server", async () => {
    const body = JSON.stringify({ spec: { ports: [{ port: 82 }] } });
    for (const cut of [0, 1, 10, body.length - 1]) {
      const bytes = request(
        "PUT",
        "/meshes/default/meshservices/web",
        [
          ["Authorization", `Bearer ${token}`],
          ["Content-Type", "application/json"],
          ["Content-Length", String(body.length)],
        ],
        body.slice(0, cut),
      );
      // The client half-closes without the rest of the body; whatever the server says, it is not a 5xx.
      const response = await raw(bytes, 3000, true);
      expect(response.timedOut).toBe(false);
      if (response.status !== undefined) expect(response.status).toBeLessThan(500);
      tally.add(`cut at ${cut}: ${response.status ?? "closed"}`);
      await expectUnchangedAndServing(`a body cut at ${cut}`);
    }
  });

  it("random raw requests never get a 5xx, and refused ones change nothing", async () => {
    const method = fc.oneof(
      fc.constantFrom("GET", "PUT", "DELETE", "POST", "PATCH", "HEAD", "OPTIONS"),
      fc.stringMatching(/^[A-Z]{1,8}$/),
    );
    const pathByte = fc.oneof(
      fc.constantFrom(
        "/meshes/default/meshservices/web",
        "/meshes/default/meshservices",
        "/vips/241.0.0.1",
        "/vips",
        "/zones/east",
        "/zone-tokens",
        "/meshes/default/zones/east/meshservices/web",
      ),
      fc
        .array(
          fc.oneof(
            fc.constantFrom(
              "meshes",
              "default",
              "meshservices",
              "web",
              "vips",
              "..",
              ".",
              "%2e%2e",
              "%2F",
              "%00",
              "%20",
              "%ff",
              "~",
              "241.0.0.1",
            ),
            fc.stringMatching(/^[!-~]{0,6}$/),
          ),
          { maxLength: 6 },
        )
        .map((parts) => `/${parts.join("/")}`),
    );
    const header = fc.oneof(
      fc.constant<[string, string]>(["Authorization", "TOKEN"]),
      fc.tuple(
        fc.constant("Authorization"),
        fc.oneof(
          fc.stringMatching(/^[ -~]{0,40}$/),
          fc.constantFrom("Bearer", "Basic YWRtaW46YWRtaW4=", "Bearer TOKENx", "bearer  TOKEN"),
        ),
      ),
      fc.tuple(
        fc.constant("Content-Type"),
        fc.oneof(
          fc.constantFrom(
            "application/json",
            "text/plain",
            "application/json; charset=latin1",
            "multipart/form-data",
            "",
          ),
          fc.stringMatching(/^[ -~]{0,20}$/),
        ),
      ),
      fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,12}$/), fc.stringMatching(/^[ -~]{0,30}$/)),
    );
    const body = fc.oneof(
      validBody.map((b) => Buffer.from(JSON.stringify(b))),
      fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
      fc.string({ maxLength: 100 }).map((s) => Buffer.from(s)),
    );
    await fuzz(
      "raw HTTP requests",
      fc.asyncProperty(
        method,
        pathByte,
        fc.array(header, { maxLength: 4 }),
        fc.option(body),
        fc.boolean(),
        async (m, path, headers, payload, asChunks) => {
          const resolved = headers.map(([k, v]) => [k, v.replace("TOKEN", token)] as [string, string]);
          const bytes =
            payload && asChunks
              ? request(
                  m,
                  path,
                  [...resolved, ["Transfer-Encoding", "chunked"]],
                  chunked(payload.toString("latin1"), 7),
                )
              : request(m, path, resolved, payload ?? undefined);
          const response = await raw(bytes, 3000, false);
          const context = `${m} ${path} ${JSON.stringify(resolved).slice(0, 200)}`;
          expect(response.timedOut, context).toBe(false);
          expect(response.status, context).toBeDefined();
          expect(response.status, `${context} -> ${response.body.slice(0, 200)}`).toBeLessThan(500);
          tally.add(`${response.status}`);
          if ((response.status ?? 0) < 300) {
            before = await state();
            return;
          }
          if (m === "HEAD") return;
          if (
            response.headers["content-type"]?.startsWith("application/json") &&
            "statusCode" in JSON.parse(response.body)
          ) {
            expectClientError(response, context);
          } else {
            expectRestError(
              { status: response.status ?? 0, contentType: response.headers["content-type"], body: response.body },
              context,
            );
          }
          expect(await state(), `state changed by a refused ${context}`).toBe(before);
        },
      ),
      120,
    );
    expect((await fetch(`${g.http}/readyz`)).status).toBe(200);
  });
});
