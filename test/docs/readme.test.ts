// The README's configuration table must list every setting with its real default and flag.
import { readFileSync } from "node:fs";
import { GLOBAL_SETTINGS } from "@mooring/global";
import { describe, expect, it } from "vitest";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it.each(Object.values(GLOBAL_SETTINGS))("documents $env with its flag and default", (setting) => {
    const row = readme.split("\n").find((line) => line.startsWith(`| \`${setting.env}\` |`));
    expect(row, `${setting.env} is missing from the configuration table`).toBeDefined();
    expect(row).toContain(`\`--${setting.flag}\``);
    expect(row).toContain(`\`${setting.default}\``);
  });

  it("shows the two commands a newcomer runs", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm ci && npm test");
  });
});
