// JSON over the global's REST API, with node:http and node:https (the latter so that `--ca` can name
// the one CA to trust). The admin token is sent on every request when one is configured and never
// appears in a message. With a wait deadline, a refused connection, a name that does not resolve
// yet and a token file that is missing or still empty are retried until the deadline: the global
// may still be starting.
import { readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { ApiError, ConnectionError, type FieldProblem, UsageError } from "./errors.js";

export interface TokenSource {
  /** The token itself (`--token`, MOORING_ADMIN_TOKEN). */
  readonly token?: string;
  /** A file holding it (`--token-file`, MOORING_ADMIN_TOKEN_FILE), read before the first request. */
  readonly file?: string;
}

export interface ApiClientOptions {
  /** `http(s)://host:port`, optionally with a path prefix. */
  readonly apiUrl: URL;
  readonly auth?: TokenSource;
  /** PEM CA bundle trusted for an https:// API URL (instead of the system's CAs). */
  readonly ca?: Buffer;
  /** Until this time (ms since the epoch) unreachable APIs and missing token files are retried. */
  readonly waitUntil?: number;
  /** How long one request may take; default 30 s. */
  readonly requestTimeoutMs?: number;
}

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
}

/** A list answer of the API. */
interface Page<T> {
  readonly total: number;
  readonly items: T[];
  readonly next: string | null;
}

export interface ApiClient {
  /** The API URL without a trailing slash, for messages. */
  readonly baseUrl: string;
  /** Sends one request; an error status is thrown as an ApiError. */
  request<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  get<T>(path: string): Promise<T>;
  /** Every item of a paged list, following `next` until the last page. */
  list<T>(path: string): Promise<T[]>;
}

/** System error codes that mean "not up (yet)": retried while waiting, never otherwise. */
const RETRYABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

const REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** A token file that is not there yet (missing, or created but not yet written): a wait retries it. */
class TokenFileNotReady extends UsageError {}

function readTokenFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = errnoOf(error) ?? "unreadable";
    const message = `cannot read the admin token file ${file} (${code})`;
    throw code === "ENOENT" ? new TokenFileNotReady(message) : new UsageError(message);
  }
  const token = text.trim();
  if (token === "") throw new TokenFileNotReady(`the admin token file ${file} is empty`);
  // The token itself is never shown, only what is wrong with it.
  if (/\s/.test(token)) throw new UsageError(`the admin token file ${file} must hold one token without spaces`);
  return token;
}

