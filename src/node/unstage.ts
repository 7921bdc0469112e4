// NodeUnstageVolume: unmount the staging path, then detach the device once nothing uses it. No context
// arrives with this call: the device comes from the staging mount (mountinfo) and the target from the
// state file, falling back to asking the transport which target the mounted device belongs to.
// Order: unmount → read state → usage check → detach → remove state. A crash anywhere leaves a state
// the next call finishes from; every step is idempotent.
import { failedPrecondition, required } from "../csi/errors.ts";
import type { NodeUnstageVolumeRequest__Output } from "../csi/generated/csi/v1/NodeUnstageVolumeRequest.ts";
import { removeAttachmentRecord } from "./attachment-record.ts";
import {
  canonical,
  detachMetered,
  deviceUsers,
  exclusive,
  mountEnv,
  mounts,
  type NodeContext,
  requestPath,
  scanOpenFilesOf,
} from "./context.ts";
import { unmountAll } from "./mount/mount.ts";
import { mountAt } from "./mount/mountinfo.ts";
import { deviceNameByNumbers, deviceNumbers, sameDev } from "./nvme/block-device.ts";
import type { OpenFileScan } from "./nvme/device-usage.ts";
import { livePublishedTargets } from "./publish.ts";
import { removeStageState } from "./stage-state.ts";
import { readState } from "./state-access.ts";

export async function nodeUnstageVolume(
  nc: NodeContext,
  req: NodeUnstageVolumeRequest__Output,
): Promise<Record<string, never>> {
  const volumeId = required(req.volume_id, "volume_id");
  const requested = requestPath(req.staging_target_path, "staging_target_path");
  return exclusive(nc, volumeId, { breaker: false }, async () => {
    const stagingPath = await canonical(requested);
    const log = nc.log.child({ volumeId, stagingPath });
    const all = await mounts(nc);
    const staged = mountAt(all, stagingPath);
    let mountedDevice: string | undefined;
    let openFiles: Promise<OpenFileScan> | undefined;
    if (staged) {
      mountedDevice = await deviceNameByNumbers(nc.paths.sysfsRoot, staged);
      const published = all.filter((m) => sameDev(m, staged) && m.mountPoint !== stagingPath);
      if (published.length)
        throw failedPrecondition(
          `volume ${volumeId} is still mounted at ${published.map((m) => m.mountPoint).join(", ")}; unpublish it first`,
        );
      const unmounted = unmountAll(stagingPath, mountEnv(nc));
      // The open-file part of the in-use check runs while umount works (it starts once the command is on
      // its way). umount opens no descriptor on the device, and a process holding one before the unmount
      // still holds it after, so the scan sees what it would see afterwards. Mounts and holders are
      // checked after the unmount, below.
      if (mountedDevice) openFiles = scanOpenFilesOf(nc, mountedDevice);
      await unmounted;
    }
    const state = await readState(nc, stagingPath);
    if (state && state.volumeId !== volumeId) {
      log.warn(
        { stagedVolume: state.volumeId },
        "staging path belongs to another volume; nothing to unstage for this one",
      );
      return {};
    }
    const target = state?.target ?? (mountedDevice ? await nc.transport.identify(mountedDevice) : undefined);
    if (target) {
      const dev = await nc.transport.findDevice(target);
      if (dev) {
        if (state?.accessType === "block") {
          const nums = await deviceNumbers(nc.paths.sysfsRoot, dev.name);
          const live = nums ? await livePublishedTargets(state.publishedTargets, nums) : [];
          if (live.length)
            throw failedPrecondition(
              `volume ${volumeId} is still published at ${live.join(", ")}; unpublish it first`,
            );
        }
        const users = await deviceUsers(
          nc,
          dev,
          dev.name === mountedDevice && openFiles ? { openFiles } : {},
        );
        if (users.length)
          throw failedPrecondition(
            `volume ${volumeId}: ${dev.path} is still in use, so it was not detached: ${users.join("; ")}`,
          );
      }
      if (nc.transport.manages(target)) await detachMetered(nc, target);
      else
        log.warn(
          { target: nc.transport.targetKey(target) },
          "target is outside the managed NQN prefix; left connected",
        );
    } else if (mountedDevice) {
      log.warn(
        { device: mountedDevice },
        "the staged device does not belong to this transport; left attached",
      );
    }
    await removeStageState(stagingPath);
    removeAttachmentRecord(stagingPath);
    nc.breakers.remove(volumeId);
    return {};
  });
}
