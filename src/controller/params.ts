// StorageClass parameters. Unknown keys are refused (a typo must not be silently ignored), every value
// is validated here, and only validated values are stored on the appliance or passed to the node.
import { isIP } from "node:net";
import { invalidArgument } from "../csi/errors.ts";
import { StorageClassParam } from "../csi/volume-context.ts";
import { type MethodParam, parseMethod } from "./snapshots/method.ts";

export interface VolumeParams {
  volumePath?: string;
  nvmeAddress?: string;
  nvmePort?: number;
  ctrlLossTmo?: number;
  reconnectDelay?: number;
  keepAliveTmo?: number;
  nrIoQueues?: number;
  mkfsOptions?: string;
  /** Snapshot mechanism, which also fixes the volume's layout at creation (snapshots/layout.ts). */
  snapshotMethod?: MethodParam;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const PATH = /^\/?[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+\/?$/;
const MKFS_OPTIONS = /^[A-Za-z0-9=,._:+ -]{0,256}$/;

// Keys the external-provisioner and CDI add (pvc/pv names, fstype, secrets refs): not ours to refuse.
const FOREIGN_PREFIXES = ["csi.storage.k8s.io/", "storage.kubernetes.io/"];

function int(key: string, value: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(value)) throw invalidArgument(`parameter ${key}: "${value}" is not an integer`);
  const n = Number(value);
  if (n < min || n > max) throw invalidArgument(`parameter ${key}: ${n} is outside ${min}..${max}`);
  return n;
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
        if (!isIP(value) && !HOSTNAME.test(value))
          throw invalidArgument(`parameter nvmeAddress: "${value}" is not an IP address or host name`);
        p.nvmeAddress = value;
        break;
      case StorageClassParam.nvmePort:
        p.nvmePort = int(key, value, 1, 65535);
        break;
      case StorageClassParam.ctrlLossTmo:
        p.ctrlLossTmo = int(key, value, -1, 31_536_000);
        break;
      case StorageClassParam.reconnectDelay:
        p.reconnectDelay = int(key, value, 1, 3600);
        break;
      case StorageClassParam.keepAliveTmo:
        p.keepAliveTmo = int(key, value, 0, 3600);
        break;
      case StorageClassParam.nrIoQueues:
        p.nrIoQueues = int(key, value, 1, 1024);
        break;
      case StorageClassParam.mkfsOptions:
        if (!MKFS_OPTIONS.test(value))
          throw invalidArgument(
            `parameter mkfsOptions: only letters, digits, spaces and = , . _ : + - are allowed`,
          );
        p.mkfsOptions = value.trim();
        break;
      case StorageClassParam.snapshotMethod:
        p.snapshotMethod = parseMethod(value);
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

/** Whether two stored parameter sets are the same, whatever the order of their keys. */
export function sameParams(a: Record<string, string>, b: Record<string, string>): boolean {
  const sorted = (o: Record<string, string>) =>
    JSON.stringify(Object.entries(o).sort(([x], [y]) => x.localeCompare(y)));
  return sorted(a) === sorted(b);
}

/** `/storage-pool/k8s/` → `storage-pool/k8s` (RouterOS /file names have no leading slash). */
export function normalizeVolumePath(path: string): string {
  return path.replace(/^\/+/, "").replace(/\/+$/, "");
}

export function poolOf(volumePath: string): string {
  return normalizeVolumePath(volumePath).split("/")[0]!;
}
