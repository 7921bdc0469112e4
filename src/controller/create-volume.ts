// CreateVolume and DeleteVolume: idempotent, crash-safe provisioning of file-backed NVMe/TCP exports.
// CreateVolume validates the request and plans the volume; volumes/provision.ts is the one pipeline that
// makes it, whatever its layout or source. Volume records are read and written by volume-store.ts.
import { requireCapabilities } from "../csi/capability.ts";
import { aborted, failedPrecondition, invalidArgument, required } from "../csi/errors.ts";
import type { CreateVolumeRequest__Output } from "../csi/generated/csi/v1/CreateVolumeRequest.ts";
import type { CreateVolumeResponse } from "../csi/generated/csi/v1/CreateVolumeResponse.ts";
import type { DeleteVolumeRequest__Output } from "../csi/generated/csi/v1/DeleteVolumeRequest.ts";
import { checkUnsafeMountOptions } from "../csi/volume-context.ts";
import { isVolumeId, NAME_MAX, slotForName } from "../csi/volume-id.ts";
import { RdsError } from "../rds/types.ts";
import { resolveCapacity } from "./capacity-range.ts";
import type { ControllerContext, Volume } from "./context.ts";
import { parseParams, storedParams } from "./params.ts";
import { volumeInfo } from "./queries.ts";
import { findSlot, refuseForeign, removeVolume } from "./volume-store.ts";
import { removeLeftoversOf } from "./volumes/images.ts";
import { imageLocation } from "./volumes/layout.ts";
import { normalizeVolumePath } from "./volumes/path.ts";
import { provisionVolume, volumeLayout } from "./volumes/provision.ts";

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

/** plan: name → slot, size, parameters, layout; provisionVolume does the rest. */
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
  const volumePath = normalizeVolumePath(params.volumePath ?? c.opts.volumePath);
  return provisionVolume(c, {
    name,
    slot: slotForName(name, c.identity),
    range,
    params,
    volumePath,
    layout: await volumeLayout(c, params, volumePath),
    source: req.volume_content_source,
    respond: (v) => volumeResponse(c, v, stored),
  });
}

export async function deleteVolume(
  c: ControllerContext,
  req: DeleteVolumeRequest__Output,
): Promise<Record<string, never>> {
  const id = required(req.volume_id, "volume_id");
  if (!isVolumeId(id)) return {}; // not an id we issue: nothing of ours to delete (CSI: unknown id → OK)
  return c.exclusive([`vol:${id}`], async () => {
    // One read tells the three cases apart: ours, someone else's, none.
    const { at } = await findSlot(c, id);
    if ("volume" in at) {
      const { disk, record } = at.volume;
      refuseForeign(c, at.volume, id);
      const attached = record.attachments.map((a) => a.node);
      if (attached.length)
        throw failedPrecondition(
          `volume ${id} is still published to ${attached.join(", ")}; unpublish it first`,
        );
      // The disk (export off first) and its image in one exec. Snapshots of the volume stay: they are
      // independent files or subvolumes (docs/snapshots.md).
      await removeVolume(c, id, imageLocation(disk.filePath, id));
      c.log.info({ slot: id, filePath: disk.filePath }, "volume deleted");
      return {};
    }
    if ("unreadable" in at) {
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
