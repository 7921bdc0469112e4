// Reading snapshots back from the appliance: each is a never-exported `/disk` item (slot = snapshot id)
// whose file is the snapshot's image and whose comment is its record (snapshot-record.ts). One
// `/disk print` lists them all, on every pool and under every StorageClass's directory, and a restarted
// controller finds them exactly as the previous one left them.
import type { Snapshot } from "../../csi/generated/csi/v1/Snapshot.ts";
import type { FileDisk } from "../../rds/types.ts";
import type { ControllerContext } from "../context.ts";
import { isSnapshotId, SNAPSHOT_SLOT_PREFIX } from "./snapshot-id.ts";
import { decodeSnapshotRecord, type SnapshotRecord } from "./snapshot-record.ts";

export interface StoredSnapshot {
  disk: FileDisk;
  record: SnapshotRecord;
}

/** The snapshot with this id, or undefined when there is none (or the slot holds something not ours). */
export async function loadSnapshot(c: ControllerContext, id: string): Promise<StoredSnapshot | undefined> {
  if (!isSnapshotId(id)) return undefined;
  const disk = await c.rds.getDisk(id);
  const record = disk && decodeSnapshotRecord(disk.comment);
  return disk && record ? { disk, record } : undefined;
}

/** Every snapshot of ours, sorted by id. */
export async function allSnapshots(c: ControllerContext): Promise<StoredSnapshot[]> {
  const out: StoredSnapshot[] = [];
  for (const disk of await c.rds.listDisks(SNAPSHOT_SLOT_PREFIX)) {
    const record = isSnapshotId(disk.slot) ? decodeSnapshotRecord(disk.comment) : undefined;
    if (record) out.push({ disk, record });
  }
  return out.sort((a, b) => (a.disk.slot < b.disk.slot ? -1 : a.disk.slot > b.disk.slot ? 1 : 0));
}

/** The CSI view: lineage, creation time and size come from the record, never from the file. */
export function snapshotInfo(s: StoredSnapshot): Snapshot {
  const ms = Date.parse(s.record.createdAt);
  const at = Number.isFinite(ms) ? ms : 0;
  return {
    snapshot_id: s.disk.slot,
    source_volume_id: s.record.sourceVolume,
    size_bytes: String(s.record.sizeBytes),
    creation_time: { seconds: String(Math.floor(at / 1000)), nanos: (at % 1000) * 1_000_000 },
    ready_to_use: true,
  };
}
