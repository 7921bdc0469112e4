// Serves /metrics (Prometheus text format) and /healthz on the configured address.
import { createServer, type Server } from "node:http";
import { registry } from "./metrics.ts";

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
