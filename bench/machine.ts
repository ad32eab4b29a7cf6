// What the numbers were measured on.
import { cpus, loadavg, release, totalmem, type } from "node:os";

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly ramBytes: number;
  readonly node: string;
  readonly etcd: string;
  readonly os: string;
  /** 1-minute load average when the run started and when it ended: the machine is shared. */
  readonly load: { readonly start: number; readonly end: number };
}

/** The 1-minute load average now. */
export function loadNow(): number {
  return loadavg()[0] ?? Number.NaN;
}

export function describeMachine(etcdVersion: string, loadAtStart: number): Machine {
  const all = cpus();
  return {
    cpu: all[0]?.model.trim() ?? "unknown",
    cores: all.length,
    ramBytes: totalmem(),
    node: process.version,
    etcd: etcdVersion,
    os: `${type()} ${release()}`,
    load: { start: loadAtStart, end: loadNow() },
  };
}
