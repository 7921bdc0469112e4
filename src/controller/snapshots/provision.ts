// CreateVolume for what the plain path (create-volume.ts) does not do: a volume from a snapshot or from
// another volume (CLONE_VOLUME; CDI's `snapshot` and `csi-clone` strategies), and any volume in the btrfs
// subvolume layout (layout.ts). Same contract as the plain path: idempotent by name, ALREADY_EXISTS for
// the same name with another size, source or parameters, NOT_FOUND for a missing source, no leftovers.
//
// With a content source the steps are, holding the name, the new id and the source:
//   1. an existing disk with this id and our record: finish it if it is unexported (see 5), else return it
//   2. an image at the new volume's place with no disk item: an interrupted attempt's → remove it
//   3. make the image from the source: a btrfs snapshot of the source's subvolume when both live in
//      subvolumes on the same pool (instant, copy-on-write), else `/file copy` (into a new empty
//      subvolume for the subvolume layout)
//   4. attach it as a disk, **unexported**, with the volume record (lineage included)
//   5. grow it to the requested size if that is larger, then export it (with its port and NQN)
// An unexported disk therefore means "not finished": the CO's retry completes steps 5. A completed volume
// (exported) with another size is a different request: ALREADY_EXISTS.

import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  outOfRange,
  resourceExhausted,
} from "../../csi/errors.ts";
import type { CreateVolumeResponse } from "../../csi/generated/csi/v1/CreateVolumeResponse.ts";
import type {
  VolumeContentSource,
  VolumeContentSource__Output,
} from "../../csi/generated/csi/v1/VolumeContentSource.ts";
import { type FileDisk, RdsError } from "../../rds/types.ts";
import { allowedHostsFor } from "../allowed-hosts.ts";
import { type ResolvedRange, sizeFits } from "../capacity-range.ts";
import { type ControllerContext, checkOwner, type Volume } from "../context.ts";
import { storedParams, type VolumeParams } from "../params.ts";
import {
  decodeRecord,
  encodeRecord,
  hasParams,
  isNamed,
  newRecord,
  type VolumeRecord,
} from "../volume-record.ts";
import { clearLeftover, undoHalfMade } from "../volumes/images.ts";
import {
  type ImageLocation,
  imageLocation,
  parentDirOf,
  poolOfImage,
  type VolumeLayout,
  volumeLocation,
} from "../volumes/layout.ts";
import { poolOf } from "../volumes/path.ts";
import { copyImage } from "./file-copy.ts";
import { canFileCopy, canSubvolume, layoutFor, type PoolFacts, poolFacts } from "./method.ts";
import { loadSnapshot } from "./snapshot-store.ts";
import { notPointInTime } from "./strategy.ts";

export interface ProvisionRequest {
  name: string;
  slot: string;
  range: ResolvedRange;
  params: VolumeParams;
  /** `<pool>/<dir>` without slashes at either end. */
  volumePath: string;
  layout: VolumeLayout;
  source?: VolumeContentSource__Output | null;
  /** Builds the CreateVolume response (create-volume.ts owns the volume context). */
  respond(v: Volume): CreateVolumeResponse;
}

/** The layout a new volume gets under this StorageClass. Cached facts: no extra command after the first. */
export async function volumeLayout(
  c: ControllerContext,
  params: VolumeParams,
  volumePath: string,
): Promise<VolumeLayout> {
  const param = params.snapshotMethod ?? "auto";
  if (param === "file-copy") return "flat";
  const facts = await poolFacts(c, poolOf(volumePath));
  if (!facts) {
    if (param === "btrfs-subvolume")
      throw failedPrecondition(
        `pool "${poolOf(volumePath)}" (first component of volume path ${volumePath}) is not a mounted disk on the RDS`,
      );
    return "flat"; // the plain path reports the missing pool
  }
  return layoutFor(param, facts);
}

type Source = { snapshot: string } | { volume: string };

function sourceOf(s: VolumeContentSource__Output | null | undefined): Source | undefined {
  if (!s?.type) return undefined;
  if (s.type === "snapshot") {
    if (!s.snapshot?.snapshot_id)
      throw invalidArgument("volume_content_source.snapshot.snapshot_id is required");
    return { snapshot: s.snapshot.snapshot_id };
  }
  if (!s.volume?.volume_id) throw invalidArgument("volume_content_source.volume.volume_id is required");
  return { volume: s.volume.volume_id };
}

const sameSource = (a: Source | undefined, b: VolumeRecord["source"]): boolean =>
  JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function contentSource(s: Source | undefined): VolumeContentSource | undefined {
  if (!s) return undefined;
  return "snapshot" in s ? { snapshot: { snapshot_id: s.snapshot } } : { volume: { volume_id: s.volume } };
}

