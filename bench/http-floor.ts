// The floor under any REST write on this machine: a node:http server that reads each request's
// body, parses it and answers 201 with a MeshService-sized JSON body, doing nothing else. Driven by
// the same load generator as the global, it shows what HTTP alone costs per request on the server,
// and how fast the load generator can go when the server is nearly free.
// Run as a child: `node http-floor.js`; prints {"msg":"listening","http":"127.0.0.1:<port>"}.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const answer = JSON.stringify({
  type: "MeshService",
  mesh: "default",
  name: "tp-0",
  labels: { app: "tp-0", team: "payments" },
  spec: { ports: [{ name: "http", port: 8080, appProtocol: "http" }] },
  status: { vips: [{ ip: "241.0.0.1" }] },
  creationTime: new Date(0).toISOString(),
  modificationTime: new Date(0).toISOString(),
  revision: 1,
  contentHash: "0".repeat(64),
});

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      response.writeHead(400).end();
      return;
    }
    response.writeHead(201, { "content-type": "application/json; charset=utf-8" }).end(answer);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: "listening", http: `127.0.0.1:${port}` })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
