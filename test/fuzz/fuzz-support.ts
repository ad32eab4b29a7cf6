// Shared pieces of the fuzz suite (issue 4): the seed and run counts, the tally each target prints,
// generators of valid MeshService bodies and the mutations applied to them, and the REST error
// contract every rejected request must follow.
//
// Replay a failure with the seed the failure message prints: MOORING_FUZZ_SEED=<seed> npx vitest run
// <file>. MOORING_FUZZ_SCALE=10 runs ten times as many inputs (the default keeps the suite ~1 min on
// two cores).
import fc from "fast-check";
import { expect } from "vitest";

export const FUZZ_SEED = Number(process.env.MOORING_FUZZ_SEED ?? 20_261_120);
const SCALE = Number(process.env.MOORING_FUZZ_SCALE ?? 1);

export function runs(base: number): number {
  return Math.max(1, Math.round(base * SCALE));
}

/**
 * fc.assert with the suite's fixed seed; a failure names the target, the seed and the shrunk input so
 * that it can be replayed exactly.
 */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  target: string,
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IAsyncProperty<Ts>,
  numRuns: number,
): Promise<void> {
  try {
    await fc.assert(property, { seed: FUZZ_SEED, numRuns: runs(numRuns), endOnFailure: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const cause =
      error instanceof Error && error.cause instanceof Error
        ? (error.cause.stack ?? error.cause.message).split("\n").slice(0, 12).join("\n")
        : "";
    const short = message.length > 4000 ? `${message.slice(0, 4000)}…` : message;
    throw new Error(`[fuzz] ${target} failed; replay with MOORING_FUZZ_SEED=${FUZZ_SEED}\n${cause}\n${short}`);
  }
}

/** Counts the inputs a target received, by outcome, and prints one line per target. */
export class Tally {
  private readonly counts = new Map<string, number>();
  private total = 0;
  constructor(readonly target: string) {}

  add(outcome: string, n = 1): void {
    this.total += n;
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + n);
  }

  get inputs(): number {
    return this.total;
  }

  print(): void {
    const parts = [...this.counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
    console.log(`[fuzz] ${this.target}: ${this.total} inputs (${parts.join(", ")}) seed ${FUZZ_SEED}`);
  }
}

// --- the REST error contract --------------------------------------------------------------------

/** README "Error codes": the HTTP status each code is answered with. */
export const HTTP_STATUS_OF: Readonly<Record<string, number>> = {
  MALFORMED_REQUEST: 400,
  HEADERS_TOO_LARGE: 431,
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  VIP_OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  ZONE_OWNED: 405,
  REVISION_CONFLICT: 409,
  VIP_CONFLICT: 409,
  LEASE_IN_USE: 409,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VIP_EXHAUSTED: 507,
};

export interface RestAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

/**
 * A refused request: a 4xx, JSON, `{code, message, details: [{field, reason}]}` with a known code
 * whose status is the documented one. Returns the code.
 */
export function expectRestError(answer: RestAnswer, context: string): string {
  const where = `${context} -> ${answer.status} ${answer.body.slice(0, 300)}`;
  expect(answer.status, where).toBeGreaterThanOrEqual(400);
  expect(answer.status, where).toBeLessThan(500);
  expect(answer.contentType ?? "", where).toMatch(/^application\/json/);
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    throw new Error(`not JSON: ${where}`);
  }
  const shaped = body as { code?: unknown; message?: unknown; details?: unknown };
  expect(Object.keys(shaped).sort(), where).toEqual(["code", "details", "message"]);
  expect(typeof shaped.code, where).toBe("string");
  expect(typeof shaped.message, where).toBe("string");
  expect(Array.isArray(shaped.details), where).toBe(true);
  for (const detail of shaped.details as unknown[]) {
    expect(Object.keys(detail as object).sort(), where).toEqual(["field", "reason"]);
    expect(typeof (detail as { field: unknown }).field, where).toBe("string");
    expect(typeof (detail as { reason: unknown }).reason, where).toBe("string");
  }
  const code = shaped.code as string;
  expect(HTTP_STATUS_OF[code], `unknown code ${code}: ${where}`).toBe(answer.status);
  if (code === "VALIDATION_FAILED") expect((shaped.details as unknown[]).length, where).toBeGreaterThan(0);
  return code;
}

// --- valid MeshService bodies -------------------------------------------------------------------

export const dnsLabel: fc.Arbitrary<string> = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,12}[a-z0-9])?$/);
/** A DNS label with a letter in it: a port name, never a port number. */
const portName = fc.stringMatching(/^[a-z]([-a-z0-9]{0,10}[a-z0-9])?$/);
const labelName = fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,14}[A-Za-z0-9])?$/);
const labelKey = fc.oneof(
  { weight: 4, arbitrary: labelName },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.stringMatching(/^[a-z0-9]{1,8}\.[a-z]{2,4}$/), labelName).map(([p, n]) => `${p}/${n}`),
  },
);
const labelValue = fc.oneof(fc.constant(""), labelName);
const identityValue = fc.string({
  minLength: 1,
  maxLength: 40,
  unit: "binary",
});

