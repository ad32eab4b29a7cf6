// Fails when the committed generated code differs from a fresh `buf generate`: regenerate with
// `npm run generate` and commit the result.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const protoDir = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../../node_modules/.bin/${name}`, import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

describe("generated protobuf code", () => {
  const out = mkdtempSync(join(tmpdir(), "mooring-gen-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("matches a fresh generation from the .proto files", () => {
    const template = join(out, "buf.gen.yaml");
    writeFileSync(
      template,
      readFileSync(join(protoDir, "buf.gen.yaml"), "utf8").replace("out: src/gen", `out: ${join(out, "gen")}`),
    );
    execFileSync(bin("buf"), ["generate", "--template", template], {
      cwd: protoDir,
      env: {
        ...process.env,
        PATH: `${fileURLToPath(new URL("../../node_modules/.bin", import.meta.url))}:${process.env.PATH}`,
      },
      stdio: "pipe",
    });
    const committed = join(protoDir, "src/gen");
    const fresh = join(out, "gen");
    expect(files(fresh)).toEqual(files(committed));
    for (const file of files(committed)) {
      expect(readFileSync(join(fresh, file), "utf8"), `${file} is stale: run npm run generate`).toBe(
        readFileSync(join(committed, file), "utf8"),
      );
    }
  });

  it("passes buf lint", () => {
    expect(() => execFileSync(bin("buf"), ["lint"], { cwd: protoDir, stdio: "pipe" })).not.toThrow();
  });
});
