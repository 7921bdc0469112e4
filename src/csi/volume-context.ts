// The contract between controller and node: the keys of publish_context (ControllerPublishVolume) and
// volume_context (CreateVolume), and the one encode/validate/decode of each. The controller encodes
// through the same validation the node decodes with, so a value the node would refuse is never handed
// out (it fails at the controller, where the operator sees it, instead of at every NodeStageVolume).
//
// Connection facts travel in publish_context, recomputed at every attach, so changing the RDS address
// does not strand existing PVs (volume_context is immutable in a PV). The target address may be a host
// name: the node resolves it at each connect (the kernel's NVMe/TCP options take numeric addresses
// only), which is what lets an appliance change its address behind a stable DNS name.
import { isIP } from "node:net";
import { invalidArgument } from "./errors.ts";

export const PublishKey = {
  /** Subsystem NQN of the export. */
  nqn: "rds.csi/nqn",
  /** NVMe/TCP target address (IP or host name) and port. */
  address: "rds.csi/address",
  port: "rds.csi/port",
  /** Backing file as RouterOS names it (no leading slash): what the loop transport attaches. */
  filePath: "rds.csi/file-path",
  /** nvme connect tuning, decimal strings. */
  ctrlLossTmo: "rds.csi/ctrl-loss-tmo",
  reconnectDelay: "rds.csi/reconnect-delay",
  keepAliveTmo: "rds.csi/keep-alive-tmo",
  nrIoQueues: "rds.csi/nr-io-queues",
  /**
   * Generation of this attachment (decimal, ≥ 1): every ControllerPublish that creates an attachment
   * takes the volume's next number, stored on the appliance, so it only grows. A node that staged the
   * volume under another generation knows that its session predates a fence (a force-detach and a
   * later publish) and must tear that session down before connecting again. Absent for attachments
   * recorded before generations existed.
   */
  generation: "rds.csi/attachment-generation",
} as const;

export const VolumeContextKey = {
  /** Extra mkfs options from the StorageClass (`mkfsOptions`), space separated, validated by the controller. */
  mkfsOptions: "mkfsOptions",
  /** The CSI name the volume was created for (absent when the record keeps only its digest). */
  name: "rds.csi/name",
  /**
   * The StorageClass's `nvmeAddress`, when it set one. Kept here, not in the volume record (whose 1,024
   * characters cannot hold a 253-character host name besides everything else): the CO hands volume_context
   * to ControllerPublishVolume, which puts the address into publish_context.
   */
  nvmeAddress: "rds.csi/nvme-address",
  /** "true" when the StorageClass set `allowUnsafeMountOptions` (see UNSAFE_MOUNT_OPTIONS). */
  unsafeMountOptions: "rds.csi/allow-unsafe-mount-options",
  /** The StorageClass's `healthCheck` (HEALTH_CHECKS), when it set one; else the node's default. */
  healthCheck: "rds.csi/health-check",
} as const;

/** StorageClass parameters the driver understands (everything else is refused with INVALID_ARGUMENT). */
export const StorageClassParam = {
  volumePath: "volumePath",
  nvmeAddress: "nvmeAddress",
  nvmePort: "nvmePort",
  ctrlLossTmo: "ctrlLossTmo",
  reconnectDelay: "reconnectDelay",
  keepAliveTmo: "keepAliveTmo",
  nrIoQueues: "nrIoQueues",
  mkfsOptions: "mkfsOptions",
  /** How volumes of the class are snapshotted and cloned: auto | file-copy | btrfs-subvolume (docs/snapshots.md). */
  snapshotMethod: "snapshotMethod",
  /** "true" lets the class's mountOptions include UNSAFE_MOUNT_OPTIONS. */
  allowUnsafeMountOptions: "allowUnsafeMountOptions",
  /** What NodeStage checks on an existing filesystem: fast (superblock) or full (read-only fsck). */
  healthCheck: "healthCheck",
} as const;

/**
 * The health checks a StorageClass may ask for. `fast` (the node's default) reads the superblock's state,
 * error count and journal flag; `full` also runs the read-only `e2fsck -f -n` / `xfs_repair -n`, which reads
 * the whole filesystem and can outlast kubelet's deadline on a large volume (every retry then ABORTED).
 * Never "off" from a class: an existing filesystem is always checked before it is mounted.
 */
export const HEALTH_CHECKS = ["fast", "full"] as const;
export type HealthCheck = (typeof HEALTH_CHECKS)[number];

/**
 * Mount options that trade data safety for speed or availability: `errors=continue` keeps writing to a
 * file system the kernel found corrupt, `data=writeback` lets a crash expose stale blocks in files.
 * Refused (INVALID_ARGUMENT) by CreateVolume and NodeStageVolume unless the StorageClass sets
 * `allowUnsafeMountOptions: "true"`, which reaches the node through volume_context.
 */
