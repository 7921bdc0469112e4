// StorageClass parameters. Unknown keys are refused (a typo must not be silently ignored), every value
// is validated here, and only validated values are stored on the appliance or passed to the node.
import { invalidArgument } from "../csi/errors.ts";
import {
  type HealthCheck,
  intInRange,
  isNetworkAddress,
  MKFS_OPTIONS_RE,
  parseHealthCheck,
  StorageClassParam,
  TUNING_RANGES,
} from "../csi/volume-context.ts";
import { type MethodParam, parseMethod } from "./snapshots/method.ts";
import { normalizeVolumePath } from "./volumes/path.ts";

export interface VolumeParams {
  volumePath?: string;
  nvmeAddress?: string;
  nvmePort?: number;
  ctrlLossTmo?: number;
  reconnectDelay?: number;
  keepAliveTmo?: number;
  nrIoQueues?: number;
  mkfsOptions?: string;
  /** Snapshot mechanism, which also fixes the volume's layout at creation (volumes/layout.ts). */
  snapshotMethod?: MethodParam;
  /** Lets the class's mountOptions include UNSAFE_MOUNT_OPTIONS (volume-context.ts). */
  allowUnsafeMountOptions?: boolean;
  /** The node's health check of an existing filesystem at stage (volume-context.ts HEALTH_CHECKS). */
  healthCheck?: HealthCheck;
}

const PATH = /^\/?[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+\/?$/;

// Keys the external-provisioner and CDI add (pvc/pv names, fstype, secrets refs): not ours to refuse.
const FOREIGN_PREFIXES = ["csi.storage.k8s.io/", "storage.kubernetes.io/"];

function int(key: string, value: string, range: readonly [number, number]): number {
  return intInRange(`parameter ${key}`, value, range);
}

export function parseParams(raw: Record<string, string> | undefined): VolumeParams {
  const p: VolumeParams = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (FOREIGN_PREFIXES.some((prefix) => key.startsWith(prefix))) continue;
    switch (key) {
      case StorageClassParam.volumePath:
        if (!PATH.test(value) || value.split("/").includes(".."))
          throw invalidArgument(
            `parameter volumePath: "${value}" must be <pool>/<dir> with letters, digits, . _ -`,
          );
        p.volumePath = normalizeVolumePath(value);
        break;
      case StorageClassParam.nvmeAddress:
        if (!isNetworkAddress(value))
          throw invalidArgument(`parameter nvmeAddress: "${value}" is not an IP address or host name`);
        p.nvmeAddress = value;
        break;
      case StorageClassParam.nvmePort:
        p.nvmePort = int(key, value, TUNING_RANGES.port);
        break;
      case StorageClassParam.ctrlLossTmo:
        p.ctrlLossTmo = int(key, value, TUNING_RANGES.ctrlLossTmo);
        break;
      case StorageClassParam.reconnectDelay:
        p.reconnectDelay = int(key, value, TUNING_RANGES.reconnectDelay);
        break;
      case StorageClassParam.keepAliveTmo:
        p.keepAliveTmo = int(key, value, TUNING_RANGES.keepAliveTmo);
        break;
      case StorageClassParam.nrIoQueues:
        p.nrIoQueues = int(key, value, TUNING_RANGES.nrIoQueues);
        break;
      case StorageClassParam.mkfsOptions:
        if (!MKFS_OPTIONS_RE.test(value))
          throw invalidArgument(
            `parameter mkfsOptions: only letters, digits, spaces and = , . _ : + - are allowed`,
          );
        p.mkfsOptions = value.trim();
        break;
      case StorageClassParam.snapshotMethod:
        p.snapshotMethod = parseMethod(value);
        break;
      case StorageClassParam.allowUnsafeMountOptions:
        if (value !== "true" && value !== "false")
          throw invalidArgument(`parameter allowUnsafeMountOptions: "${value}" must be true or false`);
        if (value === "true") p.allowUnsafeMountOptions = true;
        break;
      case StorageClassParam.healthCheck:
        p.healthCheck = parseHealthCheck(`parameter ${key}`, value);
        break;
      default:
        throw invalidArgument(
          `unknown parameter "${key}" (known: ${Object.values(StorageClassParam).join(", ")})`,
        );
    }
  }
  return p;
}

/** Stored form (strings) for the volume record; parseParams(storedParams(p)) round-trips. */
export function storedParams(p: VolumeParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k] = String(v);
  return out;
}