/** Size of a volume made from a source of `sourceBytes`: at least the source; the source's size when unasked. */
function targetSize(range: ResolvedRange, sourceBytes: number): number {
  const size = range.required === 0 && range.limit === 0 ? sourceBytes : Math.max(range.size, sourceBytes);
  if (range.limit && size > range.limit)
    throw outOfRange(
      `the source has ${sourceBytes} bytes, more than limit_bytes ${range.limit}: a volume cannot be smaller than its source`,
    );
  return size;
}

export async function provisionVolume(
  c: ControllerContext,
  r: ProvisionRequest,
): Promise<CreateVolumeResponse> {
  const source = sourceOf(r.source);
  const sourceKey = !source
    ? []
    : "snapshot" in source
      ? [`snap:${source.snapshot}`]
      : [`vol:${source.volume}`];
  const respond = (v: Volume): CreateVolumeResponse => {
    const res = r.respond(v);
    const cs = contentSource(source);
    if (res.volume && cs) res.volume.content_source = cs;
    return res;
  };

  return c.exclusive([`name:${r.name}`, `vol:${r.slot}`, ...sourceKey], async () => {
    const existing = await existingVolume(c, r, source);
    if (existing) return respond(existing);

    const from = source ? await sourceImage(c, source) : undefined;
    const size = from ? targetSize(r.range, from.sizeBytes) : r.range.size;
    const target = volumeLocation(r.volumePath, r.slot, r.layout);
    await clearLeftover(c, target, "volume");
    const pool = await c.rds.getPool(poolOf(r.volumePath));
    const facts = await poolFacts(c, poolOf(r.volumePath));
    if (!pool || !facts)
      throw failedPrecondition(
        `pool "${poolOf(r.volumePath)}" (first component of volume path ${r.volumePath}) is not a mounted disk on the RDS`,
      );
    if (pool.freeBytes < size)
      throw resourceExhausted(
        `not enough space on pool ${pool.slot}: ${size} bytes requested, ${pool.freeBytes} free`,
      );
    await c.ensureDirectory(parentDirOf(target));

    const record = newRecord({
      name: r.name,
      slot: r.slot,
      requiredBytes: r.range.required,
      params: storedParams(r.params),
      instance: c.instance,
      ...(source ? { source } : {}),
    });
    let added = false;
    try {
      let disk: FileDisk;
      if (!from) {
        await makeEmptySubvolume(c, facts, target);
        disk = await c.rds.addFileDisk({
          slot: r.slot,
          filePath: target.filePath,
          fileSizeBytes: size,
          comment: encodeRecord(record),
          nvmeExport: true,
          allowedHosts: allowedHostsFor([], c.opts), // nobody until ControllerPublishVolume
          nvmePort: r.params.nvmePort ?? c.opts.nvmePort,
          nqn: await c.nqnFor(r.slot),
        });
        added = true;
      } else {
        const how = await materialize(c, facts, from.image, target, from.sizeBytes, from.publishedTo);
        disk = await c.rds.addFileDisk({
          slot: r.slot,
          filePath: target.filePath,
          comment: encodeRecord(record),
          nvmeExport: false,
          nvmePort: c.opts.nvmePort,
        });
        added = true;
        if (disk.sizeBytes !== from.sizeBytes)
          throw new RdsError(
            "failure",
            `copied image ${target.filePath} has ${disk.sizeBytes} bytes, its source ${from.sizeBytes}`,
          );
        disk = await finish(c, r, disk, size);
        c.log.info({ slot: r.slot, source, how, bytes: disk.sizeBytes }, "volume created from a source");
      }
      return respond({ disk, record });
    } catch (err) {
      // Another controller made this volume meanwhile (its add won): its image is at our target, keep it.
      if (err instanceof RdsError && err.kind === "exists" && !added) {
        const raced = await existingVolume(c, r, source);
        if (raced) return respond(raced);
      }
      await undoHalfMade(c, r.slot, target, added, "volume", err);
      if (err instanceof RdsError && err.kind === "no-space")
        throw resourceExhausted(`not enough space on pool ${pool.slot} for volume ${r.slot}: ${err.message}`);
      throw err;
    }
  });
}

/** The source's image and size; NOT_FOUND when it does not exist. */
async function sourceImage(
  c: ControllerContext,
  s: Source,
): Promise<{ image: ImageLocation; sizeBytes: number; publishedTo?: string[] }> {
  if ("snapshot" in s) {
    const snap = await loadSnapshot(c, s.snapshot);
    if (!snap) throw notFound(`source snapshot ${s.snapshot} does not exist`);
    return { image: imageLocation(snap.disk.filePath, snap.disk.slot), sizeBytes: snap.disk.sizeBytes };
  }
  const v = await c.loadVolume(s.volume);
  if (!v) throw notFound(`source volume ${s.volume} does not exist`);
  return {
    image: imageLocation(v.disk.filePath, v.disk.slot),
    sizeBytes: v.disk.sizeBytes,
    publishedTo: v.record.attachments.map((a) => a.node),
  };
}

