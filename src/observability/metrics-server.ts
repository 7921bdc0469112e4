// Serves /metrics (Prometheus text format) and /healthz on the configured address.
import type { Server } from "node:http";
import { registry } from "./metrics.ts";

// Not `import ... from "node:http"`: an ES import of node:http builds its module namespace, which reads
// the lazy WebSocket/CloseEvent/MessageEvent exports and so loads Node's bundled undici (about 3 MiB of
// resident memory, measured in the node plugin) that nothing here uses. getBuiltinModule returns the
// CommonJS exports without touching them.
const { createServer } = process.getBuiltinModule("node:http");

export async function startMetricsServer(address: string): Promise<Server> {
  const m = address.match(/^(.*):(\d+)$/);
  if (!m) throw new Error(`metrics address ${address}: expected [host]:port`);
  const host = m[1] || "0.0.0.0";
  const port = Number(m[2]);
  const server = createServer((req, res) => {
    if (req.url === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (req.url === "/healthz") res.writeHead(200).end("ok");
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
  return server;
}
