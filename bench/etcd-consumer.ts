// A fresh etcd consumer, the analogue of a fresh zone: a new process that reads every key under a
// prefix in one range and opens a watch from the next revision. Prints {"ms", "keys"} on stdout;
// the time runs from creating the client (after the process has loaded, as a zone's runs from its
// "listening" line) until the watch is established.
import { prefixEnd } from "./context.js";
import { createEtcdClient } from "./etcd.js";

async function main(): Promise<void> {
  const [address, prefix] = process.argv.slice(2);
  if (address === undefined || prefix === undefined) throw new Error("usage: etcd-consumer <address> <prefix>");
  const started = performance.now();
  const client = createEtcdClient(address);
  const response = await client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix) });
  const watcher = await client
    .watch()
    .prefix(prefix)
    .startRevision(String(BigInt(response.header.revision) + 1n))
    .create();
  const ms = performance.now() - started;
  await watcher.cancel();
  client.close();
  process.stdout.write(`${JSON.stringify({ ms, keys: response.kvs.length })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
