// CreateVolume and DeleteVolume: idempotent, crash-safe provisioning of file-backed NVMe/TCP exports.
import { requireCapabilities } from "../csi/capability.ts";
import {
  aborted,
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  required,
  resourceExhausted,
} from "../csi/errors.ts";
import type { CreateVolumeRequest__Output } from "../csi/generated/csi/v1/CreateVolumeRequest.ts";
import type { CreateVolumeResponse } from "../csi/generated/csi/v1/CreateVolumeResponse.ts";
import type { DeleteVolumeRequest__Output } from "../csi/generated/csi/v1/DeleteVolumeRequest.ts";
import { checkUnsafeMountOptions } from "../csi/volume-context.ts";
import { isVolumeId, NAME_MAX, slotForName } from "../csi/volume-id.ts";
import { metrics } from "../observability/metrics.ts";
import { type FileDisk, RdsError } from "../rds/types.ts";
import { allowedHostsFor } from "./allowed-hosts.ts";
import { resolveCapacity, sizeFits } from "./capacity-range.ts";
import { type ControllerContext, checkOwner, type Volume } from "./context.ts";
import { parseParams, storedParams } from "./params.ts";
import { volumeInfo } from "./queries.ts";
import { ensureSettled, writingFile } from "./settle.ts";
import { provisionVolume, volumeLayout } from "./snapshots/provision.ts";
import { decodeRecord, encodeRecord, hasParams, isNamed, newRecord } from "./volume-record.ts";
import { updateVolumeDisk } from "./volume-store.ts";
import { removeImage, removeLeftoversOf } from "./volumes/images.ts";
import { imageLocation, volumeLocation } from "./volumes/layout.ts";
import { normalizeVolumePath, poolOf } from "./volumes/path.ts";

export function volumeResponse(
  c: ControllerContext,
  v: Volume,
  requestParams: Record<string, string>,
): CreateVolumeResponse {
  return { volume: volumeInfo(v, requestParams, c.opts.topology) };
}

export async function createVolume(
  c: ControllerContext,
  req: CreateVolumeRequest__Output,
): Promise<CreateVolumeResponse> {
  try {
    return await createVolumeOnce(c, req);
  } catch (err) {
    // NOT_FOUND from CreateVolume means "the content source does not exist" (those are CsiErrors). A
    // RouterOS "no such item" here is an item that vanished under a concurrent change: retry, not absent.
    if (err instanceof RdsError && err.kind === "not-found")
      throw aborted(`the RDS changed during CreateVolume (${err.message}); retry`);
    throw err;
  }
}

async function createVolumeOnce(
  c: ControllerContext,
  req: CreateVolumeRequest__Output,
): Promise<CreateVolumeResponse> {
  const name = required(req.name, "name");
  if (name.length > NAME_MAX) throw invalidArgument(`name is longer than ${NAME_MAX} characters`);
  const caps = requireCapabilities(req.volume_capabilities);
  const range = resolveCapacity(req.capacity_range);
  const params = parseParams(req.parameters);
  for (const cap of caps) checkUnsafeMountOptions(cap.mountFlags, params.allowUnsafeMountOptions === true);
  const stored = storedParams(params);
  const slot = slotForName(name, c.identity);
  const respond = (v: Volume) => volumeResponse(c, v, stored);
  const volumePath = normalizeVolumePath(params.volumePath ?? c.opts.volumePath);
  // From a snapshot or a volume, or in the btrfs subvolume layout: snapshots/provision.ts.
  const layout = await volumeLayout(c, params, volumePath);
  if (req.volume_content_source?.type || layout === "subvolume") {
    const source = req.volume_content_source;
    return provisionVolume(c, {
      name,
      slot,
      range,
      params,
      volumePath,
      layout,
      source,
      respond,
    });
  }

  return c.exclusive([`name:${name}`, `vol:${slot}`], async () => {
    const { filePath } = volumeLocation(volumePath, slot, "flat");
    // Three independent reads on three channels: one round trip of latency instead of three.
    const [existing, leftover, pool] = await Promise.all([
      existingVolume(c, slot, name, range, stored),
      c.rds.getFile(filePath),
      c.rds.getPool(poolOf(volumePath)),
    ]);
    if (existing) return respond(existing);

    // No disk item, but a file at our path: a delete that crashed between `/disk remove` and
    // `/file remove`, or an add that failed half-way. No volume owns it, so it must go before we
    // create a fresh one (reusing it would hand a deleted volume's data to a new claim).
    if (leftover) {
      await ensureSettled(c, filePath); // a timed-out add of ours may still be allocating it
      c.log.warn({ slot, filePath }, "removing leftover file with no disk item before creating the volume");
      await c.rds.removeFile(filePath);
    }
    if (!pool)
      throw failedPrecondition(
        `pool "${poolOf(volumePath)}" (first component of volume path ${volumePath}) is not a mounted disk on the RDS`,
      );
    metrics.poolBytes.set({ kind: "size" }, pool.sizeBytes);
    metrics.poolBytes.set({ kind: "free" }, pool.freeBytes);
    if (pool.freeBytes < range.size)
      throw resourceExhausted(
        `not enough space on pool ${pool.slot}: ${range.size} bytes requested, ${pool.freeBytes} free`,
      );
    await c.ensureDirectory(volumePath);

    const record = newRecord({
      name,
      slot,
      requiredBytes: range.required,
      params: stored,
      instance: c.instance,
    });
    let disk: FileDisk;
    try {
      disk = await writingFile(c, filePath, async () =>
        c.rds.addFileDisk({
          slot,
          filePath,
          fileSizeBytes: range.size,
          comment: encodeRecord(record),
          nvmeExport: true,
          allowedHosts: allowedHostsFor([], c.opts), // nobody until ControllerPublishVolume
          nvmePort: params.nvmePort ?? c.opts.nvmePort,
          nqn: await c.nqnFor(slot),
        }),
      );
    } catch (err) {
      if (err instanceof RdsError && err.kind === "no-space")
        throw resourceExhausted(`not enough space on pool ${pool.slot} for ${range.size} bytes`);
      // Another controller (or an attempt whose reply was lost) made it meanwhile: same checks as a retry.
      if (err instanceof RdsError && err.kind === "exists") {
        const raced = await existingVolume(c, slot, name, range, stored);
        if (raced) return respond(raced);
      }
      throw err;
    }
    // addFileDisk read the disk back and checked size, path, export and comment (verify after write).
    c.log.info({ slot, bytes: disk.sizeBytes, filePath }, "volume created");
    return respond({ disk, record });
  });
}