async function makeEmptySubvolume(
  c: ControllerContext,
  facts: PoolFacts,
  target: ImageLocation,
): Promise<void> {
  if (target.subvolume === undefined) return;
  await c.rds.addSubvolume({ fsLabel: facts.fsLabel!, mountPoint: facts.mountPoint, name: target.subvolume });
}

/** Step 3: the new image from the source image. Returns the mechanism used. */
async function materialize(
  c: ControllerContext,
  facts: PoolFacts,
  from: ImageLocation,
  to: ImageLocation,
  bytes: number,
  sourcePublishedTo: string[] = [],
): Promise<"btrfs-subvolume" | "file-copy"> {
  if (
    to.subvolume !== undefined &&
    from.subvolume !== undefined &&
    poolOfImage(from) === poolOfImage(to) &&
    canSubvolume(facts)
  ) {
    await c.rds.addSubvolume({
      fsLabel: facts.fsLabel!,
      mountPoint: facts.mountPoint,
      name: to.subvolume,
      parent: from.subvolume,
    });
    return "btrfs-subvolume";
  }
  if (!canFileCopy(facts))
    throw failedPrecondition(
      `RouterOS ${facts.version} has no /file copy (7.23+)${to.subvolume !== undefined ? " and the source is not a btrfs subvolume on the same pool" : ""}: cannot make a volume from this source`,
    );
  // A copy is not atomic: a volume written during it gives a torn clone. Refuse rather than hand out
  // something that looks like a point-in-time copy (docs/snapshots.md).
  if (sourcePublishedTo.length) throw failedPrecondition(notPointInTime("a clone", sourcePublishedTo));
  await makeEmptySubvolume(c, facts, to);
  await copyImage(c, from.filePath, to.filePath, bytes);
  return "file-copy";
}

/** Step 5: grow to the requested size, then export. Both are no-ops when already done. */
async function finish(
  c: ControllerContext,
  r: ProvisionRequest,
  disk: FileDisk,
  size: number,
): Promise<FileDisk> {
  let d = disk;
  // Compare-and-set on the record: a finish retried while another controller published the volume
  // must not reset its allowed hosts.
  if (d.sizeBytes < size) d = await c.rds.setDisk(r.slot, { fileSizeBytes: size, ifComment: d.comment });
  if (!d.nvmeExport) {
    const nqn = await c.nqnFor(r.slot);
    d = await c.rds.setDisk(r.slot, {
      ifComment: d.comment,
      nvmeExport: true,
      allowedHosts: allowedHostsFor(decodeRecord(d.comment)?.attachments ?? [], c.opts),
      nvmePort: r.params.nvmePort ?? c.opts.nvmePort,
      ...(nqn ? { nqn } : {}),
    });
  }
  return d;
}

/** A retried CreateVolume (step 1). */
async function existingVolume(
  c: ControllerContext,
  r: ProvisionRequest,
  source: Source | undefined,
): Promise<Volume | undefined> {
  const disk = await c.rds.getDisk(r.slot);
  if (!disk) return undefined;
  const record = decodeRecord(disk.comment);
  if (!record)
    throw alreadyExists(
      `disk slot ${r.slot} exists on the RDS but was not created by this driver; refusing to touch it`,
    );
  checkOwner(c, { disk, record }, r.slot);
  if (!isNamed(record, r.name)) throw alreadyExists(`volume id ${r.slot} belongs to another volume name`);
  if (!sameSource(source, record.source))
    throw alreadyExists(`volume ${r.name} exists with another content source`);
  const params = storedParams(r.params);
  if (!hasParams(record, params)) throw alreadyExists(`volume ${r.name} exists with other parameters`);
  if (source && !disk.nvmeExport) {
    // Not finished (step 5 did not complete): complete it, for the size this request asks for.
    return { disk: await finish(c, r, disk, targetSize(r.range, disk.sizeBytes)), record };
  }
  if (!sizeFits(disk.sizeBytes, r.range))
    throw alreadyExists(
      `volume ${r.name} exists with ${disk.sizeBytes} bytes, incompatible with the requested range [${r.range.required}, ${r.range.limit || "∞"}]`,
    );
  // A crash left it unexported, or someone disabled it: the volume must be usable when we say so.
  return { disk: disk.nvmeExport ? disk : await finish(c, r, disk, disk.sizeBytes), record };
}