export const UNSAFE_MOUNT_OPTIONS: readonly string[] = ["errors=continue", "data=writeback"];

/** INVALID_ARGUMENT naming the first unsafe option, unless the class allowed them. */
export function checkUnsafeMountOptions(flags: readonly string[], allowed: boolean): void {
  if (allowed) return;
  const bad = flags.flatMap((f) => f.split(",")).find((f) => UNSAFE_MOUNT_OPTIONS.includes(f.trim()));
  if (bad)
    throw invalidArgument(
      `mount option ${bad.trim()} weakens data safety; the StorageClass must set ${StorageClassParam.allowUnsafeMountOptions}: "true" to use it`,
    );
}

/** Inclusive ranges of the connection tuning, shared by StorageClass validation and the node. */
export const TUNING_RANGES = {
  port: [1, 65535],
  ctrlLossTmo: [-1, 31_536_000],
  reconnectDelay: [1, 3600],
  keepAliveTmo: [0, 3600],
  nrIoQueues: [1, 1024],
} as const satisfies Record<string, readonly [number, number]>;

export type Tuning = { -readonly [K in keyof typeof TUNING_RANGES]?: number };

/** What the node needs to attach an export: the one shape both sides agree on. */
export interface PublishContext extends Tuning {
  nqn: string;
  /** IPv4/IPv6 address or DNS host name. */
  address: string;
  filePath: string;
  generation?: number;
}

// ---- validation shared with StorageClass parsing ----

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** An IP address or a DNS host name (letters, digits, `-` and `.` only: nothing a command line could read). */
export function isNetworkAddress(value: string): boolean {
  return isIP(value) !== 0 || HOSTNAME.test(value);
}

// Printable NQN characters without the separators the kernel's option string uses (`,` and `=`).
const NQN_RE = /^[A-Za-z0-9._:-]+$/;
const NQN_MAX_BYTES = 223;
const FILE_PATH_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;
const GENERATION_RE = /^[1-9]\d{0,15}$/; // and a safe integer: exact as a JS number
/** mkfs options as the StorageClass may give them; the node checks each option per file system. */
export const MKFS_OPTIONS_RE = /^[A-Za-z0-9=,._:+ -]{0,256}$/;

export function validateNqn(nqn: string, field: string = PublishKey.nqn): string {
  if (!nqn) throw invalidArgument(`${field} is required in the publish context`);
  if (Buffer.byteLength(nqn) > NQN_MAX_BYTES || !NQN_RE.test(nqn))
    throw invalidArgument(
      `${field} ${JSON.stringify(nqn)} is not a valid NQN (at most ${NQN_MAX_BYTES} bytes of [A-Za-z0-9._:-])`,
    );
  return nqn;
}

