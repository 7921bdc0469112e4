// NodePublishVolume / NodeUnpublishVolume.
// Filesystem: bind mount staging → target (a directory we create), read-only when asked.
// Block: a block device node (mknod with the device's major:minor) at the target path. Bind-mounting
// the /dev node instead made rds-csi's nodes propagate ~2000 devtmpfs mounts and run out of memory
// (prior-art §9); a device node is a plain file, and kubelet can still `losetup` it to pin the device.
// Metadata calls on the target path are synchronous: see canonical() in context.ts.
import { mkdirSync, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { describeCapability } from "../csi/capability.ts";
import { alreadyExists, failedPrecondition, required, unavailable } from "../csi/errors.ts";
import type { NodePublishVolumeRequest__Output } from "../csi/generated/csi/v1/NodePublishVolumeRequest.ts";
import type { NodeUnpublishVolumeRequest__Output } from "../csi/generated/csi/v1/NodeUnpublishVolumeRequest.ts";
import { run } from "../util/exec.ts";
import {
  canonical,
  exclusive,
  lstatOrNone,
  mountEnv,
  mounts,
  type NodeContext,
  requestPath,
} from "./context.ts";
import { bindMount, unmountAll } from "./mount/mount.ts";
import { perMountFlags, validateMountFlags } from "./mount/mount-flags.ts";
import { isReadOnlyMount, mountAt } from "./mount/mountinfo.ts";
import {
  blockNodeNumbers,
  type DevNumbers,
  deviceNameByNumbers,
  deviceNumbers,
  devString,
  sameDev,
} from "./nvme/block-device.ts";
import { writeStageState } from "./stage-state.ts";
import { readState } from "./state-access.ts";

interface PublishRequest {
  volumeId: string;
  stagingPath: string;
  targetPath: string;
  readOnly: boolean;
  singleWriter: boolean;
  flags: string[];
}

export async function nodePublishVolume(
  nc: NodeContext,
  req: NodePublishVolumeRequest__Output,
): Promise<Record<string, never>> {
  const volumeId = required(req.volume_id, "volume_id");
  const targetPath = requestPath(req.target_path, "target_path");
  const cap = describeCapability(req.volume_capability);
  // CSI: STAGE_UNSTAGE_VOLUME is set and no staging path given → FAILED_PRECONDITION (spec error table).
  if (!req.staging_target_path)
    throw failedPrecondition(
      "staging_target_path is required: this driver stages volumes before publishing them",
    );
  const stagingPath = requestPath(req.staging_target_path, "staging_target_path");
  const flags = cap.accessType === "mount" ? validateMountFlags(cap.mountFlags, cap.fsType ?? "ext4") : [];
  const r: PublishRequest = {
    volumeId,
    stagingPath,
    targetPath,
    readOnly: Boolean(req.readonly) || cap.readOnlyMode,
    singleWriter: cap.mode === "SINGLE_NODE_SINGLE_WRITER",
    flags,
  };
  return exclusive(nc, volumeId, { breaker: true }, async () => {
    const paths = { stagingPath: await canonical(stagingPath), targetPath: await canonical(targetPath) };
    return cap.accessType === "block"
      ? publishBlock(nc, { ...r, ...paths })
      : publishFilesystem(nc, { ...r, ...paths });
  });
}

async function publishFilesystem(nc: NodeContext, r: PublishRequest): Promise<Record<string, never>> {
  const all = await mounts(nc);
  const staged = mountAt(all, r.stagingPath);
  if (!staged) throw failedPrecondition(`volume ${r.volumeId} is not staged at ${r.stagingPath}`);
  if (!(await deviceNameByNumbers(nc.paths.sysfsRoot, staged)))
    throw failedPrecondition(
      `the staging mount of volume ${r.volumeId} is stale (device ${devString(staged)} no longer exists); it has to be staged again`,
    );
  const existing = mountAt(all, r.targetPath);
  if (existing) {
    if (!sameDev(existing, staged) || existing.root !== staged.root)
      throw alreadyExists(
        `${r.targetPath} already has another mount (${existing.source}, ${devString(existing)}${existing.root === "/" ? "" : ` ${existing.root}`})`,
      );
    if (isReadOnlyMount(existing) !== r.readOnly)
      throw alreadyExists(
        `volume ${r.volumeId} is already published ${isReadOnlyMount(existing) ? "read-only" : "read-write"} at ${r.targetPath}; requested ${r.readOnly ? "read-only" : "read-write"}`,
      );
    return {};
  }
  if (r.singleWriter) {
    const others = all.filter(
      (m) => sameDev(m, staged) && m.mountPoint !== r.stagingPath && m.mountPoint !== r.targetPath,
    );
    if (others.length)
      throw failedPrecondition(
        `volume ${r.volumeId} has access mode SINGLE_NODE_SINGLE_WRITER and is already published at ${others[0]?.mountPoint}`,
      );
  }
  const st = lstatOrNone(r.targetPath);
  if (st && !st.isDirectory()) throw alreadyExists(`${r.targetPath} exists and is not a directory`);
  mkdirSync(r.targetPath, { recursive: true, mode: 0o750 });
  const bindFlags = perMountFlags(r.flags).filter((f) => f !== "ro" && f !== "rw");
  await bindMount(r.stagingPath, r.targetPath, r.readOnly ? ["ro", ...bindFlags] : bindFlags, mountEnv(nc));
  return {};
}

/** Published targets that still are device nodes for dev (entries of unpublished or replaced targets drop out). */
export async function livePublishedTargets(
  targets: readonly string[],
  dev: DevNumbers,
  except?: string,
): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets) {
    if (t === except) continue;
    const n = await blockNodeNumbers(t);
    if (n && sameDev(n, dev)) out.push(t);
  }
  return out;
}

