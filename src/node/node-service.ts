// The CSI Node service of rds-csi: what kubelet calls on every worker to make a provisioned volume
// usable by a pod or a KubeVirt VM. The RPCs live in stage.ts, unstage.ts, publish.ts, stats.ts and
// expand.ts; this file wires options, the transport, locks and breakers together.
import type { NodeGetCapabilitiesResponse } from "../csi/generated/csi/v1/NodeGetCapabilitiesResponse.ts";
import type { NodeService } from "../csi/types.ts";
import { type Logger, silentLogger } from "../observability/logger.ts";
import { KeyedLock } from "../util/keyed-lock.ts";
import { type BreakerSettings, type BreakerStateName, VolumeBreakers } from "./breaker.ts";
import { deviceUsers, type NodeContext } from "./context.ts";
import { nodeExpandVolume } from "./expand.ts";
import type { HealthMode } from "./mount/fsck.ts";
import { hostIdForNqn } from "./nvme/host-nqn.ts";
import { LoopTransport } from "./nvme/loop.ts";
import { NvmeTcpTransport } from "./nvme/nvme-tcp.ts";
import type { Transport, TransportKind } from "./nvme/transport.ts";
import { nodePublishVolume, nodeUnpublishVolume } from "./publish.ts";
import { nodeStageVolume } from "./stage.ts";
import { nodeGetVolumeStats } from "./stats.ts";
import { nodeUnstageVolume } from "./unstage.ts";

export interface NodeServiceOptions {
  nodeId: string;
  /** Only used for logs; the host NQN is derived by the caller (see nvme/host-nqn.ts). */
  driverName?: string;
  transport: TransportKind;
  /** Directory where RouterOS file paths live (the simulator's data dir); required for `loop`. */
  loopRoot?: string;
  /** This node's NVMe host NQN; required for `nvme-tcp`. */
  hostNqn?: string;
  /** Only NQNs starting with this are ever disconnected; required for `nvme-tcp`. */
  managedNqnPrefix?: string;
  sysfsRoot?: string;
  devRoot?: string;
  procRoot?: string;
  mountinfoPath?: string;
  log?: Logger;
  breaker?: BreakerSettings;
  /** 0 = no limit reported to the CO. */
  maxVolumesPerNode?: number;
  topology?: Record<string, string>;
  /** Read-only check of existing filesystems before mounting (default fast: the superblock's own state). */
  healthCheck?: HealthMode;
  fsckTimeoutMs?: number;
  /** nvme-tcp: how long to wait for the namespace device after connect (default 30 s). */
  deviceTimeoutMs?: number;
  probeAttempts?: number;
  probeRetryDelayMs?: number;
  resizeWaitMs?: number;
  /** nvme-cli executable (default `nvme` from PATH). */
  nvmeCommand?: string;
  /** loop: node-local directory where the transport records the loop devices it attached (loop.ts). */
  loopDeviceRecordDir?: string;
  /** Replaces the built-in transport (tests wrap one to inject faults). */
  transportImpl?: Transport;
  /** Budget for the startup orphan clean-up (default 2 min). */
  orphanCleanupTimeoutMs?: number;
}

export type NodeServiceHandle = NodeService & {
  start(): Promise<void>;
  close(): Promise<void>;
  /** Circuit breaker state of a volume, undefined when it has none (never failed recently, or unstaged). */
  breakerState(volumeId: string): BreakerStateName | undefined;
  readonly breakers: VolumeBreakers;
  readonly transport: Transport;
};

