// Regression: "a zone whose first snapshot takes longer than 3 heartbeats to send is marked silent".
//
// Found by the reconnect-storm test (first syncs of 20,000 services to many zones at once). The
// global handles a zone's messages strictly in order (one promise chain per stream,
// global/src/sync/session.ts) and notes that it heard from the zone (`lastSeen`) only when a
// message's turn comes in `handle()`. A FULL session writes its whole snapshot from inside the
// handling of the Hello, waiting for 'drain' whenever the stream's buffer is full, so the zone's
// heartbeats wait in that chain until the snapshot is written. When that takes longer than 3
// heartbeat intervals (a slow link, a busy zone, a big snapshot), the global's heartbeat timer finds
// the zone "silent", ends the stream with UNAVAILABLE and marks it offline, though the zone sent
// every heartbeat on time. The zone has no cursor yet, so it comes back for another FULL, which
// ends the same way: it never completes its first sync.
//
// Here: 10,000 services (about 1.9 MB) sent in 64 KiB messages over a link that carries 200 KB/s
// from the global, with a 500 ms heartbeat (silent after 1.5 s). The zone receives a message every
// few hundred ms, so it never thinks the global silent, and it sends its heartbeats throughout.
import { afterAll, expect, it } from "vitest";
import { seedServices } from "../../global/src/sync/sync-harness.js";
import { killAllGlobals, makeTempDir, removeTempDirs, startGlobalProcess } from "../helpers/global-process.js";
import { syncOf, waitUntil } from "../helpers/sync.js";
import { startThrottleProxy, type ThrottleProxy } from "../helpers/throttle-proxy.js";
import { killAllZones, startZoneProcess } from "../helpers/zone-process.js";

let proxy: ThrottleProxy | undefined;
afterAll(async () => {
  await killAllZones();
  await killAllGlobals();
  await proxy?.close();
  await removeTempDirs();
});

it("a zone whose first snapshot takes longer than 3 heartbeats to send is not marked silent", async () => {
  const dataDir = await makeTempDir("mooring-chaos-heartbeat-");
  seedServices(dataDir, 10_000);
  const global = await startGlobalProcess({
    dataDir,
    env: { MOORING_SYNC_HEARTBEAT: "500ms", MOORING_HTTP_BODY_LIMIT: "32KiB", MOORING_SYNC_MAX_MESSAGE: "64KiB" },
  });
  proxy = await startThrottleProxy(global.grpc, 200_000);
  const zone = await startZoneProcess({
    zone: "zone-1",
    global: proxy.address,
    token: await global.zoneToken("zone-1", "24h"),
    env: { MOORING_RECONNECT_MAX: "1s" },
  });
  const endedForSilence = () =>
    global
      .logLines()
      .filter((line) => line.msg === "sync stream ended" && /no message from the zone/.test(String(line.reason)))
      .map((line) => String(line.reason));
  // Until the zone is synced, or the global has ended its session for silence (then it fails at once).
  await waitUntil(
    async () => endedForSilence().length > 0 || (await syncOf(zone.http)).state === "synced",
    async () => `zone-1 /sync: ${JSON.stringify(await syncOf(zone.http))}`,
    90_000,
    50,
  );
  expect(endedForSilence()).toEqual([]);
  expect((await syncOf(zone.http)).sessions).toEqual({ full: 1, incremental: 0, reconcile: 0 });
  // The snapshot really was slow: more than 3 heartbeats between Welcome and the last frame written.
  const at = (msg: string) => Date.parse(String(global.logLines().find((line) => line.msg === msg)?.time));
  expect(at("snapshot sent") - at("zone connected")).toBeGreaterThan(1500);
}, 120_000);
