// The one provisioning pipeline of CreateVolume, for every kind of new volume: an empty one (flat or in
// the btrfs subvolume layout), one restored from a snapshot, and a clone of another volume (CLONE_VOLUME;
// CDI's `snapshot` and `csi-clone` strategies). Idempotent by name: the same name with the same size,
// source and parameters returns the volume; with others, ALREADY_EXISTS; a missing source is NOT_FOUND;
// no leftovers. Holding the name, the new id and the source:
//
//   plan     name → slot, size, layout, image location, source          (create-volume.ts and below)
//   check    one exec: the slot, anything at the image's place, the pool's free space
//            - a disk with our record at the slot: a retry → resume it (finish it if unexported)
//            - an image with no disk item: an interrupted attempt's → remove it (once it has settled)
//   create   an empty image: `/disk add` with the size (and an empty subvolume first for that layout),
//            exported at once, read back and verified in the same exec
//   fill     from a source: the image is made by a snapshot strategy (a btrfs snapshot of the source's
//            subvolume on the same pool, else `/file copy`), then attached **unexported** with the record
//   verify   every add and set reads the disk back in its own exec and checks it (rds/client.ts)
//   finish   a filled volume is grown to the requested size and exported in one `/disk set`
//   respond  the CSI volume, with its content source
//
// An unexported disk therefore means "not finished": the CO's retry completes it. Any failure goes through
// one undo path (undoHalfMade): what this call made is removed, what it cannot be sure of is left for the
// retry (a disk it did not add, a command that timed out and may still run).
//
// Round trips for a new empty flat volume: 2 (check, create), once the controller has read the pool's
// file system and the RouterOS version and made the directory (the first create does that).
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
import { metrics } from "../../observability/metrics.ts";
import { RdsError } from "../../rds/types.ts";
import { allowedHostsFor } from "../allowed-hosts.ts";
import { type ResolvedRange, sizeFits } from "../capacity-range.ts";
import type { ControllerContext, Volume } from "../context.ts";
import { storedParams, type VolumeParams } from "../params.ts";
import { writingFile } from "../settle.ts";
import { canFileCopy, canSubvolume, layoutFor, type PoolFacts, poolFacts } from "../snapshots/method.ts";
import { loadSnapshot } from "../snapshots/snapshot-store.ts";
import { STRATEGIES } from "../snapshots/strategies.ts";
import { notPointInTime } from "../snapshots/strategy.ts";
import { hasParams, isNamed, newRecord, type VolumeRecord } from "../volume-record.ts";
import { addVolume, adoptable, adoptRaced, findSlot, loadVolume, updateVolumeDisk } from "../volume-store.ts";
import { clearLeftover, undoHalfMade } from "./images.ts";
import {
  type ImageLocation,
  imageLocation,
  parentDirOf,
  poolOfImage,
  subvolumeDir,
  type VolumeLayout,
  volumeLocation,
} from "./layout.ts";
import { poolOf } from "./path.ts";

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
    if (param === "btrfs-subvolume") throw noPool(volumePath);
    return "flat"; // the check step reports the missing pool
  }
  return layoutFor(param, facts);
}

