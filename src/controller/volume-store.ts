// The volume store: the one place that loads, finds, adds, saves and removes volume records on the RDS.
// A volume is a `/disk` item of type file whose comment holds the driver's record (volume-record.ts); no
// other module of the controller decodes or encodes a record or builds a disk command for a volume.
//
// Writes are compare-and-set against the comment that was read. The per-volume lock (context.ts) is
// in-process only: with two controller replicas (a leader-election hand-over, or `replicas: 2`), another
// process can write between our read and our write. Each write therefore names the record it read in the
// `/disk set [find ...]` selector, so the appliance applies it atomically or not at all, and reads it back
// in the same exec; a miss is RdsError("conflict"), answered ABORTED (the CO retries, and the retry
// re-reads).
//
// Round trips: every function here costs one SSH exec (RdsClient batches a read with its neighbours and a
// write with its read-back), so an RPC's count is the number of store calls it makes in sequence
// (docs/architecture.md lists them per RPC).
import { alreadyExists, failedPrecondition } from "../csi/errors.ts";
import { isVolumeId, VOLUME_SLOT_PREFIXES } from "../csi/volume-id.ts";
import type { DiskChanges, FileDisk, Pool, RdsFile } from "../rds/types.ts";
import { allowedHostsFor } from "./allowed-hosts.ts";
import type { ControllerContext, Volume } from "./context.ts";
import { decodeRecord, encodeRecord, type VolumeRecord } from "./volume-record.ts";
import { imageRemovals } from "./volumes/images.ts";
import type { ImageLocation } from "./volumes/layout.ts";

type OtherChanges = Omit<DiskChanges, "comment" | "ifComment">;

/** Another cluster's volume on a shared RDS: never publish, grow, copy or delete it from here. */
export function refuseForeign(c: ControllerContext, v: Volume, id: string): void {
  if (v.record.instance && v.record.instance !== c.instance)
    throw failedPrecondition(
      `volume ${id} belongs to another rds-csi instance sharing this RDS (not --instance-id ${c.identity}); leaving it alone`,
    );
}

/**
 * The volume with this id, or undefined when there is none, the disk is not one this driver made, or
 * the id is not of the form this driver issues (then nothing is asked of the appliance).
 */
export async function loadVolume(c: ControllerContext, volumeId: string): Promise<Volume | undefined> {
  if (!isVolumeId(volumeId)) return undefined;
  const disk = await c.rds.getDisk(volumeId);
  const record = disk && decodeRecord(disk.comment);
  if (!disk || !record) return undefined;
  const v = { disk, record };
  refuseForeign(c, v, volumeId);
  return v;
}

/** What is at a slot: our volume, a disk whose comment is not a record of ours, or nothing. */
export type AtSlot = { volume: Volume } | { unreadable: FileDisk } | { none: true };

function atSlot(disk: FileDisk | undefined): AtSlot {
  if (!disk) return { none: true };
  const record = decodeRecord(disk.comment);
  return record ? { volume: { disk, record } } : { unreadable: disk };
}

/**
 * The slot, and with it (same exec) the other reads a create needs: the file at the new volume's path
 * and the pool it goes on.
 */
export async function findSlot(
  c: ControllerContext,
  slot: string,
  also: { file?: string; pool?: string } = {},
): Promise<{ at: AtSlot; file?: RdsFile; pool?: Pool }> {
  const found = await c.rds.lookup({ disk: slot, ...also });
  return {
    at: atSlot(found.disk),
    ...(found.file ? { file: found.file } : {}),
    ...(found.pool ? { pool: found.pool } : {}),
  };
}

/**
 * A volume this instance may adopt for a retried CreateVolume: refuses (ALREADY_EXISTS) a disk that is
 * not ours or belongs to another driver instance. undefined when the slot is free.
 */
export function adoptable(c: ControllerContext, at: AtSlot, slot: string): Volume | undefined {
  if ("none" in at) return undefined;
  if ("unreadable" in at)
    throw alreadyExists(
      `disk slot ${slot} exists on the RDS but was not created by this driver; refusing to touch it`,
    );
  // Records older than instance tags carry none and are accepted.
  if (at.volume.record.instance && at.volume.record.instance !== c.instance)
    throw alreadyExists(
      `disk slot ${slot} holds a volume of another rds-csi instance (another cluster sharing this RDS, or a different --instance-id); refusing to adopt it`,
    );
  return at.volume;
}

/** Re-reads the slot for a create that lost a race (`/disk add` answered "exists"). */
export async function adoptRaced(c: ControllerContext, slot: string): Promise<Volume | undefined> {
  return adoptable(c, atSlot(await c.rds.getDisk(slot)), slot);
}

/** A new volume's `/disk` item: exported now (a fresh image), or unexported until its image is filled. */
export interface NewDisk {
  slot: string;
  image: ImageLocation;
  /** Bytes to allocate; omitted = attach the image that is already there. */
  sizeBytes?: number;
  record: VolumeRecord;
  /** Export now with nobody allowed (ControllerPublish allows the nodes), or later (finishVolume). */
  export: { port: number; nqn?: string } | false;
}

/** `/disk add` with the record, read back and verified in the same exec. */
export async function addVolume(c: ControllerContext, d: NewDisk): Promise<Volume> {
  const disk = await c.rds.addFileDisk({
    slot: d.slot,
    filePath: d.image.filePath,
    ...(d.sizeBytes !== undefined ? { fileSizeBytes: d.sizeBytes } : {}),
    comment: encodeRecord(d.record),
    nvmeExport: d.export !== false,
    nvmePort: d.export ? d.export.port : c.opts.nvmePort,
    ...(d.export ? { allowedHosts: allowedHostsFor([], c.opts) } : {}),
    ...(d.export && d.export.nqn !== undefined ? { nqn: d.export.nqn } : {}),
  });
  return { disk, record: d.record };
}

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

/** Disk changes derived from the record (size, export, allowed hosts) made only while the record is unchanged. */
export async function updateVolumeDisk(
  c: ControllerContext,
  v: Volume,
  changes: OtherChanges,
): Promise<void> {
  v.disk = await c.rds.setDisk(v.disk.slot, { ...changes, ifComment: v.disk.comment });
}

/**
 * Removes the volume's disk item (export off first) and its image in one exec: RouterOS leaves the
 * backing file behind when a disk goes, and a volume in its own btrfs subvolume loses that too.
 */
export async function removeVolume(c: ControllerContext, slot: string, image: ImageLocation): Promise<void> {
  await c.rds.removeAll([{ disk: slot }, ...imageRemovals(image)]);
}

/** Every volume of ours on the appliance (records that cannot be read are left out), by id. */
export async function listVolumes(c: ControllerContext): Promise<Volume[]> {
  const out: Volume[] = [];
  for (const prefix of VOLUME_SLOT_PREFIXES) {
    for (const disk of await c.rds.listDisks(prefix)) {
      const record = decodeRecord(disk.comment);
      if (record) out.push({ disk, record });
    }
  }
  return out.sort((a, b) => (a.disk.slot < b.disk.slot ? -1 : a.disk.slot > b.disk.slot ? 1 : 0));
}