export interface PortBody {
  name?: string;
  port: number;
  targetPort?: number | string;
  appProtocol?: string;
}

export interface SpecBody {
  selector?: { dataplaneTags?: Record<string, string>; dataplaneRef?: { name: string } };
  ports: PortBody[];
  identities?: Array<{ type: string; value: string }>;
}

export interface PutBody {
  labels?: Record<string, string>;
  spec: SpecBody;
}

const ports: fc.Arbitrary<PortBody[]> = fc
  .uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 1, maxLength: 4 })
  .chain((numbers) =>
    fc
      .tuple(
        fc.uniqueArray(portName, { minLength: numbers.length, maxLength: numbers.length }),
        fc.array(
          fc.record(
            {
              targetPort: fc.oneof(fc.integer({ min: 1, max: 65535 }), dnsLabel),
              appProtocol: fc.constantFrom("tcp", "http", "http2", "grpc", "kafka"),
            },
            { requiredKeys: [] },
          ),
          { minLength: numbers.length, maxLength: numbers.length },
        ),
        fc.boolean(),
      )
      .map(([names, extras, nameSingle]) =>
        numbers.map((port, i) => ({
          ...(numbers.length > 1 || nameSingle ? { name: names[i] as string } : {}),
          port,
          ...extras[i],
        })),
      ),
  );

export const validSpec: fc.Arbitrary<SpecBody> = fc.record(
  {
    selector: fc.record(
      {
        dataplaneTags: fc.dictionary(labelKey, labelName, { maxKeys: 3 }),
        dataplaneRef: fc.record({ name: dnsLabel }),
      },
      { requiredKeys: [] },
    ),
    ports,
    identities: fc.array(fc.record({ type: fc.constantFrom("ServiceTag", "SpiffeID"), value: identityValue }), {
      maxLength: 3,
    }),
  },
  { requiredKeys: ["ports"] },
);

export const validBody: fc.Arbitrary<PutBody> = fc.record(
  { labels: fc.dictionary(labelKey, labelValue, { maxKeys: 4 }), spec: validSpec },
  { requiredKeys: ["spec"] },
);

// --- mutations ----------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** JSON values of every shape, small. */
export const anyJson: fc.Arbitrary<Json> = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>;

const weirdStrings = fc.constantFrom(
  "NaN",
  "Infinity",
  "-Infinity",
  "1e309",
  "0x50",
  " 80",
  "80",
  "-0",
  "",
  "null",
  "true",
  "\u0000",
  "\ud800",
  "\u202e\u0645\u0631\u062d\u0628\u0627",
  "💥",
  "Ａ",
  "a".repeat(64),
  "../../etc/passwd",
  "<script>",
  "' OR 1=1 --",
);

const weirdNumbers = fc.constantFrom(
  -1,
  0,
  0.5,
  -0.5,
  65535,
  65536,
  2 ** 31,
  2 ** 32,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  1e300,
  -1e300,
  Number.MIN_VALUE,
);

/** A value a well-formed body never has where it is put. */
const replacement: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  weirdNumbers,
  weirdStrings,
  fc.constant<Json>([]),
  fc.constant<Json>({}),
  anyJson,
  fc.string({ unit: "binary", maxLength: 30 }),
);

export type Mutation =
  | { kind: "replace"; at: number; value: Json }
  | { kind: "delete"; at: number }
  | { kind: "extra"; at: number; key: string; value: Json }
  | { kind: "protoKey"; at: number; key: "__proto__" | "constructor" | "prototype"; value: Json }
  | { kind: "hugeString"; at: number; length: number }
  | { kind: "hugeArray"; at: number; length: number }
  | { kind: "deep"; at: number; depth: number; array: boolean };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("replace"), at: fc.nat(), value: replacement }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete"), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("extra"),
      at: fc.nat(),
      key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("protocol", "vips", "zone", "status", "id")),
      value: anyJson,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("protoKey"),
      at: fc.nat(),
      key: fc.constantFrom("__proto__", "constructor", "prototype"),
      value: fc.oneof(fc.constant({ polluted: true }), fc.constant({ prototype: { polluted: true } }), anyJson),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("hugeString"),
      at: fc.nat(),
      length: fc.integer({ min: 254, max: 300_000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("hugeArray"),
      at: fc.nat(),
      length: fc.integer({ min: 33, max: 20_000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("deep"),
      at: fc.nat(),
      depth: fc.integer({ min: 50, max: 5000 }),
      array: fc.boolean(),
    }),
  },
);

interface Slot {
  /** The container holding the value (undefined for the root). */
  parent: Json[] | { [key: string]: Json } | undefined;
  key: string | number | undefined;
  value: Json;
}