const noPool = (volumePath: string) =>
  failedPrecondition(
    `pool "${poolOf(volumePath)}" (first component of volume path ${volumePath}) is not a mounted disk on the RDS`,
  );

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
    const target = volumeLocation(r.volumePath, r.slot, r.layout);
    // check: the slot, the image's place (its subvolume's directory holds it, when it has one) and the
    // pool, in one exec.
    const found = await findSlot(c, r.slot, {
      file: subvolumeDir(target) ?? target.filePath,
      pool: poolOf(r.volumePath),
    });
    const existing = adoptable(c, found.at, r.slot);
    if (existing) return respond(await resume(c, r, source, existing));

    const from = source ? await sourceImage(c, source) : undefined;
    const size = from ? targetSize(r.range, from.sizeBytes) : r.range.size;
    // No disk item, but an image at our place: a delete that crashed between `/disk remove` and
    // `/file remove`, or a create that failed half-way. No volume owns it, so it must go before we
    // create a fresh one (reusing it would hand a deleted volume's data to a new claim).
    if (found.file) await clearLeftover(c, target, "volume");
    const pool = found.pool;
    if (!pool) throw noPool(r.volumePath);
    metrics.poolBytes.set({ kind: "size" }, pool.sizeBytes);
    metrics.poolBytes.set({ kind: "free" }, pool.freeBytes);
    if (pool.freeBytes < size)
      throw resourceExhausted(
        `not enough space on pool ${pool.slot}: ${size} bytes requested, ${pool.freeBytes} free`,
      );
    const needsFacts = from !== undefined || target.subvolume !== undefined;
    const [facts] = await Promise.all([
      needsFacts ? poolFacts(c, poolOf(r.volumePath)) : undefined,
      c.ensureDirectory(parentDirOf(target)),
    ]);
    if (needsFacts && !facts) throw noPool(r.volumePath);

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
      let v: Volume;
      if (!from) {
        if (target.subvolume !== undefined) await makeEmptySubvolume(c, facts!, target);
        const nqn = await c.nqnFor(r.slot);
        v = await writingFile(c, target.filePath, () =>
          addVolume(c, {
            slot: r.slot,
            image: target,
            sizeBytes: size,
            record,
            export: { port: r.params.nvmePort ?? c.opts.nvmePort, ...(nqn ? { nqn } : {}) },
          }),
        );
        added = true;
        c.log.info({ slot: r.slot, bytes: v.disk.sizeBytes, filePath: target.filePath }, "volume created");
      } else {
        const how = await fill(c, facts!, from.image, target, from.sizeBytes, from.publishedTo);
        v = await addVolume(c, { slot: r.slot, image: target, record, export: false });
        added = true;
        if (v.disk.sizeBytes !== from.sizeBytes)
          throw new RdsError(
            "failure",
            `copied image ${target.filePath} has ${v.disk.sizeBytes} bytes, its source ${from.sizeBytes}`,
          );
        await finish(c, r, v, size);
        c.log.info({ slot: r.slot, source, how, bytes: v.disk.sizeBytes }, "volume created from a source");
      }
      return respond(v);
    } catch (err) {
      // Another controller (or an attempt whose reply was lost) made it meanwhile: its add won and its
      // image is at our target, so keep it and answer as a retry would.
      if (err instanceof RdsError && err.kind === "exists" && !added) {
        const raced = await adoptRaced(c, r.slot);
        if (raced) return respond(await resume(c, r, source, raced));
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
  const v = await loadVolume(c, s.volume);
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

/** fill: the new image from the source image, by a snapshot strategy. Returns the mechanism used. */
async function fill(
  c: ControllerContext,
  facts: PoolFacts,
  from: ImageLocation,
  to: ImageLocation,
  bytes: number,
  sourcePublishedTo: string[] = [],
): Promise<"btrfs-subvolume" | "file-copy"> {
  const env = { c, facts };
  if (
    to.subvolume !== undefined &&
    from.subvolume !== undefined &&
    poolOfImage(from) === poolOfImage(to) &&
    canSubvolume(facts)
  ) {
    await STRATEGIES["btrfs-subvolume"].take(env, from, to, bytes);
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
  await STRATEGIES["file-copy"].take(env, from, to, bytes);
  return "file-copy";
}

/**
 * finish: grow to the requested size if larger and export, in one `/disk set` (a no-op when done).
 * Compare-and-set on the record: a finish retried while another controller published the volume must not
 * reset its allowed hosts.
 */
async function finish(c: ControllerContext, r: ProvisionRequest, v: Volume, size: number): Promise<void> {
  const grow = v.disk.sizeBytes < size;
  if (!grow && v.disk.nvmeExport) return;
  const nqn = v.disk.nvmeExport ? undefined : await c.nqnFor(r.slot);
  await updateVolumeDisk(c, v, {
    ...(grow ? { fileSizeBytes: size } : {}),
    ...(v.disk.nvmeExport
      ? {}
      : {
          nvmeExport: true,
          allowedHosts: allowedHostsFor(v.record.attachments, c.opts),
          nvmePort: r.params.nvmePort ?? c.opts.nvmePort,
          ...(nqn ? { nqn } : {}),
        }),
  });
}

/** A retried CreateVolume (or one that lost a race): the same request gets the volume, finished. */
async function resume(
  c: ControllerContext,
  r: ProvisionRequest,
  source: Source | undefined,
  v: Volume,
): Promise<Volume> {
  if (!isNamed(v.record, r.name)) throw alreadyExists(`volume id ${r.slot} belongs to another volume name`);
  if (!sameSource(source, v.record.source))
    throw alreadyExists(
      v.record.source && !source
        ? `volume ${r.name} exists, made from a snapshot or volume`
        : `volume ${r.name} exists with another content source`,
    );
  if (!hasParams(v.record, storedParams(r.params)))
    throw alreadyExists(`volume ${r.name} exists with other parameters`);
  if (source && !v.disk.nvmeExport) {
    // Not finished (the last step did not complete): complete it, for the size this request asks for.
    await finish(c, r, v, targetSize(r.range, v.disk.sizeBytes));
    return v;
  }
  if (!sizeFits(v.disk.sizeBytes, r.range))
    throw alreadyExists(
      `volume ${r.name} exists with ${v.disk.sizeBytes} bytes, incompatible with the requested range [${r.range.required}, ${r.range.limit || "∞"}]`,
    );
  // A crash left it unexported, or someone disabled it: the volume must be usable when we say so.
  await finish(c, r, v, v.disk.sizeBytes);
  return v;
}
