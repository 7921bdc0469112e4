// `rds-csi controller|node|all`: wires configuration, the RDS client, the services and the gRPC server,
// and handles SIGTERM (drain in-flight calls up to a deadline, remove the socket, close connections).
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { dirname, join } from "node:path";
import { ConfigError, loadConfig } from "../config/load.ts";
import type { Config, Mode } from "../config/schema.ts";
import type { ControllerContext } from "../controller/context.ts";
import type { NodeRegistry } from "../controller/node-registry.ts";
import { createIdentityService } from "../csi/identity.ts";
import { CsiServer, parseEndpoint } from "../csi/server.ts";
import { applianceSegment } from "../csi/topology.ts";
import type { ControllerService, NodeService } from "../csi/types.ts";
import { createNodeService } from "../node/node-service.ts";
import { deriveHostNqn } from "../node/nvme/host-nqn.ts";
import type { EventRecorder } from "../observability/events.ts";
import {
  createEventRecorder,
  eventForNodeStartFailure,
  failureReporter,
} from "../observability/failure-events.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { startMetricsServer } from "../observability/metrics-server.ts";
import type { RdsClient } from "../rds/types.ts";
import { setExecMode } from "../util/exec.ts";

export interface RunningDriver {
  endpoint: string;
  config: Config;
  rds?: RdsClient;
  /** `host:port` the metrics server is bound to (the real port when --metrics-address asked for :0). */
  metricsAddress?: string;
  events: EventRecorder;
  stop(): Promise<void>;
}

function nodeRegistry(
  config: Config,
  log: Logger,
  { KubeNodeRegistry, StaticNodeRegistry }: typeof import("../controller/node-registry.ts"),
): NodeRegistry {
  if (KubeNodeRegistry.available()) return new KubeNodeRegistry();
  const nodes = [...config.knownNodes, ...(config.mode === "all" && config.nodeId ? [config.nodeId] : [])];
  if (nodes.length === 0)
    throw new ConfigError(
      "invalid configuration: --known-nodes is required for a controller outside Kubernetes (ControllerPublish must know which nodes exist)",
    );
  log.info({ nodes }, "node ids come from the configured list");
  return new StaticNodeRegistry(nodes);
}