function toApiError(status: number, body: unknown, text: string): ApiError {
  const record = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof record.code === "string" && typeof record.message === "string") {
    const details = Array.isArray(record.details)
      ? (record.details as unknown[]).filter(
          (detail): detail is FieldProblem =>
            typeof (detail as FieldProblem | null)?.field === "string" &&
            typeof (detail as FieldProblem | null)?.reason === "string",
        )
      : [];
    return new ApiError(status, record.code, record.message, details);
  }
  return new ApiError(status, `HTTP_${status}`, text.trim().slice(0, 500) || "(no body)", []);
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const { apiUrl } = options;
  const https = apiUrl.protocol === "https:";
  if (!https && apiUrl.protocol !== "http:") {
    throw new UsageError(`the API URL ${apiUrl.href} must start with http:// or https://`);
  }
  if (options.auth?.token !== undefined && (options.auth.token === "" || /\s/.test(options.auth.token))) {
    throw new UsageError("the admin token must be one word without spaces");
  }
  const baseUrl = apiUrl.href.replace(/\/+$/, "");
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  // Keep-alive sockets are unref'd by Node's agents while idle, so they never hold the process open.
  const agent = https
    ? new HttpsAgent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) })
    : new HttpAgent({ keepAlive: true });
  const send = https ? httpsRequest : httpRequest;
  const waiting = () => options.waitUntil !== undefined && Date.now() < options.waitUntil;
  let token: string | undefined = options.auth?.token;
  let tokenRead = token !== undefined || options.auth?.file === undefined;

  /** Retries `attempt` while waiting and `retryable` says so; the last failure is thrown. */
  async function withWait<T>(attempt: () => Promise<T>, retryable: (error: unknown) => boolean): Promise<T> {
    let delay = 100;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (!retryable(error) || !waiting()) throw error;
      }
      await sleep(Math.min(delay, Math.max(0, (options.waitUntil ?? 0) - Date.now())));
      delay = Math.min(delay * 2, 1000);
    }
  }

  async function resolveToken(): Promise<string | undefined> {
    if (tokenRead) return token;
    const file = options.auth?.file ?? "";
    token = await withWait(
      async () => readTokenFile(file),
      (error) => error instanceof TokenFileNotReady,
    );
    tokenRead = true;
    return token;
  }

  function once(method: string, url: URL, payload: string | undefined, bearer: string | undefined) {
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const requestOptions: RequestOptions = {
        method,
        agent,
        headers: {
          accept: "application/json",
          ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
          ...(payload === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
        },
        timeout: timeoutMs,
      };
      const request = send(url, requestOptions, (response: IncomingMessage) => {
        response.setEncoding("utf8");
        let text = "";
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
        response.on("error", reject);
      });
      request.on("timeout", () => {
        request.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: "ETIMEDOUT" }));
      });
      request.on("error", reject);
      request.end(payload);
    });
  }

  function connectionError(error: unknown): ConnectionError {
    const errno = errnoOf(error);
    const reason = (errno && REASONS[errno]) ?? (error as Error).message;
    const code = errno && !reason.includes(errno) ? ` (${errno})` : "";
    const hint =
      errno === "ECONNREFUSED" || errno === "ENOTFOUND"
        ? "; is the global running there? (--api-url, MOORING_API_URL)"
        : https && errno !== undefined && /CERT|SIGNATURE|SELF_SIGNED/.test(errno)
          ? "; pass the CA that signed its certificate with --ca"
          : "";
    return new ConnectionError(`cannot reach the Mooring API at ${baseUrl}: ${reason}${code}${hint}`, errno);
  }

  async function request<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const bearer = await resolveToken();
    const url = new URL(baseUrl + path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const answer = await withWait(
      () =>
        once(method, url, payload, bearer).then(
          (result) => {
            // A 503 while waiting is a server that is up but not ready yet.
            if (result.status === 503 && waiting()) throw Object.assign(new Error("not ready"), { code: "ENOTREADY" });
            return result;
          },
          (error: unknown) => {
            throw RETRYABLE.has(errnoOf(error) ?? "") ? error : connectionError(error);
          },
        ),
      (error) => RETRYABLE.has(errnoOf(error) ?? "") || errnoOf(error) === "ENOTREADY",
    ).catch((error: unknown) => {
      throw error instanceof ConnectionError ? error : connectionError(error);
    });
    let parsed: unknown;
    if (answer.text !== "") {
      try {
        parsed = JSON.parse(answer.text);
      } catch {
        if (answer.status >= 400) throw toApiError(answer.status, undefined, answer.text);
        throw new ConnectionError(
          `${method} ${baseUrl}${path} answered ${answer.status} with a body that is not JSON: ` +
            answer.text.slice(0, 200),
        );
      }
    }
    if (answer.status >= 400) throw toApiError(answer.status, parsed, answer.text);
    return { status: answer.status, body: parsed as T };
  }

  return {
    baseUrl,
    request,
    async get<T>(path: string) {
      return (await request<T>("GET", path)).body;
    },
    async list<T>(path: string) {
      const items: T[] = [];
      const seen = new Set<string>();
      let next: string | null = path;
      while (next !== null) {
        if (seen.has(next)) throw new ConnectionError(`GET ${baseUrl}${next}: the API returned the same page twice`);
        seen.add(next);
        const page: Page<T> = (await request<Page<T>>("GET", next)).body;
        if (!Array.isArray(page?.items)) {
          throw new ConnectionError(`GET ${baseUrl}${next} answered something that is not a list`);
        }
        items.push(...page.items);
        next = page.items.length === 0 ? null : page.next;
      }
      return items;
    },
  };
}