/** Decimal integer within [min, max]; INVALID_ARGUMENT naming `label` otherwise. */
export function intInRange(label: string, raw: string, [min, max]: readonly [number, number]): number {
  if (!/^-?\d{1,10}$/.test(raw))
    throw invalidArgument(`${label} must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw invalidArgument(`${label} must be between ${min} and ${max}, got ${n}`);
  return n;
}

// ---- publish_context ----

const TUNING_KEYS = {
  port: PublishKey.port,
  ctrlLossTmo: PublishKey.ctrlLossTmo,
  reconnectDelay: PublishKey.reconnectDelay,
  keepAliveTmo: PublishKey.keepAliveTmo,
  nrIoQueues: PublishKey.nrIoQueues,
} as const satisfies Record<keyof Tuning, string>;

/** The NVMe/TCP part of a publish context (what the nvme-tcp transport attaches); INVALID_ARGUMENT when wrong. */
export function decodeNvmeConnection(
  ctx: Record<string, string>,
): Pick<PublishContext, "nqn" | "address"> & Tuning {
  const nqn = validateNqn(ctx[PublishKey.nqn] ?? "");
  const address = ctx[PublishKey.address] ?? "";
  if (!isNetworkAddress(address))
    throw invalidArgument(
      `${PublishKey.address} must be an IP address or host name, got ${JSON.stringify(address)}`,
    );
  const out: Pick<PublishContext, "nqn" | "address"> & Tuning = { nqn, address };
  for (const [field, key] of Object.entries(TUNING_KEYS) as Array<[keyof Tuning, string]>) {
    const raw = ctx[key];
    if (raw === undefined || raw === "") continue;
    // 0 for keep-alive and queue count means "kernel default", as from older controllers: like absent.
    const range = field === "nrIoQueues" ? ([0, TUNING_RANGES.nrIoQueues[1]] as const) : TUNING_RANGES[field];
    const n = intInRange(key, raw, range);
    if (n === 0 && (field === "nrIoQueues" || field === "keepAliveTmo")) continue;
    out[field] = n;
  }
  return out;
}

/** The backing file (what the loop transport attaches), relative and free of `.`/`..`; INVALID_ARGUMENT when wrong. */
export function decodeFilePath(ctx: Record<string, string>): string {
  const filePath = (ctx[PublishKey.filePath] ?? "").replace(/^\/+/, "");
  if (!filePath) throw invalidArgument(`${PublishKey.filePath} is required in the publish context`);
  if (!FILE_PATH_RE.test(filePath) || filePath.split("/").some((p) => p === ".." || p === "."))
    throw invalidArgument(
      `${PublishKey.filePath} ${JSON.stringify(filePath)} is not a safe relative file path`,
    );
  return filePath;
}

/** The attachment generation, or undefined when the controller sent none (attachments older than generations). */
export function decodeGeneration(ctx: Record<string, string>): number | undefined {
  const raw = ctx[PublishKey.generation];
  if (raw === undefined) return undefined;
  if (!GENERATION_RE.test(raw) || !Number.isSafeInteger(Number(raw)))
    throw invalidArgument(`${PublishKey.generation} must be a positive integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function decodePublishContext(ctx: Record<string, string>): PublishContext {
  const out: PublishContext = { ...decodeNvmeConnection(ctx), filePath: decodeFilePath(ctx) };
  const generation = decodeGeneration(ctx);
  if (generation !== undefined) out.generation = generation;
  return out;
}

/** The controller's side: every value goes through the node's decoding before it is handed out. */
export function encodePublishContext(p: PublishContext): Record<string, string> {
  const ctx: Record<string, string> = {
    [PublishKey.nqn]: p.nqn,
    [PublishKey.address]: p.address,
    [PublishKey.filePath]: p.filePath,
  };
  for (const [field, key] of Object.entries(TUNING_KEYS) as Array<[keyof Tuning, string]>)
    if (p[field] !== undefined) ctx[key] = String(p[field]);
  if (p.generation !== undefined) ctx[PublishKey.generation] = String(p.generation);
  decodePublishContext(ctx);
  return ctx;
}

// ---- volume_context ----

export interface VolumeContext {
  name?: string;
  mkfsOptions?: string;
  nvmeAddress?: string;
  unsafeMountOptions?: boolean;
  healthCheck?: HealthCheck;
}

/** A health check name, INVALID_ARGUMENT naming `label` otherwise. */
export function parseHealthCheck(label: string, value: string): HealthCheck {
  if (!(HEALTH_CHECKS as readonly string[]).includes(value))
    throw invalidArgument(`${label}: "${value}" must be one of ${HEALTH_CHECKS.join(", ")}`);
  return value as HealthCheck;
}

export function encodeVolumeContext(v: VolumeContext): Record<string, string> {
  const ctx: Record<string, string> = {};
  if (v.name) ctx[VolumeContextKey.name] = v.name;
  if (v.mkfsOptions) ctx[VolumeContextKey.mkfsOptions] = v.mkfsOptions;
  if (v.nvmeAddress) ctx[VolumeContextKey.nvmeAddress] = v.nvmeAddress;
  if (v.unsafeMountOptions) ctx[VolumeContextKey.unsafeMountOptions] = "true";
  if (v.healthCheck) ctx[VolumeContextKey.healthCheck] = v.healthCheck;
  decodeVolumeContext(ctx);
  return ctx;
}

/**
 * The driver's keys of a volume_context. Kubelet adds its own (`csi.storage.k8s.io/*`) and a PV from an
 * older release may carry others: those are ignored, not refused.
 */
export function decodeVolumeContext(ctx: Record<string, string>): VolumeContext {
  const out: VolumeContext = {};
  const name = ctx[VolumeContextKey.name];
  if (name) out.name = name;
  const mkfs = ctx[VolumeContextKey.mkfsOptions];
  if (mkfs !== undefined && mkfs.trim() !== "") {
    if (!MKFS_OPTIONS_RE.test(mkfs))
      throw invalidArgument(
        `${VolumeContextKey.mkfsOptions}: only letters, digits, spaces and = , . _ : + - are allowed`,
      );
    out.mkfsOptions = mkfs.trim();
  }
  const address = ctx[VolumeContextKey.nvmeAddress];
  if (address !== undefined) {
    if (!isNetworkAddress(address))
      throw invalidArgument(
        `${VolumeContextKey.nvmeAddress} must be an IP address or host name, got ${JSON.stringify(address)}`,
      );
    out.nvmeAddress = address;
  }
  if (ctx[VolumeContextKey.unsafeMountOptions] === "true") out.unsafeMountOptions = true;
  const health = ctx[VolumeContextKey.healthCheck];
  if (health !== undefined) out.healthCheck = parseHealthCheck(VolumeContextKey.healthCheck, health);
  return out;
}
