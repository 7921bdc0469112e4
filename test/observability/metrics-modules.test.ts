// src/observability/metrics.ts loads four prom-client modules by path instead of the package index (which
// also loads Summary, the Pushgateway, default metrics and the cluster aggregator: memory the node plugin
// never uses). These must be the very classes the index exports, so a prom-client release that moves them
// fails here rather than in production.
import { spawnSync } from "node:child_process";
import client from "prom-client";
import { describe, expect, it } from "vitest";
import { metrics, registry } from "../../src/observability/metrics.ts";

describe("metrics", () => {
  it("are prom-client's own Registry, Counter, Gauge and Histogram", () => {
    expect(registry).toBeInstanceOf(client.Registry);
    expect(metrics.rpcTotal).toBeInstanceOf(client.Counter);
    expect(metrics.sshConnected).toBeInstanceOf(client.Gauge);
    expect(metrics.rpcDuration).toBeInstanceOf(client.Histogram);
  });

  it("are exposed in the Prometheus text format", async () => {
    metrics.rpcTotal.inc({ method: "Probe", code: "OK" });
    metrics.rpcDuration.observe({ method: "Probe", code: "OK" }, 0.003);
    const text = await registry.metrics();
    expect(registry.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toMatch(/^rds_csi_rpc_total\{method="Probe",code="OK"\} [1-9]/m);
    expect(text).toMatch(
      /^rds_csi_rpc_duration_seconds_bucket\{le="0\.005",method="Probe",code="OK"\} [1-9]/m,
    );
  });

  // An ES import of node:http reads its lazy WebSocket exports, which loads Node's bundled undici (about
  // 3 MiB of resident memory in the node plugin, for nothing); metrics-server.ts avoids it.
  it("are served without loading Node's bundled undici", () => {
    const server = new URL("../../src/observability/metrics-server.ts", import.meta.url).href;
    const script = `const { startMetricsServer } = await import(${JSON.stringify(server)});
      const s = await startMetricsServer("127.0.0.1:0");
      const res = await new Promise((ok) => process.getBuiltinModule("node:http").get(\`http://127.0.0.1:\${s.address().port}/metrics\`, ok));
      s.close();
      console.log(res.statusCode, process.moduleLoadList.filter((m) => m.includes("undici")).length);`;
    const r = spawnSync(
      process.execPath,
      ["--input-type=module", "--disable-warning=ExperimentalWarning", "-e", script],
      {
        encoding: "utf8",
      },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("200 0");
  });
});
