import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadOrCreateAdminToken } from "./admin-token.js";
import { writeSecretFile } from "./secret-file.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "mooring-secret-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("admin token", () => {
  it("is created once, owner-only, and matched in constant time against what clients present", () => {
    const dir = tempDir();
    const first = loadOrCreateAdminToken(dir);
    const token = readFileSync(join(dir, "admin-token"), "utf8").trim();
    expect(first.created).toBe(true);
    expect(statSync(first.path).mode & 0o777).toBe(0o600);
    expect(first.matches(token)).toBe(true);
    expect(first.matches(`${token}x`)).toBe(false);
    expect(first.matches("")).toBe(false);
    const again = loadOrCreateAdminToken(dir);
    expect(again.created).toBe(false);
    expect(again.matches(token)).toBe(true);
  });

  it("uses a token an operator wrote, and refuses one too short to be a secret", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "admin-token"), "an-operator-chosen-token-of-enough-length\n");
    expect(loadOrCreateAdminToken(dir).matches("an-operator-chosen-token-of-enough-length")).toBe(true);
    writeFileSync(join(dir, "admin-token"), "short\n");
    expect(() => loadOrCreateAdminToken(dir)).toThrow(/must hold one token of at least 24 characters/);
  });
});

describe("secret files", () => {
  it("are created only when absent, so two processes on one data dir agree on one secret", () => {
    const path = join(tempDir(), "secret");
    expect(writeSecretFile(path, "first\n")).toBe(true);
    expect(writeSecretFile(path, "second\n")).toBe(false);
    expect(readFileSync(path, "utf8")).toBe("first\n");
    expect(writeSecretFile(path, "third\n", { replace: true })).toBe(true);
    expect(readFileSync(path, "utf8")).toBe("third\n");
  });
});