/** Places a mutation can hit: shallow ones only (a huge or deep value earlier is a leaf here). */
function slots(root: Json): Slot[] {
  const found: Slot[] = [{ parent: undefined, key: undefined, value: root }];
  const visit = (value: Json, depth: number) => {
    if (depth > 8 || found.length > 200) return;
    if (Array.isArray(value)) {
      value.slice(0, 20).forEach((child, i) => {
        found.push({ parent: value, key: i, value: child });
        visit(child, depth + 1);
      });
    } else if (value !== null && typeof value === "object") {
      for (const [key, child] of Object.entries(value).slice(0, 20)) {
        found.push({ parent: value, key, value: child });
        visit(child, depth + 1);
      }
    }
  };
  visit(root, 0);
  return found;
}

/** Own data property, even for "__proto__" (a plain assignment would set the prototype instead). */
function setOwn(target: { [key: string]: Json }, key: string, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function put(slot: Slot, value: Json): Json | undefined {
  if (slot.parent === undefined) return value;
  if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
  else setOwn(slot.parent, slot.key as string, value);
  return undefined;
}

const DEEP = /"\\u0000deep:(\d+):(array|object)\\u0000"/g;

/** A marker `serialize` expands into `depth` nested arrays or objects (too deep for JSON.stringify). */
function nest(depth: number, array: boolean): Json {
  return `\u0000deep:${depth}:${array ? "array" : "object"}\u0000`;
}

/** JSON text of a mutated document, deep-nesting markers expanded. */
export function serialize(document: Json): string {
  return JSON.stringify(document).replace(DEEP, (_, depth: string, kind: string) =>
    kind === "array"
      ? `${"[".repeat(Number(depth))}1${"]".repeat(Number(depth))}`
      : `${'{"a":'.repeat(Number(depth))}1${"}".repeat(Number(depth))}`,
  );
}

/** Applies mutations to a deep copy of `body`; returns the mutated document. */
export function applyMutations(body: unknown, mutations: readonly Mutation[]): Json {
  let root = structuredClone(body) as Json;
  for (const m of mutations) {
    const all = slots(root);
    const slot = all[m.at % all.length] as Slot;
    const containers = all.filter(
      (s) => s.value !== null && typeof s.value === "object" && !Array.isArray(s.value),
    ) as Array<Slot & { value: { [key: string]: Json } }>;
    const container = containers.length > 0 ? containers[m.at % containers.length] : undefined;
    switch (m.kind) {
      case "replace":
        root = put(slot, m.value) ?? root;
        break;
      case "delete":
        if (slot.parent === undefined) root = null;
        else if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
        else delete slot.parent[slot.key as string];
        break;
      case "extra":
        if (container) setOwn(container.value, m.key, m.value);
        break;
      case "protoKey":
        if (container) setOwn(container.value, m.key, m.value);
        break;
      case "hugeString":
        root = put(slot, "x".repeat(m.length)) ?? root;
        break;
      case "hugeArray":
        root =
          put(
            slot,
            Array.from(
              { length: m.length },
              (_, i) => (Array.isArray(slot.value) && typeof slot.value[0] !== "object" ? slot.value[0] : i) ?? i,
            ),
          ) ?? root;
        break;
      case "deep":
        root = put(slot, nest(m.depth, m.array)) ?? root;
        break;
    }
  }
  return root;
}

/** Text-level damage to a JSON document: things no object can express. */
export type TextMutation =
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; text: string }
  | { kind: "bigNumber"; literal: string }
  | { kind: "duplicateKey" }
  | { kind: "comment" }
  | { kind: "trailingComma" }
  | { kind: "bom" };

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate"), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert"),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom("{", "}", "[", "]", ",", ":", '"', "\\", "\u0000", "\n", "'"),
      fc.string({ maxLength: 4 }),
    ),
  }),
  fc.record({
    kind: fc.constant("bigNumber"),
    literal: fc.constantFrom(
      "1e400",
      "-1e400",
      "1e-400",
      "123456789012345678901234567890",
      "-0",
      "0.0000001e7",
      "80.0",
    ),
  }),
  fc.record({ kind: fc.constant("duplicateKey") }),
  fc.record({ kind: fc.constant("comment") }),
  fc.record({ kind: fc.constant("trailingComma") }),
  fc.record({ kind: fc.constant("bom") }),
);

export function applyTextMutation(text: string, m: TextMutation): string {
  switch (m.kind) {
    case "truncate":
      return text.slice(0, m.at % Math.max(1, text.length));
    case "insert": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case "bigNumber":
      // Every number literal, e.g. a port or a revision, becomes one JSON.parse turns into
      // Infinity, 0, a rounded integer or a float with an integral value.
      return text.replace(/(?<=[:[,])-?\d+(\.\d+)?([eE][-+]?\d+)?(?=[,\]}])/g, m.literal);
    case "duplicateKey":
      return text.replace(/^\{/, '{"spec":{"ports":[{"port":0}]},');
    case "comment":
      return text.replace(/^\{/, "{/* c */");
    case "trailingComma":
      return text.replace(/\}$/, ",}");
    case "bom":
      return `\ufeff${text}`;
  }
}