/** A retried CreateVolume: the same name and a compatible size and parameters return the existing volume. */
async function existingVolume(
  c: ControllerContext,
  slot: string,
  name: string,
  range: ReturnType<typeof resolveCapacity>,
  params: Record<string, string>,
): Promise<Volume | undefined> {
  const disk = await c.rds.getDisk(slot);
  if (!disk) return undefined;
  const record = decodeRecord(disk.comment);
  if (!record)
    throw alreadyExists(
      `disk slot ${slot} exists on the RDS but was not created by this driver; refusing to touch it`,
    );
  const v: Volume = { disk, record };
  checkOwner(c, v, slot);
  if (!isNamed(v.record, name)) throw alreadyExists(`volume id ${slot} belongs to another volume name`);
  if (v.record.source) throw alreadyExists(`volume ${name} exists, made from a snapshot or volume`);
  if (!sizeFits(v.disk.sizeBytes, range))
    throw alreadyExists(
      `volume ${name} exists with ${v.disk.sizeBytes} bytes, incompatible with the requested range [${range.required}, ${range.limit || "∞"}]`,
    );
  if (!hasParams(v.record, params)) throw alreadyExists(`volume ${name} exists with other parameters`);
  if (!v.disk.nvmeExport) {
    // A crash left it unexported (or someone disabled it): the volume must be usable when we say so.
    await updateVolumeDisk(c, v, {
      nvmeExport: true,
      allowedHosts: allowedHostsFor(v.record.attachments, c.opts),
    });
  }
  return v;
}

export async function deleteVolume(
  c: ControllerContext,
  req: DeleteVolumeRequest__Output,
): Promise<Record<string, never>> {
  const id = required(req.volume_id, "volume_id");
  if (!isVolumeId(id)) return {}; // not an id we issue: nothing of ours to delete (CSI: unknown id → OK)
  return c.exclusive([`vol:${id}`], async () => {
    // One read tells the three cases apart: ours, someone else's, none (loadVolume would read it twice).
    const disk = await c.rds.getDisk(id);
    const record = disk && decodeRecord(disk.comment);
    if (disk && record) {
      checkOwner(c, { disk, record }, id);
      const attached = record.attachments.map((a) => a.node);
      if (attached.length)
        throw failedPrecondition(
          `volume ${id} is still published to ${attached.join(", ")}; unpublish it first`,
        );
      await c.rds.removeDisk(id); // disables the export first, in the same command line
      // RouterOS leaves the backing file behind; a volume in its own btrfs subvolume loses that too.
      // Snapshots of the volume stay: they are independent files or subvolumes (docs/snapshots.md).
      await removeImage(c, imageLocation(disk.filePath, id));
      c.log.info({ slot: id, filePath: disk.filePath }, "volume deleted");
      return {};
    }
    if (disk) {
      // A disk at one of our ids whose record cannot be read (damaged, edited by hand, or made by
      // someone else): answering OK would let the CO forget a disk that still holds data. Refuse, so
      // the PV stays and the operator decides (`rds-csi attachments list` shows it).
      throw failedPrecondition(
        `disk ${id} exists on the RDS but its comment is not a readable rds-csi record; not deleting it. Inspect it (/disk print detail where slot="${id}") and remove it by hand if it is no longer needed`,
      );
    }
    // No disk: a previous delete may have crashed before removing the file. Finish it, wherever it is.
    await removeLeftoversOf(c, id);
    return {};
  });
}
