// Prometheus metrics (prom-client). One registry per process; every subsystem registers its metrics
// here so names and labels are defined in one place (documented in docs/metrics.md).
import { createRequire } from "node:module";
import type * as PromClient from "prom-client";

// prom-client's index also loads what this driver never uses: Summary (tdigest), the Pushgateway
// (http, https), the default process metrics and the cluster aggregator (node:cluster,
// @opentelemetry/api). That is about 10 MiB of resident memory in every node plugin (measured, see
// bench/node.ts), so only the four modules used are loaded. prom-client has no "exports" map: these are
// the very modules its index re-exports (test/observability/metrics-modules.test.ts checks the identity).
const require = createRequire(import.meta.url);
const client = {
  Registry: require("prom-client/lib/registry") as typeof PromClient.Registry,
  Counter: require("prom-client/lib/counter") as typeof PromClient.Counter,
  Gauge: require("prom-client/lib/gauge") as typeof PromClient.Gauge,
  Histogram: require("prom-client/lib/histogram") as typeof PromClient.Histogram,
};

export const registry = new client.Registry();

const PREFIX = "rds_csi_";

export const metrics = {
  rpcTotal: new client.Counter({
    name: `${PREFIX}rpc_total`,
    help: "CSI RPCs handled, by method and gRPC status code name",
    labelNames: ["method", "code"] as const,
    registers: [registry],
  }),
  rpcDuration: new client.Histogram({
    name: `${PREFIX}rpc_duration_seconds`,
    help: "CSI RPC latency, by method and gRPC status code name",
    labelNames: ["method", "code"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  }),
  sshConnected: new client.Gauge({
    name: `${PREFIX}ssh_connected`,
    help: "1 while the SSH connection to the RDS is established",
    registers: [registry],
  }),
  sshChannelsInUse: new client.Gauge({
    name: `${PREFIX}ssh_channels_in_use`,
    help: "SSH exec channels currently open to the RDS",
    registers: [registry],
  }),
  sshQueued: new client.Gauge({
    name: `${PREFIX}ssh_commands_queued`,
    help: "RouterOS commands waiting for a free SSH channel",
    registers: [registry],
  }),
  sshReconnects: new client.Counter({
    name: `${PREFIX}ssh_reconnects_total`,
    help: "SSH (re)connection attempts, by result",
    labelNames: ["result"] as const,
    registers: [registry],
  }),
  sshCommandDuration: new client.Histogram({
    name: `${PREFIX}ssh_command_duration_seconds`,
    help: "RouterOS command latency over SSH, by verb and result",
    labelNames: ["verb", "result"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  hostKeyMismatch: new client.Counter({
    name: `${PREFIX}ssh_host_key_mismatch_total`,
    help: "Connections refused because the RDS host key did not match the pinned key (security event)",
    registers: [registry],
  }),
  breakerState: new client.Gauge({
    name: `${PREFIX}volume_breaker_state`,
    help: "Per-volume circuit breaker state on the node: 0 closed, 1 half-open, 2 open",
    labelNames: ["volume_id"] as const,
    registers: [registry],
  }),
  attachTotal: new client.Counter({
    name: `${PREFIX}attach_total`,
    help: "Device attach (nvme connect / loop attach) operations on the node, by transport and result",
    labelNames: ["transport", "result"] as const,
    registers: [registry],
  }),
  attachDuration: new client.Histogram({
    name: `${PREFIX}attach_duration_seconds`,
    help: "Device attach latency on the node, by transport",
    labelNames: ["transport"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  detachTotal: new client.Counter({
    name: `${PREFIX}detach_total`,
    help: "Device detach (nvme disconnect / loop detach) operations on the node, by transport and result",
    labelNames: ["transport", "result"] as const,
    registers: [registry],
  }),
  detachDuration: new client.Histogram({
    name: `${PREFIX}detach_duration_seconds`,
    help: "Device detach latency on the node (including the wait until the kernel has let go), by transport",
    labelNames: ["transport"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  eventsTotal: new client.Counter({
    name: `${PREFIX}events_total`,
    help: "Kubernetes Events for operators, by reason and what became of them (posted, logged, deduplicated, rate_limited, dropped, unresolved, failed)",
    labelNames: ["reason", "result"] as const,
    registers: [registry],
  }),
  poolBytes: new client.Gauge({
    name: `${PREFIX}pool_bytes`,
    help: "RDS pool capacity as last read by GetCapacity, by kind (size, free)",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
};