function buildTransport(
  o: NodeServiceOptions,
  log: Logger,
  paths: { sysfsRoot: string; devRoot: string },
): Transport {
  if (o.transportImpl) return o.transportImpl;
  if (o.transport === "loop") {
    if (!o.loopRoot) throw new Error("node service: loopRoot is required with the loop transport");
    return new LoopTransport({
      loopRoot: o.loopRoot,
      ...paths,
      log: log.child({ transport: "loop" }),
      ...(o.loopDeviceRecordDir ? { deviceRecordDir: o.loopDeviceRecordDir } : {}),
    });
  }
  if (!o.hostNqn) throw new Error("node service: hostNqn is required with the nvme-tcp transport");
  if (!o.managedNqnPrefix)
    throw new Error("node service: managedNqnPrefix is required with the nvme-tcp transport");
  return new NvmeTcpTransport({
    ...paths,
    hostNqn: o.hostNqn,
    hostId: hostIdForNqn(o.hostNqn),
    managedNqnPrefix: o.managedNqnPrefix,
    log: log.child({ transport: "nvme-tcp" }),
    ...(o.deviceTimeoutMs ? { deviceTimeoutMs: o.deviceTimeoutMs } : {}),
    ...(o.nvmeCommand ? { nvmeCommand: o.nvmeCommand } : {}),
  });
}

const CAPABILITIES = [
  "STAGE_UNSTAGE_VOLUME",
  "GET_VOLUME_STATS",
  "EXPAND_VOLUME",
  "VOLUME_CONDITION",
  "SINGLE_NODE_MULTI_WRITER",
] as const;

export function createNodeService(opts: NodeServiceOptions): NodeServiceHandle {
  if (!opts.nodeId) throw new Error("node service: nodeId is required");
  const log = opts.log ?? silentLogger;
  const paths = {
    sysfsRoot: opts.sysfsRoot ?? "/sys",
    devRoot: opts.devRoot ?? "/dev",
    procRoot: opts.procRoot ?? "/proc",
    mountinfoPath: opts.mountinfoPath ?? "/proc/self/mountinfo",
  };
  const transport = buildTransport(opts, log, paths);
  const breakers = new VolumeBreakers(opts.breaker ?? {}, log);
  const nc: NodeContext = {
    nodeId: opts.nodeId,
    transport,
    log,
    locks: new KeyedLock(),
    breakers,
    paths,
    tune: {
      healthCheck: opts.healthCheck ?? "fast",
      fsckTimeoutMs: opts.fsckTimeoutMs ?? 10 * 60_000,
      probeAttempts: opts.probeAttempts ?? 3,
      probeRetryDelayMs: opts.probeRetryDelayMs ?? 1000,
      resizeWaitMs: opts.resizeWaitMs ?? 10_000,
    },
  };
  const topology = opts.topology && Object.keys(opts.topology).length ? { segments: opts.topology } : null;

  return {
    NodeStageVolume: (req, ctx) => nodeStageVolume(nc, req, ctx),
    NodeUnstageVolume: (req) => nodeUnstageVolume(nc, req),
    NodePublishVolume: (req) => nodePublishVolume(nc, req),
    NodeUnpublishVolume: (req) => nodeUnpublishVolume(nc, req),
    NodeGetVolumeStats: (req) => nodeGetVolumeStats(nc, req),
    NodeExpandVolume: (req, ctx) => nodeExpandVolume(nc, req, ctx),
    NodeGetCapabilities: async (): Promise<NodeGetCapabilitiesResponse> => ({
      capabilities: CAPABILITIES.map((type) => ({ rpc: { type } })),
    }),
    NodeGetInfo: async () => ({
      node_id: opts.nodeId,
      max_volumes_per_node: opts.maxVolumesPerNode ?? 0,
      accessible_topology: topology,
    }),

    async start() {
      await transport.check();
      const budget = opts.orphanCleanupTimeoutMs ?? 120_000;
      let timer: NodeJS.Timeout | undefined;
      const cleanup = transport.cleanupOrphans((dev) => deviceUsers(nc, dev));
      const removed = await Promise.race([
        cleanup,
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), budget);
          timer.unref();
        }),
      ]).finally(() => clearTimeout(timer));
      if (removed === "timeout")
        log.warn(
          { budgetMs: budget },
          "orphan clean-up did not finish in time; continuing in the background",
        );
      else if (removed.length) log.info({ removed }, "removed orphaned attachments");
      log.info(
        { nodeId: opts.nodeId, transport: transport.kind, driver: opts.driverName },
        "node service ready",
      );
    },
    async close() {
      breakers.close();
    },
    breakerState: (volumeId) => breakers.state(volumeId),
    breakers,
    transport,
  };
}
