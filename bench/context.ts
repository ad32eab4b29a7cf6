// What every scenario is given: the options, the running etcd, a cache of seeded databases, and
// how to name a process's CPU profile.
import { createHash } from "node:crypto";
import type { Options } from "./config.js";
import type { EtcdServer } from "./etcd.js";
import type { ProfileOptions } from "./mooring.js";

export interface Context {
  readonly options: Options;
  /** Undefined with --no-etcd. */
  readonly etcd: EtcdServer | undefined;
  /** Seeded global databases, one per size, copied into each global's data dir. */
  readonly cacheDir: string;
  log(message: string): void;
  /** Logs and records something that makes a measurement suspect (it goes into the results). */
  warn(message: string): void;
  /** `--cpu-prof` settings for a Mooring process named `label` (undefined without --cpu-prof). */
  profile(label: string): ProfileOptions | undefined;
}

/**
 * What etcd stores for a service: the JSON the global's REST API returns for a seeded one
 * (about 330 bytes), so both systems move values of the same size.
 */
export function meshServiceValue(name: string, index: number, round = 0): string {
  const time = new Date(1_790_000_000_000 + index).toISOString();
  return JSON.stringify({
    type: "MeshService",
    mesh: "default",
    name,
    labels: round === 0 ? { app: name, team: "payments" } : { app: name, team: "payments", round: String(round) },
    spec: { ports: [{ name: "http", port: 8080, appProtocol: "http" }] },
    status: { vips: [{ ip: `241.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}` }] },
    creationTime: time,
    modificationTime: time,
    revision: index + 1,
    contentHash: createHash("sha256").update(`${name}/${round}`).digest("hex"),
  });
}

/** The end of the etcd range of every key that starts with `prefix`. */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  const last = end.length - 1;
  end[last] = (end[last] ?? 0) + 1;
  return end;
}