async function publishBlock(nc: NodeContext, r: PublishRequest): Promise<Record<string, never>> {
  if (mountAt(await mounts(nc), r.stagingPath))
    throw failedPrecondition(
      `volume ${r.volumeId} is staged as a filesystem at ${r.stagingPath}, not as a block volume`,
    );
  const state = await readState(nc, r.stagingPath);
  if (!state || state.volumeId !== r.volumeId)
    throw failedPrecondition(`volume ${r.volumeId} is not staged at ${r.stagingPath}`);
  if (state.accessType !== "block")
    throw failedPrecondition(`volume ${r.volumeId} is staged as a filesystem, not as a block volume`);
  const dev = await nc.transport.findDevice(state.target);
  if (!dev)
    throw failedPrecondition(
      `the device of volume ${r.volumeId} (${nc.transport.targetKey(state.target)}) is not attached; it has to be staged again`,
    );
  const nums = await deviceNumbers(nc.paths.sysfsRoot, dev.name);
  if (!nums) throw unavailable(`device ${dev.name} of volume ${r.volumeId} disappeared`);

  const st = lstatOrNone(r.targetPath, true);
  let done = false;
  if (st?.isBlockDevice()) {
    const cur = await blockNodeNumbers(r.targetPath);
    if (cur && sameDev(cur, nums)) {
      const ro = (Number(st.mode) & 0o222) === 0;
      if (ro !== r.readOnly)
        throw alreadyExists(
          `volume ${r.volumeId} is already published ${ro ? "read-only" : "read-write"} at ${r.targetPath}; requested ${r.readOnly ? "read-only" : "read-write"}`,
        );
      done = true;
    } else if (cur && (await deviceNameByNumbers(nc.paths.sysfsRoot, cur))) {
      throw alreadyExists(
        `${r.targetPath} is a device node for ${devString(cur)}, not for volume ${r.volumeId}`,
      );
    } else {
      unlinkSync(r.targetPath); // a node for a device that no longer exists (renumbered after a reconnect)
    }
  } else if (st?.isFile() && st.size === 0n) {
    unlinkSync(r.targetPath); // an empty placeholder file
  } else if (st?.isDirectory() && readdirSync(r.targetPath).length === 0) {
    rmdirSync(r.targetPath);
  } else if (st) {
    throw alreadyExists(`${r.targetPath} exists and is not a device node of volume ${r.volumeId}`);
  }

  const others = await livePublishedTargets(state.publishedTargets, nums, r.targetPath);
  if (!done) {
    if (r.singleWriter && others.length)
      throw failedPrecondition(
        `volume ${r.volumeId} has access mode SINGLE_NODE_SINGLE_WRITER and is already published at ${others[0]}`,
      );
    mkdirSync(dirname(r.targetPath), { recursive: true, mode: 0o750 });
    const mode = r.readOnly ? "0440" : "0660";
    const res = await run("mknod", ["-m", mode, r.targetPath, "b", String(nums.major), String(nums.minor)], {
      timeoutMs: 10_000,
    });
    if (res.code !== 0) throw failedPrecondition(`mknod ${r.targetPath} failed: ${res.stderr.trim()}`);
  }
  const published = [...others, r.targetPath];
  if (published.join("\n") !== state.publishedTargets.join("\n"))
    await writeStageState(r.stagingPath, { ...state, publishedTargets: published });
  return {};
}

export async function nodeUnpublishVolume(
  nc: NodeContext,
  req: NodeUnpublishVolumeRequest__Output,
): Promise<Record<string, never>> {
  const volumeId = required(req.volume_id, "volume_id");
  const requested = requestPath(req.target_path, "target_path");
  return exclusive(nc, volumeId, { breaker: false }, async () => {
    const targetPath = await canonical(requested);
    // The mount table decides, not stat: the mount point of a filesystem after a forced shutdown
    // answers stat with EIO, and must still be unmounted before this call may say OK.
    if (mountAt(await mounts(nc), targetPath)) await unmountAll(targetPath, mountEnv(nc));
    const st = lstatOrNone(targetPath);
    if (!st) return {};
    // Remove only what this driver creates: a device node, an (empty) directory, an empty placeholder.
    if (st.isBlockDevice() || (st.isFile() && st.size === 0)) unlinkSync(targetPath);
    else if (st.isDirectory()) {
      try {
        rmdirSync(targetPath);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOTEMPTY" || code === "EEXIST")
          throw failedPrecondition(
            `${targetPath} is not a mount point and not empty; not deleting anything in it`,
          );
        if (code !== "ENOENT") throw err;
      }
    } else throw failedPrecondition(`${targetPath} is not something this driver creates; left in place`);
    return {};
  });
}
