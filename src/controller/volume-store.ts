// Writes of a volume's record, all compare-and-set against the comment that was read. The per-volume
// lock (context.ts) is in-process only: with two controller replicas (a leader-election hand-over, or
// `replicas: 2`), another process can write between our read and our write. Each write therefore names
// the record it read in the `/disk set [find ...]` selector, so the appliance applies it atomically or
// not at all, and reads it back; a miss is RdsError("conflict"), answered ABORTED (the CO retries, and
// the retry re-reads). This is the seed of the single volume store that issue 15 asks for.
import type { DiskChanges } from "../rds/types.ts";
import type { ControllerContext, Volume } from "./context.ts";
import { encodeRecord, type VolumeRecord } from "./volume-record.ts";

type OtherChanges = Omit<DiskChanges, "comment" | "ifComment">;

/** Stores `record` (and any other disk changes in the same command) if the disk still holds v's record. */
export async function saveVolume(
  c: ControllerContext,
  v: Volume,
  record: VolumeRecord,
  changes: OtherChanges = {},
): Promise<void> {
  // A record older than instance tags is claimed by the instance that writes it (only ever one the CO
  // asked to act on the volume), so the attachment reconciler may look after it from then on.
  const stamped = record.instance ? record : { ...record, instance: c.instance };
  v.disk = await c.rds.setDisk(v.disk.slot, {
    ...changes,
    comment: encodeRecord(stamped),
    ifComment: v.disk.comment,
  });
  v.record = stamped;
}

/** Disk changes derived from the record (export, allowed hosts) made only while the record is unchanged. */
export async function updateVolumeDisk(
  c: ControllerContext,
  v: Volume,
  changes: OtherChanges,
): Promise<void> {
  v.disk = await c.rds.setDisk(v.disk.slot, { ...changes, ifComment: v.disk.comment });
}
