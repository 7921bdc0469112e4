// Snapshot ids are RouterOS slot names too: every snapshot has a `/disk` item holding its record (see
// snapshot-record.ts), so the id must be a valid, unique slot derived deterministically from the CSI name
// (a retried CreateSnapshot finds what an earlier attempt made). The external-snapshotter's names
// (`snapshot-<uuid>`) are kept readable; any other name (csi-sanity sends 128 characters) is hashed. The
// prefixes differ from volume ids (`pvc-`, `csi-`), so no snapshot is ever listed or loaded as a volume.
import { createHash } from "node:crypto";

const K8S = /^snapshot-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HASHED = /^snap-[0-9a-f]{24}$/;

/** The slot prefix shared by every snapshot id (one `/disk print` lists them all). */
export const SNAPSHOT_SLOT_PREFIX = "snap";

/** Longest CSI snapshot name accepted: the name is kept in the record, which must fit a RouterOS comment. */
export const SNAPSHOT_NAME_MAX = 256;

export function snapshotIdForName(name: string): string {
  if (K8S.test(name)) return name;
  return `snap-${createHash("sha256").update(name, "utf8").digest("hex").slice(0, 24)}`;
}

/** True for ids this driver issues; anything else names no snapshot of ours and never reaches the RDS. */
export function isSnapshotId(id: string): boolean {
  return K8S.test(id) || HASHED.test(id);
}
