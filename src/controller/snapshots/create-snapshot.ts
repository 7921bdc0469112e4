// CreateSnapshot and DeleteSnapshot: idempotent and crash-safe, whatever the mechanism.
//
// CreateSnapshot, holding the snapshot's name and id and the source volume (a concurrent call on any of
// them gets ABORTED; the source cannot be deleted or grown while it is being copied):
//   1. an existing snapshot item with this id: same source → return it (a retry); other source → ALREADY_EXISTS
//   2. an image at the snapshot's place with no item: left by an interrupted attempt → remove it
//   3. make the image (strategy.take)
//   4. add the never-exported `/disk` item carrying the record: the commit point
// A failure after 3 removes what was made before answering; a crash between 3 and 4 leaves an image with no
// item, which the CO's retry (same name) removes in step 2. So no image outlives a failed call for long.
import {
  aborted,
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  required,
  resourceExhausted,
} from "../../csi/errors.ts";
import type { CreateSnapshotRequest__Output } from "../../csi/generated/csi/v1/CreateSnapshotRequest.ts";
import type { CreateSnapshotResponse } from "../../csi/generated/csi/v1/CreateSnapshotResponse.ts";
import type { DeleteSnapshotRequest__Output } from "../../csi/generated/csi/v1/DeleteSnapshotRequest.ts";
import { type FileDisk, RdsError } from "../../rds/types.ts";
import type { ControllerContext } from "../context.ts";
import { loadVolume } from "../volume-store.ts";
import { clearLeftover, removeImage, removeLeftoversOf, undoHalfMade } from "../volumes/images.ts";
import { imageLocation, parentDirOf, poolOfImage } from "../volumes/layout.ts";
import { methodFor, parseSnapshotParams, poolFacts } from "./method.ts";
import { isSnapshotId, SNAPSHOT_NAME_MAX, snapshotIdForName } from "./snapshot-id.ts";
import { decodeSnapshotRecord, encodeSnapshotRecord, type SnapshotRecord } from "./snapshot-record.ts";
import { type StoredSnapshot, snapshotInfo } from "./snapshot-store.ts";
import { STRATEGIES } from "./strategies.ts";
import { notPointInTime } from "./strategy.ts";

export async function createSnapshot(
  c: ControllerContext,
  req: CreateSnapshotRequest__Output,
): Promise<CreateSnapshotResponse> {
  const name = required(req.name, "name");
  const sourceId = required(req.source_volume_id, "source_volume_id");
  if (name.length > SNAPSHOT_NAME_MAX)
    throw invalidArgument(`name is longer than ${SNAPSHOT_NAME_MAX} characters`);
  const { method: param } = parseSnapshotParams(req.parameters);
  const id = snapshotIdForName(name);

  return c.exclusive([`snapname:${name}`, `snap:${id}`, `vol:${sourceId}`], async () => {
    const existing = await existingSnapshot(c, id, name, sourceId);
    if (existing) return { snapshot: snapshotInfo(existing) };

    const source = await loadVolume(c, sourceId);
    if (!source) throw notFound(`source volume ${sourceId} does not exist`);
    const sourceImage = imageLocation(source.disk.filePath, source.disk.slot);
    const facts = await poolFacts(c, poolOfImage(sourceImage));
    if (!facts)
      throw notFound(`the pool of source volume ${sourceId} (${poolOfImage(sourceImage)}) is not on the RDS`);
    const strategy = STRATEGIES[methodFor(param, sourceImage, facts)];
    const target = strategy.locate(sourceImage, id);
    const size = source.disk.sizeBytes;
    const published = () => source.record.attachments.map((a) => a.node);
    if (!strategy.atomic && published().length)
      throw failedPrecondition(notPointInTime("a snapshot", published()));

    await clearLeftover(c, target, "snapshot");
    const need = strategy.spaceNeeded(size);
    if (need > 0) {
      const pool = await c.rds.getPool(facts.mountPoint);
      if (pool && pool.freeBytes < need)
        throw resourceExhausted(
          `not enough space on pool ${pool.slot} for a ${need}-byte snapshot: ${pool.freeBytes} free`,
        );
    }
    await c.ensureDirectory(parentDirOf(target));

    const record: SnapshotRecord = {
      name,
      sourceVolume: sourceId,
      sizeBytes: size,
      createdAt: new Date().toISOString(),
      method: strategy.method,
    };
    let disk: FileDisk | undefined;
    try {
      await strategy.take({ c, facts }, sourceImage, target, size);
      if (!strategy.atomic) {
        // The lock is in-process: another controller may have published the volume during the copy.
        const now = await loadVolume(c, sourceId);
        if (now?.record.attachments.length)
          throw aborted(
            notPointInTime(
              "a snapshot",
              now.record.attachments.map((a) => a.node),
            ),
          );
      }
      disk = await c.rds.addFileDisk({
        slot: id,
        filePath: target.filePath,
        comment: encodeSnapshotRecord(record),
        nvmeExport: false,
        nvmePort: c.opts.nvmePort,
      });
      if (disk.sizeBytes !== size)
        throw new RdsError(
          "failure",
          `snapshot image ${target.filePath} has ${disk.sizeBytes} bytes, the volume ${size}`,
        );
    } catch (err) {
      await undoHalfMade(c, id, target, disk !== undefined, "snapshot", err);
      if (err instanceof RdsError && err.kind === "no-space")
        throw resourceExhausted(
          `not enough space on pool ${facts.mountPoint} for snapshot ${id}: ${err.message}`,
        );
      throw err;
    }
    c.log.info({ snapshot: id, source: sourceId, method: strategy.method, bytes: size }, "snapshot created");
    return { snapshot: snapshotInfo({ disk, record }) };
  });
}

