// The command line without a server: help, version and every kind of bad usage (exit status 2).
// Commands that reach a global are tested against a real one in test/e2e/cli.test.ts.
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runCli } from "./program.js";

async function run(argv: string[], stdin = "") {
  let stdout = "";
  let stderr = "";
  const status = await runCli(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from([stdin]),
  });
  return { status, stdout, stderr };
}

describe("mooringctl", () => {
  it("prints its help on stdout with --help and exits 0", async () => {
    const { status, stdout, stderr } = await run(["--help"]);
    expect(status).toBe(0);
    expect(stderr).toBe("");
    expect(stdout.split("\n")[0]).toBe("Usage: mooringctl [options] [command]");
    for (const command of ["get", "inspect", "apply [options]", "delete", "generate"]) {
      expect(stdout).toMatch(new RegExp(`^  ${command.replace(/[[\]]/g, "\\$&")} `, "m"));
    }
  });

  it("prints the version of the global package with --version", async () => {
    expect(await run(["--version"])).toEqual({ status: 0, stdout: "0.1.0\n", stderr: "" });
  });

  it.each([
    [[], "Usage: mooringctl [options] [command]"],
    [["bogus"], "error: unknown command 'bogus'"],
    [["get", "services"], "error: unknown command 'services'"],
    [["get", "meshservices", "--bad"], "error: unknown option '--bad'"],
    [["get", "zones", "a", "b"], "error: too many arguments for 'zones'. Expected 1 argument but got 2."],
    [["generate", "zone-token"], "error: required option '--zone <zone>' not specified"],
    [["inspect", "zone"], "error: missing required argument 'name'"],
    [["apply"], "error: required option '-f, --file <file>' not specified"],
    [
      ["-o", "xml", "get", "zones"],
      "error: option '-o, --output <format>' argument 'xml' is invalid. Allowed choices are table, json, yaml.",
    ],
    [
      ["--wait", "soon", "get", "zones"],
      "error: option '--wait <duration>' argument 'soon' is invalid. expected a duration such as 500ms, 30s, 5m, 1h or 1h30m",
    ],
    [
      ["--api-url", "ftp://example.com", "get", "zones"],
      "error: option '--api-url <url>' argument 'ftp://example.com' is invalid. expected an http:// or https:// URL",
    ],
  ])("exits 2 with the usage for %j", async (argv, first) => {
    const { status, stdout, stderr } = await run(argv);
    expect(status).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.split("\n")[0]).toBe(first);
    expect(stderr).toContain("Usage: mooringctl");
  });

  it("exits 2 for an apply file that cannot be read, naming it, before any request", async () => {
    const { status, stderr } = await run(["--api-url", "http://127.0.0.1:1", "apply", "-f", "/nonexistent/web.yaml"]);
    expect(status).toBe(2);
    expect(stderr.split("\n")[0]).toBe("error: cannot read /nonexistent/web.yaml (ENOENT)");
    expect(stderr).toContain("Usage: mooringctl apply [options]");
  });

  it("exits 2 for a malformed file on stdin, listing its problems, before any request", async () => {
    const { status, stderr } = await run(
      ["--api-url", "http://127.0.0.1:1", "apply", "-f", "-"],
      "type: MeshService\nmesh: default\nspec: {ports: [{port: 80}]}\n",
    );
    expect(status).toBe(2);
    expect(stderr.split("\n")[0]).toBe("error: stdin: document 1: name: is required");
  });

  it("exits 2 for a token file that cannot be read, without contacting the API", async () => {
    const { status, stderr } = await run([
      "--api-url",
      "http://127.0.0.1:1",
      "--token-file",
      "/nonexistent/admin-token",
      "get",
      "zones",
    ]);
    expect(status).toBe(2);
    expect(stderr.split("\n")[0]).toBe("error: cannot read the admin token file /nonexistent/admin-token (ENOENT)");
  });

  it("exits 1 naming the URL when nothing listens there", async () => {
    expect(await run(["--api-url", "http://127.0.0.1:1", "get", "zones"])).toEqual({
      status: 1,
      stdout: "",
      stderr:
        "error: cannot reach the Mooring API at http://127.0.0.1:1: connection refused (ECONNREFUSED); " +
        "is the global running there? (--api-url, MOORING_API_URL)\n",
    });
  });
});
