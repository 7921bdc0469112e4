// How a node turns an export into a local block device. Two implementations: `nvme-tcp` (production,
// the RDS exports file-backed disks over NVMe/TCP) and `loop` (the simulator's disk files attached as
// loop devices, for tests, CI and demos). Everything after attach is one code path for both.

export type TransportKind = "nvme-tcp" | "loop";

export interface NvmeTcpTarget {
  kind: "nvme-tcp";
  nqn: string;
  address: string;
  port: number;
  /** Seconds; -1 = reconnect forever. */
  ctrlLossTmo: number;
  reconnectDelay: number;
  /** Omitted → kernel default. */
  keepAliveTmo?: number;
  nrIoQueues?: number;
}

export interface LoopTarget {
  kind: "loop";
  /** RouterOS file name relative to the loop root, e.g. `storage-pool/k8s/pvc-1.img`. */
  filePath: string;
}

export type AttachTarget = NvmeTcpTarget | LoopTarget;

/** A block device on this node: kernel name (`nvme1n1`, `loop3`) and the device node path. */
export interface BlockDevice {
  name: string;
  path: string;
}

/** Lists what still uses a device (empty = free); used before any detach. */
export type UsageCheck = (device: BlockDevice) => Promise<string[]>;

export interface Transport {
  readonly kind: TransportKind;
  /** Reads and validates this transport's keys from the publish context (INVALID_ARGUMENT when wrong). */
  parseTarget(context: Record<string, string>): AttachTarget;
  /** The identity of a target (NQN or file), for comparing a request with what is staged. */
  targetKey(target: AttachTarget): string;
  /** Throws FAILED_PRECONDITION naming what is missing on this node and how to fix it. */
  check(): Promise<void>;
  /** Idempotent: returns the existing device when the target is already attached. */
  attach(target: AttachTarget, signal: AbortSignal): Promise<BlockDevice>;
  findDevice(target: AttachTarget): Promise<BlockDevice | undefined>;
  /** Whether this driver may detach the target (nvme-tcp: only NQNs with the managed prefix). */
  manages(target: AttachTarget): boolean;
  /** Detaches unconditionally (callers check usage first); a target that is not attached is fine. */
  detach(target: AttachTarget): Promise<void>;
  /** Makes the kernel re-read the device size after the export grew. */
  rescan(device: BlockDevice): Promise<void>;
  /** Which target a device belongs to, when this transport manages it (for unstage without state). */
  identify(deviceName: string): Promise<AttachTarget | undefined>;
  /** Why the device is unhealthy at the transport level, or undefined. */
  condition(device: BlockDevice): Promise<string | undefined>;
  /** Startup clean-up of leftovers this driver owns; returns what was removed. */
  cleanupOrphans(inUse: UsageCheck): Promise<string[]>;
}