/** A retried CreateSnapshot: the same name and source return the existing snapshot. */
async function existingSnapshot(
  c: ControllerContext,
  id: string,
  name: string,
  sourceId: string,
): Promise<StoredSnapshot | undefined> {
  const disk = await c.rds.getDisk(id);
  if (!disk) return undefined;
  const record = decodeSnapshotRecord(disk.comment);
  if (!record)
    throw alreadyExists(`disk slot ${id} exists on the RDS but is not a snapshot made by this driver`);
  const s: StoredSnapshot = { disk, record };
  if (s.record.name !== name) throw alreadyExists(`snapshot id ${id} belongs to another snapshot name`);
  if (s.record.sourceVolume !== sourceId)
    throw alreadyExists(
      `snapshot ${name} exists with source volume ${s.record.sourceVolume}, not ${sourceId}`,
    );
  return s;
}

/**
 * DeleteSnapshot. Removing a snapshot never touches its source volume or volumes restored from it: a
 * file-copy image is an independent file, and a btrfs snapshot is an independent subvolume.
 */
export async function deleteSnapshot(
  c: ControllerContext,
  req: DeleteSnapshotRequest__Output,
): Promise<Record<string, never>> {
  const id = required(req.snapshot_id, "snapshot_id");
  if (!isSnapshotId(id)) return {}; // not an id we issue (CSI: unknown id → OK)
  return c.exclusive([`snap:${id}`], async () => {
    // One read tells the three cases apart: ours, someone else's, none (loadSnapshot would read it twice).
    const disk = await c.rds.getDisk(id);
    if (disk && decodeSnapshotRecord(disk.comment)) {
      await c.rds.removeDisk(id);
      await removeImage(c, imageLocation(disk.filePath, id));
      c.log.info({ snapshot: id, filePath: disk.filePath }, "snapshot deleted");
      return {};
    }
    if (disk) {
      c.log.warn(
        { snapshot: id },
        "DeleteSnapshot: disk exists but is not a snapshot of this driver; leaving it alone",
      );
      return {};
    }
    // No item: a previous delete may have stopped between removing the item and the image. Finish it.
    const removed = await removeLeftoversOf(c, id);
    if (removed)
      c.log.info({ snapshot: id, removed }, "removed the image of a snapshot whose item was already gone");
    return {};
  });
}
