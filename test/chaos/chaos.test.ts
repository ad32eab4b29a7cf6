// Chaos: a real global and three real zones, each behind its own TCP proxy, through rounds of seeded
// random faults (kill -9 of a zone or of the global, stream cuts, black-holes past the heartbeat
// timeout, refused connections, delays) with writes on every side between them. After each round
// everything is healed and, once settled, checked (see chaos.ts).
//
// A short run is part of `npm test`. A long one:
//   MOORING_CHAOS_ROUNDS=200 npm run chaos
// Replay a run with the seed it printed: MOORING_CHAOS_SEED=<seed> (and the same MOORING_CHAOS_ROUNDS).
import { randomInt } from "node:crypto";
import { afterAll, expect, it } from "vitest";
import { killAllGlobals, removeTempDirs } from "../helpers/global-process.js";
import { killAllZones } from "../helpers/zone-process.js";
import { FAULT_KINDS, runChaos } from "./chaos.js";

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}

const ROUNDS = positiveInteger("MOORING_CHAOS_ROUNDS", 10);
const SEED = positiveInteger("MOORING_CHAOS_SEED", randomInt(2 ** 31));

afterAll(async () => {
  await killAllZones();
  await killAllGlobals();
  await removeTempDirs();
});

it(
  `chaos: ${ROUNDS} rounds of faults and writes lose no acknowledged write and move no VIP`,
  async () => {
    console.log(
      `chaos seed ${SEED}; replay with MOORING_CHAOS_SEED=${SEED} MOORING_CHAOS_ROUNDS=${ROUNDS} npm run chaos`,
    );
    // The summary is printed by runChaos, failed or not.
    const summary = await runChaos({ rounds: ROUNDS, seed: SEED, log: (line) => console.log(line) });
    expect(summary.rounds).toBe(ROUNDS);
    // Each round's first fault walks every kind in turn: 6 rounds or more inject them all.
    if (ROUNDS >= FAULT_KINDS.length) {
      for (const kind of FAULT_KINDS) expect(summary.faults[kind], kind).toBeGreaterThanOrEqual(1);
    }
  },
  120_000 + ROUNDS * 150_000,
);
