// What volume capabilities rds-csi supports, decided in one place for the controller and the node.
import { invalidArgument } from "./errors.ts";
import type { VolumeCapability__Output } from "./generated/csi/v1/VolumeCapability.ts";

export type AccessModeName =
  | "SINGLE_NODE_WRITER"
  | "SINGLE_NODE_READER_ONLY"
  | "SINGLE_NODE_SINGLE_WRITER"
  | "SINGLE_NODE_MULTI_WRITER"
  | "MULTI_NODE_MULTI_WRITER";

export const SUPPORTED_FS_TYPES = ["ext4", "xfs"] as const;
export type FsType = (typeof SUPPORTED_FS_TYPES)[number];
export const DEFAULT_FS_TYPE: FsType = "ext4";

const SINGLE_NODE_MODES = new Set<string>([
  "SINGLE_NODE_WRITER",
  "SINGLE_NODE_READER_ONLY",
  "SINGLE_NODE_SINGLE_WRITER",
  "SINGLE_NODE_MULTI_WRITER",
]);

export interface CapabilityInfo {
  accessType: "block" | "mount";
  mode: AccessModeName;
  multiNode: boolean;
  readOnlyMode: boolean;
  fsType?: FsType;
  mountFlags: string[];
}

/** Returns why a capability is unsupported, or undefined when it is fine. */
export function capabilityProblem(cap: VolumeCapability__Output | null | undefined): string | undefined {
  if (!cap) return "volume capability is missing";
  const accessType = cap.access_type ?? (cap.block ? "block" : cap.mount ? "mount" : undefined);
  if (!accessType) return "volume capability needs an access type (block or mount)";
  const mode = String(cap.access_mode?.mode ?? "UNKNOWN");
  if (mode === "UNKNOWN") return "volume capability needs an access mode";
  if (mode === "MULTI_NODE_MULTI_WRITER") {
    // Two nodes writing one ext4/xfs corrupts it: RWX exists for raw block (KubeVirt live migration).
    if (accessType !== "block")
      return "MULTI_NODE_MULTI_WRITER (ReadWriteMany) is only supported with volumeMode Block; a filesystem mounted on two nodes would be corrupted";
    return undefined;
  }
  if (!SINGLE_NODE_MODES.has(mode))
    return `access mode ${mode} is not supported (supported: ReadWriteOnce, ReadWriteOncePod, ReadOnly on one node, ReadWriteMany for Block)`;
  if (accessType === "mount") {
    const fs = cap.mount?.fs_type ?? "";
    if (fs && !(SUPPORTED_FS_TYPES as readonly string[]).includes(fs))
      return `filesystem type ${fs} is not supported (supported: ${SUPPORTED_FS_TYPES.join(", ")})`;
  }
  return undefined;
}

/** Validates and summarizes a capability; INVALID_ARGUMENT when unsupported. */
export function describeCapability(cap: VolumeCapability__Output | null | undefined): CapabilityInfo {
  const problem = capabilityProblem(cap);
  if (problem) throw invalidArgument(problem);
  const c = cap!;
  const accessType = (c.access_type ?? (c.block ? "block" : "mount")) as "block" | "mount";
  const mode = String(c.access_mode?.mode) as AccessModeName;
  return {
    accessType,
    mode,
    multiNode: mode === "MULTI_NODE_MULTI_WRITER",
    readOnlyMode: mode === "SINGLE_NODE_READER_ONLY",
    fsType: accessType === "mount" ? ((c.mount?.fs_type || DEFAULT_FS_TYPE) as FsType) : undefined,
    mountFlags: accessType === "mount" ? [...(c.mount?.mount_flags ?? [])] : [],
  };
}

export function requireCapabilities(caps: readonly VolumeCapability__Output[] | undefined): CapabilityInfo[] {
  if (!caps || caps.length === 0) throw invalidArgument("volume_capabilities is required");
  return caps.map(describeCapability);
}
