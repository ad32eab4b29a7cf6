// Secrets kept in a data directory (the admin token, the zone-token signing key): written once,
// atomically, readable by the owner only, so a crash mid-write never leaves half a secret behind.
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Writes `contents` to `path` via a temporary file, fsynced, mode 0600. By default the file is
 * created only if `path` does not exist yet (a hard link, which fails with EEXIST, instead of a
 * rename), so two processes starting on one data dir agree on one secret: the loser gets false and
 * reads the winner's.
 */
export function writeSecretFile(path: string, contents: string, options: { replace?: boolean } = {}): boolean {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (options.replace) {
    renameSync(temporary, path);
  } else {
    try {
      linkSync(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      return false;
    } finally {
      unlinkSync(temporary);
    }
  }
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return true;
}

/** The file's contents, or undefined when it does not exist (any other failure is thrown). */
export function readSecretFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
