// Reads the file given to `mooringctl apply -f`: YAML or JSON (JSON is YAML 1.2), holding one
// resource, a list of them (a sequence, or a mapping with `items`), or several YAML documents
// separated by `---`. Everything is checked before anything is sent, and every problem is reported
// with where it is: "document 2, item 3: mesh: is required".
import { parseAllDocuments } from "yaml";
import { UsageError } from "./errors.js";

/** The resource types apply knows. */
export const APPLY_TYPES = ["MeshService"] as const;

export interface ApplyResource {
  readonly type: (typeof APPLY_TYPES)[number];
  readonly mesh: string;
  readonly name: string;
  /** The resource as written in the file: the body of the PUT. */
  readonly body: Readonly<Record<string, unknown>>;
  /** Where it is in the file: "document 1" or "document 2, item 3". */
  readonly origin: string;
}

/** The file could not be read as resources; `problems` lists each one with its place. */
export class ApplyFileError extends UsageError {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(
      problems.length === 1
        ? `${source}: ${problems[0]}`
        : `${source} has ${problems.length} problems:\n${problems.map((problem) => `  ${problem}`).join("\n")}`,
    );
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}

/** The problems of one resource, each prefixed with its origin and field. */
function check(value: unknown, origin: string): string[] {
  if (!isMapping(value)) {
    return [`${origin}: expected a resource (a mapping with type, mesh, name and spec), got ${kindOf(value)}`];
  }
  const problems: string[] = [];
  const expected = APPLY_TYPES.join(", ");
  if (value.type === undefined) problems.push(`${origin}: type: is required (${expected})`);
  else if (!(APPLY_TYPES as readonly unknown[]).includes(value.type)) {
    problems.push(`${origin}: type: ${JSON.stringify(value.type)} is not a type apply knows (${expected})`);
  }
  for (const field of ["mesh", "name"] as const) {
    if (value[field] === undefined) problems.push(`${origin}: ${field}: is required`);
    else if (typeof value[field] !== "string" || value[field] === "") {
      problems.push(`${origin}: ${field}: must be a non-empty string, got ${kindOf(value[field])}`);
    }
  }
  if (value.zone !== undefined) {
    problems.push(
      `${origin}: zone: a zone's MeshServices are written through that zone's API; ` +
        "remove zone to apply a global-owned service",
    );
  }
  if (value.spec === undefined) problems.push(`${origin}: spec: is required`);
  else if (!isMapping(value.spec)) problems.push(`${origin}: spec: must be a mapping, got ${kindOf(value.spec)}`);
  if (value.labels !== undefined && !isMapping(value.labels)) {
    problems.push(`${origin}: labels: must be a mapping, got ${kindOf(value.labels)}`);
  }
  return problems;
}

/**
 * The resources of an apply file, in file order. Throws an ApplyFileError listing every problem
 * (syntax, missing or wrong fields, the same resource twice, no resource at all).
 */
export function parseApplyFile(text: string, source: string): ApplyResource[] {
  const problems: string[] = [];
  const resources: ApplyResource[] = [];
  const seen = new Map<string, string>();

  const take = (value: unknown, origin: string) => {
    const found = check(value, origin);
    if (found.length > 0 || !isMapping(value)) {
      problems.push(...found);
      return;
    }
    const resource: ApplyResource = {
      type: value.type as ApplyResource["type"],
      mesh: value.mesh as string,
      name: value.name as string,
      body: value,
      origin,
    };
    const key = `${resource.type}:${resource.mesh}/${resource.name}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push(`${origin}: repeats ${resource.type} ${resource.mesh}/${resource.name} of ${first}`);
      return;
    }
    seen.set(key, origin);
    resources.push(resource);
  };

  for (const [index, document] of parseAllDocuments(text, { uniqueKeys: true }).entries()) {
    const where = `document ${index + 1}`;
    const [error] = document.errors;
    if (error) {
      // The first line carries the reason and "at line L, column C"; the rest is a code excerpt.
      problems.push(`${where}: ${(error.message.split("\n")[0] ?? "").replace(/:$/, "")}`);
      continue;
    }
    let value: unknown;
    try {
      value = document.toJS();
    } catch (cause) {
      problems.push(`${where}: ${(cause as Error).message}`);
      continue;
    }
    if (value === null || value === undefined) continue; // an empty document, e.g. after a final `---`
    const items = Array.isArray(value)
      ? value
      : isMapping(value) && value.type === undefined && Array.isArray(value.items)
        ? value.items
        : undefined;
    if (items === undefined) take(value, where);
    else for (const [position, item] of items.entries()) take(item, `${where}, item ${position + 1}`);
  }
  if (problems.length === 0 && resources.length === 0) problems.push("holds no resource");
  if (problems.length > 0) throw new ApplyFileError(source, problems);
  return resources;
}
