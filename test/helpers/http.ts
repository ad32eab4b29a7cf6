// JSON over the global's REST API with Node's global fetch (undici).

export interface JsonResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
}

export interface MeshServiceJson {
  readonly type: string;
  readonly mesh: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly spec: { ports: Array<{ port: number; appProtocol?: string }> };
  readonly status: { vips: Array<{ ip: string }> };
  readonly revision: number;
  readonly contentHash: string;
  readonly creationTime: string;
  readonly modificationTime: string;
}

export interface LeaseJson {
  readonly ip: string;
  readonly family: number;
  readonly mesh: string;
  readonly zone?: string;
  readonly name: string;
  readonly state: string;
  readonly pinned: boolean;
}

export interface PageJson<T> {
  readonly total: number;
  readonly items: T[];
  readonly next: string | null;
}

/** Admin tokens by origin (`http://127.0.0.1:<port>`): the process helpers register each server's. */
const adminTokens = new Map<string, string>();

/** Every request this module (or `authHeaders`) makes to `base`'s origin carries this admin token. */
export function authorize(base: string, token: string): void {
  adminTokens.set(new URL(base).origin, token);
}

/** `{authorization: "Bearer …"}` for a server whose admin token was registered, `{}` otherwise. */
export function authHeaders(url: string): Record<string, string> {
  const token = adminTokens.get(new URL(url).origin);
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

export async function requestJson<T = unknown>(method: string, url: string, body?: unknown): Promise<JsonResponse<T>> {
  const response = await fetch(url, {
    method,
    headers: { ...authHeaders(url), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${url} answered ${response.status} with a body that is not JSON: ${text.slice(0, 500)}`);
  }
  return { status: response.status, body: parsed as T };
}

export function putMeshService(
  base: string,
  mesh: string,
  name: string,
  body: unknown,
): Promise<JsonResponse<MeshServiceJson>> {
  return requestJson<MeshServiceJson>("PUT", `${base}/meshes/${mesh}/meshservices/${name}`, body);
}

/** Every item of a paginated list, following `next`; checks that `total` holds still across pages. */
export async function listAll<T>(base: string, path: string, size = 1000): Promise<{ total: number; items: T[] }> {
  const items: T[] = [];
  let total: number | undefined;
  let next: string | null = `${path}?offset=0&size=${size}`;
  while (next !== null) {
    const page: JsonResponse<PageJson<T>> = await requestJson<PageJson<T>>("GET", `${base}${next}`);
    if (page.status !== 200) throw new Error(`GET ${next} answered ${page.status}: ${JSON.stringify(page.body)}`);
    if (total !== undefined && page.body.total !== total) {
      throw new Error(`GET ${next}: total changed from ${total} to ${page.body.total} between pages`);
    }
    total = page.body.total;
    items.push(...page.body.items);
    if (page.body.items.length === 0 && page.body.next !== null) throw new Error(`GET ${next}: empty page with a next`);
    next = page.body.next;
  }
  return { total: total ?? 0, items };
}
