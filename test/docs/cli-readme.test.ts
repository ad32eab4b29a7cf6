// The README's CLI section must document every mooringctl command, argument and option, and every
// global option with its environment variable and default, as the program itself defines them.
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { createProgram } from "../../global/src/cli/program.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const start = readme.indexOf("\n## CLI (`mooringctl`)\n");
const section = start < 0 ? "" : readme.slice(start, readme.indexOf("\n## ", start + 1));
const rows = section.split("\n").filter((line) => line.startsWith("| `"));

const silent = { write: () => true };
const program = createProgram({ stdout: silent, stderr: silent, stdin: Readable.from([]) }, () => {});

/** Every runnable command, with its path from the program: "get meshservices". */
function leaves(command: Command, path: string[] = []): { path: string; command: Command }[] {
  if (command.commands.length === 0) return [{ path: path.join(" "), command }];
  return command.commands.flatMap((sub) => leaves(sub, [...path, sub.name()]));
}

/** The table row whose first cell starts with `text` followed by a space or the closing backquote. */
function rowOf(text: string): string | undefined {
  return rows.find((row) => row.startsWith(`| \`${text} `) || row.startsWith(`| \`${text}\``));
}

describe("README: CLI (`mooringctl`)", () => {
  it("has the section", () => {
    expect(start).toBeGreaterThan(0);
  });

  it.each(leaves(program))("documents `$path` with its arguments and options", ({ path, command }) => {
    const row = rowOf(path);
    expect(row, `no row for ${path}`).toBeDefined();
    for (const argument of command.registeredArguments) {
      const name = argument.name().toUpperCase();
      expect(row).toContain(argument.required ? ` ${name}` : `[${name}]`);
    }
    for (const option of command.options) {
      const named = [option.long, option.short].filter((flag) => flag !== undefined).map((flag) => `${flag} `);
      expect(
        named.some((flag) => row?.includes(flag)),
        `${path}: ${option.flags} is not in its row`,
      ).toBe(true);
    }
  });

  it.each(program.options.filter((option) => !["--version", "--help"].includes(option.long ?? "")))(
    "documents the global option $long with its environment variable and default",
    (option) => {
      const row = rowOf(option.short ? `${option.short}, ${option.long}` : (option.long ?? ""));
      expect(row, `no row for ${option.long}`).toBeDefined();
      const cells = (row ?? "").split("|").map((cell) => cell.trim());
      expect(cells[2]).toBe(option.envVar ? `\`${option.envVar}\`` : "");
      expect(cells[3]).toBe(
        option.defaultValue === undefined ? "" : `\`${option.defaultValueDescription ?? option.defaultValue}\``,
      );
    },
  );
});
