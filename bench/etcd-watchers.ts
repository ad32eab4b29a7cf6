// A child process holding W etcd watchers (one client, one connection each) on a prefix, so that
// the watchers, like Mooring's zones, are not the process that writes. For each key it records when
// the last of the W watchers saw it (performance.timeOrigin + performance.now(): sub-millisecond,
// comparable across processes on one machine). Driven over the IPC channel of `fork`:
//   parent -> {type: "collect", expected}   child -> {type: "report", lastSeen: {key: ms}, complete}
// The child sends {type: "ready"} once every watch is established.
import { createEtcdClient } from "./etcd.js";

interface Collect {
  readonly type: "collect";
  readonly expected: number;
}

async function main(): Promise<void> {
  const [address, prefix, countText] = process.argv.slice(2);
  const watchers = Number(countText);
  if (address === undefined || prefix === undefined || !Number.isInteger(watchers) || watchers < 1) {
    throw new Error("usage: etcd-watchers <address> <prefix> <watchers>");
  }
  const seen = new Map<string, { count: number; last: number }>();
  let complete = 0;
  const clients = Array.from({ length: watchers }, () => createEtcdClient(address));
  await Promise.all(
    clients.map(async (client) => {
      const watcher = await client.watch().prefix(prefix).create();
      watcher.on("put", (kv) => {
        const at = performance.timeOrigin + performance.now();
        const key = kv.key.toString();
        const entry = seen.get(key) ?? { count: 0, last: 0 };
        entry.count += 1;
        entry.last = at;
        seen.set(key, entry);
        if (entry.count === watchers) complete += 1;
      });
    }),
  );
  process.send?.({ type: "ready" });
  process.on("message", async (message: Collect) => {
    if (message.type !== "collect") return;
    const deadline = Date.now() + 120_000;
    while (complete < message.expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const lastSeen: Record<string, number> = {};
    for (const [key, entry] of seen) if (entry.count === watchers) lastSeen[key] = entry.last;
    process.send?.({ type: "report", lastSeen, complete });
    seen.clear();
    complete = 0;
  });
  process.on("disconnect", () => {
    for (const client of clients) client.close();
    process.exit(0);
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
