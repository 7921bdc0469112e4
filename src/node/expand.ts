// NodeExpandVolume: make the kernel see the grown export (NVMe namespace rescan / loop set-capacity),
// then grow the filesystem online (resize2fs / xfs_growfs). Block volumes only rescan.
import { join } from "node:path";
import { failedPrecondition, notFound, required, unavailable } from "../csi/errors.ts";
import type { NodeExpandVolumeRequest__Output } from "../csi/generated/csi/v1/NodeExpandVolumeRequest.ts";
import type { NodeExpandVolumeResponse } from "../csi/generated/csi/v1/NodeExpandVolumeResponse.ts";
import { toBytes } from "../csi/int64.ts";
import type { CallContext } from "../csi/types.ts";
import { sleep } from "../util/sleep.ts";
import { canonical, exclusive, lookupPath, lstatOrNone, mounts, type NodeContext } from "./context.ts";
import { mountAt } from "./mount/mountinfo.ts";
import { growFilesystem } from "./mount/resize.ts";
import {
  blockNodeNumbers,
  type DevNumbers,
  deviceNameByNumbers,
  deviceSizeBytes,
  devString,
} from "./nvme/block-device.ts";
import type { BlockDevice } from "./nvme/transport.ts";

export async function nodeExpandVolume(
  nc: NodeContext,
  req: NodeExpandVolumeRequest__Output,
  ctx: CallContext,
): Promise<NodeExpandVolumeResponse> {
  const volumeId = required(req.volume_id, "volume_id");
  const requested = lookupPath(req.volume_path, "volume_path");
  const requiredBytes = toBytes(req.capacity_range?.required_bytes, "capacity_range.required_bytes");
  return exclusive(nc, volumeId, { breaker: false }, async () => {
    const path = await canonical(requested);
    const st = lstatOrNone(path);
    if (!st) throw notFound(`volume path ${path} does not exist`);
    const m = mountAt(await mounts(nc), path);
    const nums: DevNumbers | undefined = m ?? (st.isBlockDevice() ? await blockNodeNumbers(path) : undefined);
    if (!nums)
      throw notFound(`volume ${volumeId} is neither mounted nor published as a block device at ${path}`);
    const name = await deviceNameByNumbers(nc.paths.sysfsRoot, nums);
    if (!name)
      throw failedPrecondition(
        `the device of volume ${volumeId} at ${path} (${devString(nums)}) no longer exists; stage it again before expanding`,
      );
    const dev: BlockDevice = { name, path: join(nc.paths.devRoot, name) };
    const size = await rescanUntil(nc, dev, requiredBytes, ctx.signal);
    if (m) {
      await growFilesystem(m.fsType, dev.path, path, { signal: ctx.signal });
      nc.log.info({ volumeId, device: name, fsType: m.fsType, bytes: size }, "filesystem grown");
    }
    return { capacity_bytes: size };
  });
}

/** Rescans and waits (bounded) until the device is at least `want` bytes; returns its size. */
async function rescanUntil(
  nc: NodeContext,
  dev: BlockDevice,
  want: number,
  signal: AbortSignal,
): Promise<number> {
  await nc.transport.rescan(dev);
  const deadline = Date.now() + nc.tune.resizeWaitMs;
  for (;;) {
    const size = (await deviceSizeBytes(nc.paths.sysfsRoot, dev.name)) ?? 0;
    if (!want || size >= want) return size;
    if (Date.now() >= deadline)
      throw unavailable(
        `${dev.name} is ${size} bytes after a rescan but ${want} were requested; the export has not grown (yet), retry later`,
      );
    await sleep(200, signal);
  }
}
