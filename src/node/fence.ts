// NodeStage under a new attachment generation: tear down what an earlier attachment of the volume left on
// this node (see attachment-record.ts) before connecting again.
//
// Order matters. A plain unmount would first flush the stale filesystem's dirty cache, journal and
// superblock onto the volume, which another node has written since. So the stale filesystem is shut down
// without flushing (mount/shutdown.ts), then unmounted (lazily when the dead device makes umount fail),
// then the stale controller is disconnected. (Disconnecting first is no better: removing a namespace
// under a mounted filesystem syncs it, and waits.) Anything else still holding the session — a publish,
// a process, a loop pin — refuses the stage instead: tearing it down would pull the device out from
// under a user.
import { failedPrecondition } from "../csi/errors.ts";
import { readAttachmentRecord, writeAttachmentRecord } from "./attachment-record.ts";
import { deadPathCode, detachMetered, deviceUsers, mountEnv, mounts, type NodeContext } from "./context.ts";
import { unmountAll } from "./mount/mount.ts";
import { mountAt } from "./mount/mountinfo.ts";
import { shutdownFilesystem } from "./mount/shutdown.ts";
import { deviceNumbers, sameDev } from "./nvme/block-device.ts";
import type { AttachTarget } from "./nvme/transport.ts";
import { livePublishedTargets } from "./publish.ts";
import { readStageState } from "./stage-state.ts";

export interface FenceRequest {
  volumeId: string;
  stagingPath: string;
  target: AttachTarget;
  /** From publish_context; undefined from a controller that predates generations (nothing to compare). */
  generation: number | undefined;
}

/**
 * Makes sure that whatever is staged at stagingPath belongs to this attachment generation, tearing down
 * an earlier generation's session, then records this generation. FAILED_PRECONDITION when something
 * still holds the stale session.
 */
export async function fenceStaleAttachment(nc: NodeContext, r: FenceRequest): Promise<void> {
  if (r.generation === undefined) return;
  const rec = readAttachmentRecord(r.stagingPath);
  // Another volume's record: the stage is refused further on (the staging path is in use); keep it.
  if (rec && rec.volumeId !== r.volumeId) return;
  if (rec && r.generation < rec.generation)
    throw failedPrecondition(
      `volume ${r.volumeId} is staged here under attachment generation ${rec.generation}; this request carries the older generation ${r.generation} (a stale publish context) and is not acted on`,
    );
  if (rec && rec.generation !== r.generation) await tearDown(nc, r, rec.generation);
  // No record (first stage, or a stage by a release without generations): adopt what is there.
  if (rec?.generation !== r.generation)
    writeAttachmentRecord(r.stagingPath, { volumeId: r.volumeId, generation: r.generation });
}

async function tearDown(nc: NodeContext, r: FenceRequest, staleGeneration: number): Promise<void> {
  const log = nc.log.child({ volumeId: r.volumeId, staleGeneration, generation: r.generation });
  const stale = `volume ${r.volumeId} is still staged on this node under attachment generation ${staleGeneration} (an earlier attachment, force-detached), and generation ${r.generation} was requested`;
  const all = await mounts(nc);
  const staged = mountAt(all, r.stagingPath);
  if (staged) {
    const published = all.filter((m) => sameDev(m, staged) && m.mountPoint !== r.stagingPath);
    if (published.length)
      throw failedPrecondition(
        `${stale}; the stale mount is still published at ${published.map((m) => m.mountPoint).join(", ")}: unpublish it (stop the pods still using it) so that the stale session can be torn down`,
      );
  }
  const dev = await nc.transport.findDevice(r.target);
  if (dev) {
    const state = staged ? undefined : await readStageState(r.stagingPath).catch(() => undefined);
    if (state?.accessType === "block" && state.volumeId === r.volumeId) {
      const nums = await deviceNumbers(nc.paths.sysfsRoot, dev.name);
      const live = nums ? await livePublishedTargets(state.publishedTargets, nums) : [];
      if (live.length)
        throw failedPrecondition(
          `${stale}; the stale device is still published at ${live.join(", ")}: unpublish it first`,
        );
    }
    const users = await deviceUsers(nc, dev, { ignoreMountPoints: [r.stagingPath] });
    if (users.length)
      throw failedPrecondition(`${stale}; the stale device ${dev.path} is still in use: ${users.join("; ")}`);
  }
  if (staged) {
    // Shut down without flushing, then unmount: an unmount alone would first write the stale cache and
    // journal over what another node wrote. (A filesystem that is already dead needs no shutdown.)
    log.warn(
      { stagingPath: r.stagingPath },
      "shutting down and unmounting the stale staging mount of an earlier attachment",
    );
    if (!deadPathCode(r.stagingPath)) await shutdownFilesystem(r.stagingPath);
    await unmountAll(r.stagingPath, mountEnv(nc));
  }
  if (dev && nc.transport.manages(r.target)) {
    log.warn({ device: dev.name }, "disconnecting the stale session of an earlier attachment");
    await detachMetered(nc, r.target);
  }
}
