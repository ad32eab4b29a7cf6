// The README's configuration tables must list every setting with its real default and flag, the
// global's and the zone's each in its own section.
import { readFileSync } from "node:fs";
import { GLOBAL_SETTINGS } from "@mooring/global";
import { ZONE_SETTINGS } from "@mooring/zone";
import { describe, expect, it } from "vitest";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The table rows (cells trimmed) between a heading and the next heading of the same or higher level. */
function rowsUnder(heading: string): string[][] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no heading ${JSON.stringify(heading)}`);
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(/\n#{2,3} /);
  return (end < 0 ? rest : rest.slice(0, end))
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) => line.split("|").map((cell) => cell.trim()));
}

const sections = [
  ["### Global (`mooring-global`)", GLOBAL_SETTINGS],
  ["### Zone (`mooring-zone`)", ZONE_SETTINGS],
] as const;

describe("README", () => {
  for (const [heading, settings] of sections) {
    const rows = rowsUnder(heading);
    it.each(Object.values(settings))(`${heading}: documents $env with its flag and default`, (setting) => {
      const row = rows.find((cells) => cells[1] === `\`${setting.env}\``);
      expect(row, `${setting.env} is missing from the table under ${heading}`).toBeDefined();
      expect(row?.[2]).toBe(`\`--${setting.flag}\``);
      expect(row?.[3]).toBe(`\`${setting.default}\``);
    });

    it(`${heading}: documents nothing that is not a setting`, () => {
      const documented = rows.slice(2).map((cells) => cells[1]);
      expect(documented).toEqual(Object.values(settings).map((setting) => `\`${setting.env}\``));
    });
  }

  it("shows the two commands a newcomer runs", () => {
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toContain("npm ci && npm test");
  });
});
