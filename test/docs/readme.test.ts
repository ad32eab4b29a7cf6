// The README's configuration table must list every setting with its real default and flag.
import { readFileSync } from "node:fs";
import { GLOBAL_SETTINGS } from "@mooring/global";
import { describe, expect, it } from "vitest";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it.each(Object.values(GLOBAL_SETTINGS))("documents $env with its flag and default", (setting) => {
    const rows = readme
      .split("\n")
      .filter((line) => line.startsWith("|"))
      .map((line) => line.split("|").map((cell) => cell.trim()));
    const row = rows.find((cells) => cells[1] === `\`${setting.env}\``);
    expect(row, `${setting.env} is missing from the configuration table`).toBeDefined();
    expect(row?.[2]).toBe(`\`--${setting.flag}\``);
    expect(row?.[3]).toBe(`\`${setting.default}\``);
  });

  it("shows the two commands a newcomer runs", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm ci && npm test");
  });
});
