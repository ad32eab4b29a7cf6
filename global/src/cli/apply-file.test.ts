import { describe, expect, it } from "vitest";
import { ApplyFileError, parseApplyFile } from "./apply-file.js";
import { EXIT, exitCodeOf } from "./errors.js";

const web = "type: MeshService\nmesh: default\nname: web\nspec:\n  ports: [{port: 80}]\n";

/** The problems parseApplyFile reports for `text`, or a failure if it reports none. */
function problemsOf(text: string): readonly string[] {
  try {
    parseApplyFile(text, "f.yaml");
  } catch (error) {
    if (error instanceof ApplyFileError) return error.problems;
    throw error;
  }
  throw new Error("no problem reported");
}

describe("parseApplyFile", () => {
  it("reads one YAML resource as written, the PUT body", () => {
    expect(parseApplyFile(`${web}labels:\n  app: web\n`, "f.yaml")).toEqual([
      {
        type: "MeshService",
        mesh: "default",
        name: "web",
        origin: "document 1",
        body: {
          type: "MeshService",
          mesh: "default",
          name: "web",
          labels: { app: "web" },
          spec: { ports: [{ port: 80 }] },
        },
      },
    ]);
  });

  it("reads several documents separated by ---, numbered as YAML does, skipping empty ones", () => {
    const text = `---\n${web}---\n# nothing here\n---\n${web.replace("web", "api")}---\n`;
    const resources = parseApplyFile(text, "f.yaml");
    expect(resources.map((resource) => [resource.name, resource.origin])).toEqual([
      ["web", "document 1"],
      ["api", "document 3"],
    ]);
  });

  it("reads a JSON array and a mapping with items, numbering the items", () => {
    const json = JSON.stringify([
      { type: "MeshService", mesh: "a", name: "x", spec: { ports: [{ port: 1 }] } },
      { type: "MeshService", mesh: "a", name: "y", spec: { ports: [{ port: 2 }] } },
    ]);
    expect(
      parseApplyFile(json, "f.json").map((resource) => `${resource.mesh}/${resource.name} ${resource.origin}`),
    ).toEqual(["a/x document 1, item 1", "a/y document 1, item 2"]);
    const list = `items:\n  - type: MeshService\n    mesh: b\n    name: z\n    spec: {ports: [{port: 3}]}\n`;
    expect(
      parseApplyFile(list, "f.yaml").map((resource) => `${resource.mesh}/${resource.name} ${resource.origin}`),
    ).toEqual(["b/z document 1, item 1"]);
  });

  it("names the document and the field of every missing or wrong field, in file order", () => {
    const text = [
      "type: Mesh\nname: 3\n",
      "mesh: default\nname: web\nspec: [80]\nlabels: app\n",
      "- type: MeshService\n  mesh: ''\n  name: x\n  zone: east\n  spec: {}\n- 5\n",
    ].join("---\n");
    expect(problemsOf(text)).toEqual([
      'document 1: type: "Mesh" is not a type apply knows (MeshService)',
      "document 1: mesh: is required",
      "document 1: name: must be a non-empty string, got a number",
      "document 1: spec: is required",
      "document 2: type: is required (MeshService)",
      "document 2: spec: must be a mapping, got a list",
      "document 2: labels: must be a mapping, got a string",
      "document 3, item 1: mesh: must be a non-empty string, got a string",
      "document 3, item 1: zone: a zone's MeshServices are written through that zone's API; remove zone to apply a global-owned service",
      "document 3, item 2: expected a resource (a mapping with type, mesh, name and spec), got a number",
    ]);
  });

  it("reports a YAML syntax error with its document, line and column", () => {
    expect(problemsOf(`${web}---\nfoo: [1,\n`)).toEqual([
      "document 2: Flow sequence in block collection must be sufficiently indented and end with a ] at line 8, column 1",
    ]);
    expect(problemsOf("type: MeshService\ntype: MeshService\n")).toEqual([
      "document 1: Map keys must be unique at line 2, column 1",
    ]);
  });

  it("refuses the same resource twice, and a file without resources", () => {
    expect(problemsOf(`${web}---\n${web}`)).toEqual(["document 2: repeats MeshService default/web of document 1"]);
    expect(problemsOf("")).toEqual(["holds no resource"]);
    expect(problemsOf("---\n# only a comment\n")).toEqual(["holds no resource"]);
  });

  it("is a usage error (exit status 2) whose message lists each problem under the file name", () => {
    let error: unknown;
    try {
      parseApplyFile("- 1\n- 2\n", "services.yaml");
    } catch (caught) {
      error = caught;
    }
    expect((error as Error).message).toBe(
      "services.yaml has 2 problems:\n" +
        "  document 1, item 1: expected a resource (a mapping with type, mesh, name and spec), got a number\n" +
        "  document 1, item 2: expected a resource (a mapping with type, mesh, name and spec), got a number",
    );
    expect(exitCodeOf(error)).toBe(EXIT.usage);
    expect(() => parseApplyFile('{"type": "MeshService", "mesh": "a", "name": "b"}', "one.json")).toThrow(
      /^one\.json: document 1: spec: is required$/,
    );
  });
});
