// Volume ids are RouterOS slot names, derived deterministically from the CSI name so that a retried
// CreateVolume finds the disk an earlier attempt made. Kubernetes names (`pvc-<uuid>`) are kept as they
// are, readable on the appliance; any other name (csi-sanity sends 128 characters) becomes a short hash.
import { createHash } from "node:crypto";

const PVC = /^pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HASHED = /^csi-[0-9a-f]{24}$/;

/** Slot prefixes of every volume this driver can have made. */
export const VOLUME_SLOT_PREFIXES = ["pvc-", "csi-"] as const;

/**
 * `instance` (the controller's identity) goes into the hash, so two clusters sharing one RDS that both
 * create a volume named `data` get different slots. Kubernetes names are unique UUIDs already.
 */
export function slotForName(name: string, instance: string): string {
  if (PVC.test(name)) return name;
  return `csi-${createHash("sha256").update(`${instance}\n${name}`, "utf8").digest("hex").slice(0, 24)}`;
}

/** True for ids this driver issues. Anything else cannot name one of our volumes, and never reaches the RDS. */
export function isVolumeId(id: string): boolean {
  return PVC.test(id) || HASHED.test(id);
}

export const NAME_MAX = 1024;