export async function startDriver(
  config: Config,
  log: Logger,
  deps: { events?: EventRecorder } = {},
): Promise<RunningDriver> {
  const withController = config.mode !== "node";
  const withNode = config.mode !== "controller";
  const events =
    deps.events ??
    createEventRecorder({ driverName: config.driverName, mode: config.mode, nodeId: config.nodeId, log });
  let rds: RdsClient | undefined;
  let controller: (ControllerService & { context: ControllerContext }) | undefined;
  let reconciler: { stop(): void } | undefined;
  let node: (NodeService & { start(): Promise<void>; close(): Promise<void> }) | undefined;
  const readiness: Array<() => Promise<void>> = [];

  if (withController) {
    // Loaded only where the controller runs: the node plugin on every worker then carries neither ssh2
    // nor the controller (about 8 MiB of resident memory, measured).
    const [{ createRdsClient }, { createControllerService }, registry, { normalizeVolumePath }] =
      await Promise.all([
        import("../rds/client.ts"),
        import("../controller/controller-service.ts"),
        import("../controller/node-registry.ts"),
        import("../controller/volumes/path.ts"),
      ]);
    if (config.rdsInsecureSkipHostKeyCheck)
      log.warn(
        { security: true },
        "SSH host key pinning is DISABLED (--rds-insecure-skip-host-key-check): a machine in the middle can impersonate the RDS",
      );
    rds = createRdsClient(
      {
        host: config.rdsAddress!,
        port: config.rdsPort,
        user: config.rdsUser,
        privateKey: readFileSync(config.rdsKeyFile!),
        hostKey: config.rdsHostKey,
        insecureSkipHostKeyCheck: config.rdsInsecureSkipHostKeyCheck,
        maxChannels: config.rdsMaxChannels,
        commandTimeoutMs: config.rdsCommandTimeoutMs,
      },
      log.child({ component: "rds" }),
    );
    const client = rds;
    controller = createControllerService({
      rds: client,
      log: log.child({ component: "controller" }),
      nodes: nodeRegistry(config, log, registry),
      driverName: config.driverName,
      volumePath: normalizeVolumePath(config.volumePath),
      nqnPrefix: config.nqnPrefix,
      nvmeAddress: config.nvmeAddress ?? config.rdsAddress!,
      nvmePort: config.nvmePort,
      maxVolumesPerNode: config.maxVolumesPerNode,
      ...(config.instanceId ? { instanceId: config.instanceId } : {}),
      topology: applianceSegment(config.driverName, config.applianceName),
    });
    readiness.push(() => client.ping());
    if (config.attachmentReconcileSeconds > 0 && registry.KubeNodeRegistry.available()) {
      const [{ AttachmentReconciler }, { KubeVolumeAttachments }] = await Promise.all([
        import("../controller/attachment-reconciler.ts"),
        import("../controller/volume-attachments.ts"),
      ]);
      const r = new AttachmentReconciler(controller.context, KubeVolumeAttachments.fromEnv(), {
        intervalMs: config.attachmentReconcileSeconds * 1000,
        events,
        log: log.child({ component: "attachment-reconciler" }),
      });
      r.start();
      reconciler = r;
    }
  }
  if (withNode) {
    if (!config.execHelpers) setExecMode("direct");
    node = createNodeService({
      nodeId: config.nodeId!,
      driverName: config.driverName,
      transport: config.transport,
      loopRoot: config.loopRoot,
      // The plugin's socket directory is the node's own (kubelet's plugins/<driver>/): the loop transport
      // records there which loop devices this node attached, so node plugins sharing one machine (the
      // multi-node test cluster) never take each other's devices (loop.ts).
      ...loopRecordDir(config.endpoint),
      hostNqn: config.hostNqn ?? deriveHostNqn(config.nodeId!, config.driverName),
      managedNqnPrefix: `${config.nqnPrefix}:`,
      maxVolumesPerNode: config.maxVolumesPerNode,
      topology: applianceSegment(config.driverName, config.applianceName),
      log: log.child({ component: "node" }),
    });
    // A node where NVMe/TCP cannot work (module missing, tools missing) does not exit: it keeps its
    // socket, fails every Node RPC but NodeGetInfo and Probe (so the readiness probe fails) with the reason
    // and the fix, posts an Event on the Node, and starts serving as soon as a later check passes (e.g.
    // after the init container or an operator loaded nvme_tcp). NodeGetInfo still answers, so
    // node-driver-registrar registers (it exits, and the pod crash-loops, when registration fails), but
    // without the appliance's topology segment: the node gets no appliance label, so the scheduler keeps
    // capacity-tracked WaitForFirstConsumer volumes off it (docs/install.md).
    const service = node;
    let started: Promise<void> | undefined;
    let reported = false;
    const ensureNodeReady = (): Promise<void> =>
      (started ??= service.start().catch((err: unknown) => {
        started = undefined;
        if (!reported) {
          reported = true;
          log.error({ err: (err as Error).message }, "node service cannot serve on this node");
          const event = eventForNodeStartFailure(err, {
            nodeId: config.nodeId!,
            transport: config.transport,
          });
          if (event) events.record(event);
        }
        throw err;
      }));
    await ensureNodeReady().catch(() => undefined);
    node = gateNodeService(service, ensureNodeReady);
    const info = service.NodeGetInfo;
    let registeredWithoutTopology = false;
    node.NodeGetInfo = async (req, ctx) => {
      const answer = await info(req, ctx);
      const ready = await ensureNodeReady().then(
        () => true,
        () => false,
      );
      if (ready || !answer.accessible_topology) return answer;
      registeredWithoutTopology = true;
      return { ...answer, accessible_topology: null };
    };
    // kubelet asks for NodeGetInfo only at registration: once the node can serve, say how to get its label.
    readiness.push(async () => {
      await ensureNodeReady();
      if (!registeredWithoutTopology) return;
      registeredWithoutTopology = false;
      log.warn(
        "this node can serve now, but kubelet registered it without the appliance's topology segment: restart the node plugin pod so it registers again",
      );
    });
  }

  const server = new CsiServer(
    {
      identity: createIdentityService({
        driverName: config.driverName,
        hasController: withController,
        hasTopology: config.applianceName !== undefined,
        readinessChecks: readiness,
      }),
      controller,
      node,
    },
    log,
    { onFailure: failureReporter(events, withNode ? { nodeId: config.nodeId } : {}) },
  );
  const endpoint = await server.listen(config.endpoint);
  let metricsServer: Server | undefined;
  let metricsAddress: string | undefined;
  if (config.metricsAddress) {
    metricsServer = await startMetricsServer(config.metricsAddress);
    const a = metricsServer.address();
    if (a && typeof a === "object") metricsAddress = `${a.address}:${a.port}`;
  }

  return {
    endpoint,
    config,
    rds,
    ...(metricsAddress ? { metricsAddress } : {}),
    events,
    async stop() {
      reconciler?.stop();
      await server.shutdown(config.drainTimeoutMs);
      await events.close(2000);
      metricsServer?.close();
      await node?.close();
      await rds?.close();
    },
  };
}

export async function runDriverCli(mode: Mode, argv: string[]): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(mode, argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`rds-csi ${mode}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({
    level: config.logLevel,
    base: { mode, ...(config.nodeId ? { node: config.nodeId } : {}) },
  });
  let driver: RunningDriver;
  try {
    driver = await startDriver(config, log);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`rds-csi ${mode}: ${err.message}\n`);
      process.exit(2);
    }
    log.fatal({ err }, "failed to start");
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    driver.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

/** Every Node RPC first makes sure the node service could start (see startDriver). */
function gateNodeService<S extends NodeService & { start(): Promise<void>; close(): Promise<void> }>(
  service: S,
  ready: () => Promise<void>,
): S {
  const gated = { ...service } as Record<string, unknown>;
  for (const [name, fn] of Object.entries(service)) {
    if (typeof fn !== "function" || !/^Node[A-Z]/.test(name)) continue;
    gated[name] = async (req: unknown, ctx: unknown) => {
      await ready();
      return (fn as (r: unknown, c: unknown) => Promise<unknown>).call(service, req, ctx);
    };
  }
  return gated as S;
}

/** `{ loopDeviceRecordDir }` beside a unix socket endpoint, nothing for a TCP endpoint. */
function loopRecordDir(endpoint: string): { loopDeviceRecordDir?: string } {
  const socket = parseEndpoint(endpoint).socketPath;
  return socket ? { loopDeviceRecordDir: join(dirname(socket), "loop-devices") } : {};
}
