// ControllerExpandVolume: grow the backing file on the appliance (never shrink); the node then rescans
// the namespace and grows the filesystem.
import { invalidArgument, notFound, outOfRange, required, resourceExhausted } from "../csi/errors.ts";
import type { ControllerExpandVolumeRequest__Output } from "../csi/generated/csi/v1/ControllerExpandVolumeRequest.ts";
import type { ControllerExpandVolumeResponse } from "../csi/generated/csi/v1/ControllerExpandVolumeResponse.ts";
import { isVolumeId } from "../csi/volume-id.ts";
import { RdsError } from "../rds/types.ts";
import { resolveCapacity } from "./capacity-range.ts";
import type { ControllerContext } from "./context.ts";
import { loadVolume, saveVolume } from "./volume-store.ts";
import { poolOf } from "./volumes/path.ts";

export async function controllerExpand(
  c: ControllerContext,
  req: ControllerExpandVolumeRequest__Output,
): Promise<ControllerExpandVolumeResponse> {
  const id = required(req.volume_id, "volume_id");
  if (!req.capacity_range) throw invalidArgument("capacity_range is required");
  const range = resolveCapacity(req.capacity_range);
  if (!isVolumeId(id)) throw notFound(`volume ${id} does not exist`);
  // Always: a filesystem must be grown by the node, and a block volume too needs the node's rescan
  // (NodeExpandVolume) before the kernel, and so the pod, sees the new size: stage and publish do not
  // rescan, and an appliance's namespace-changed event is not something to rely on.
  const nodeExpansionRequired = true;
  return c.exclusive([`vol:${id}`], async () => {
    const v = await loadVolume(c, id);
    if (!v) throw notFound(`volume ${id} does not exist`);
    // Never shrink: a limit below the current size cannot be met (OUT_OF_RANGE), whatever required_bytes says.
    if (range.limit && v.disk.sizeBytes > range.limit)
      throw outOfRange(
        `volume ${id} already has ${v.disk.sizeBytes} bytes, more than limit_bytes ${range.limit}; volumes never shrink`,
      );
    // A volume already as large as asked for is done (a retried call, or a smaller request).
    const satisfied =
      range.required > 0 ? v.disk.sizeBytes >= range.required : v.disk.sizeBytes >= range.size;
    if (satisfied) {
      return { capacity_bytes: String(v.disk.sizeBytes), node_expansion_required: nodeExpansionRequired };
    }
    const pool = await c.rds.getPool(poolOf(v.disk.filePath));
    const growth = range.size - v.disk.sizeBytes;
    if (pool && pool.freeBytes < growth)
      throw resourceExhausted(`not enough space on pool ${pool.slot} to grow ${id} by ${growth} bytes`);
    const before = v.disk.sizeBytes;
    try {
      // Compare-and-set with the record as read, in the same command as the grow; setDisk reads the
      // disk back and checks the new size (verify after write).
      await saveVolume(c, v, { ...v.record, requiredBytes: range.required }, { fileSizeBytes: range.size });
    } catch (err) {
      if (err instanceof RdsError && err.kind === "no-space")
        throw resourceExhausted(`not enough space to grow ${id} to ${range.size} bytes`);
      throw err;
    }
    c.log.info({ slot: id, from: before, to: v.disk.sizeBytes }, "volume expanded");
    return { capacity_bytes: String(v.disk.sizeBytes), node_expansion_required: nodeExpansionRequired };
  });
}
