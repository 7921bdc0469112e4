// NodeStageVolume: attach the export and, for filesystem volumes, decide format/check/mount.
//
// Order (each step idempotent, so a crash anywhere is recovered by the next call):
//   1. state file written (intent: which target, which volume), 2. attach, 3. probe,
//   4. read-only health check of an existing filesystem, or mkfs of a provably empty device,
//   5. mount at the staging path.
// A failure after attach rolls the attachment back when nothing uses the device, so a refused volume
// (corrupt filesystem, unknown contents) is left exactly as it was and not attached.
import { closeSync, fstatSync, mkdirSync, openSync } from "node:fs";
import { describeCapability } from "../csi/capability.ts";
import { alreadyExists, failedPrecondition, required, unavailable } from "../csi/errors.ts";
import type { NodeStageVolumeRequest__Output } from "../csi/generated/csi/v1/NodeStageVolumeRequest.ts";
import type { CallContext } from "../csi/types.ts";
import { checkUnsafeMountOptions, decodeGeneration, decodeVolumeContext } from "../csi/volume-context.ts";
import { EventReason, tagEvent } from "../observability/events.ts";
import {
  attachMetered,
  canonical,
  detachMetered,
  deviceUsers,
  exclusive,
  mountEnv,
  mounts,
  type NodeContext,
  requestPath,
} from "./context.ts";
import { fenceStaleAttachment } from "./fence.ts";
import { checkFilesystem, type HealthMode } from "./mount/fsck.ts";
import { makeFilesystem, validateMkfsOptions } from "./mount/mkfs.ts";
import { mountFilesystem, unmountAll } from "./mount/mount.ts";
import { validateMountFlags } from "./mount/mount-flags.ts";
import { isReadOnlyMount, type MountEntry, mountAt, mountsOfDevice } from "./mount/mountinfo.ts";
import { probeDevice } from "./mount/probe.ts";
import { growFilesystem } from "./mount/resize.ts";
import { filesystemBytes } from "./mount/superblock.ts";
import {
  deviceNameByNumbers,
  deviceNumbers,
  deviceSizeBytes,
  devString,
  sameDev,
  splitDev,
} from "./nvme/block-device.ts";
import type { AttachTarget, BlockDevice } from "./nvme/transport.ts";
import { removeStageState, type StageState, writeStageState } from "./stage-state.ts";
import { readState, stateMismatch } from "./state-access.ts";

const MOUNTABLE = new Set(["ext4", "xfs", "ext3", "ext2"]);

/** FAILED_PRECONDITION that also becomes a Kubernetes Event: only an operator can fix it. */
const operatorError = (reason: string, message: string) => tagEvent(failedPrecondition(message), reason);

interface FsRequest {
  volumeId: string;
  stagingPath: string;
  target: AttachTarget;
  fsType: string;
  flags: string[];
  readOnly: boolean;
  mkfsOptions: string[];
  /** The class's health check (volume_context), else the node's default. */
  healthCheck: HealthMode;
}

export async function nodeStageVolume(
  nc: NodeContext,
  req: NodeStageVolumeRequest__Output,
  ctx: CallContext,
): Promise<Record<string, never>> {
  const volumeId = required(req.volume_id, "volume_id");
  const stagingPath = requestPath(req.staging_target_path, "staging_target_path");
  // Unsupported capabilities, including ReadWriteMany with a filesystem (two nodes writing one ext4/xfs
  // corrupt it), are INVALID_ARGUMENT: the request asks for something this driver never supports, which
  // the spec's "invalid or unsupported field" covers; FAILED_PRECONDITION would suggest that a retry in
  // another state could succeed. The controller refuses the same capabilities at CreateVolume.
  const cap = describeCapability(req.volume_capability);
  // Connection facts from publish_context (recomputed at every attach); volume_context only as a fallback.
  const target = nc.transport.parseTarget({ ...(req.volume_context ?? {}), ...(req.publish_context ?? {}) });
  const generation = decodeGeneration(req.publish_context ?? {});
  if (cap.accessType === "block")
    return exclusive(nc, volumeId, { breaker: true }, async () => {
      const canonicalStaging = await canonical(stagingPath);
      await fenceStaleAttachment(nc, { volumeId, stagingPath: canonicalStaging, target, generation });
      return stageBlock(nc, volumeId, canonicalStaging, target, ctx);
    });
  const fsType = cap.fsType ?? "ext4";
  const flags = validateMountFlags(cap.mountFlags, fsType);
  const volumeContext = decodeVolumeContext(req.volume_context ?? {});
  checkUnsafeMountOptions(flags, volumeContext.unsafeMountOptions === true);
  const fs: FsRequest = {
    volumeId,
    stagingPath,
    target,
    fsType,
    flags,
    readOnly: cap.readOnlyMode || flags.includes("ro"),
    mkfsOptions: validateMkfsOptions(fsType, volumeContext.mkfsOptions),
    healthCheck: volumeContext.healthCheck ?? nc.tune.healthCheck,
  };
  return exclusive(nc, volumeId, { breaker: true }, async () => {
    const canonicalStaging = await canonical(stagingPath);
    // Before anything looks at an existing staging mount: one left by an earlier attachment is torn down.
    await fenceStaleAttachment(nc, { volumeId, stagingPath: canonicalStaging, target, generation });
    return stageFilesystem(nc, { ...fs, stagingPath: canonicalStaging }, ctx);
  });
}

async function stageBlock(
  nc: NodeContext,
  volumeId: string,
  stagingPath: string,
  target: AttachTarget,
  ctx: CallContext,
): Promise<Record<string, never>> {
  if (mountAt(await mounts(nc), stagingPath))
    throw alreadyExists(
      `staging path ${stagingPath} holds a mounted filesystem; volume ${volumeId} was requested as a block volume`,
    );
  mkdirSync(stagingPath, { recursive: true, mode: 0o750 }); // synchronous: see canonical() in context.ts
  const prev = await readState(nc, stagingPath);
  const mismatch = stateMismatch(nc, prev, volumeId, "block", target);
  if (mismatch) throw alreadyExists(mismatch);
  await writeStageState(stagingPath, {
    volumeId,
    accessType: "block",
    target,
    formatting: false,
    publishedTargets: prev?.publishedTargets ?? [],
  });
  try {
    await attachMetered(nc, target, ctx);
  } catch (err) {
    // Nothing attached and nothing published: do not leave an intent behind that no unstage will clear.
    if (!(await nc.transport.findDevice(target).catch(() => undefined)) && !prev)
      await removeStageState(stagingPath);
    throw err;
  }
  return {};
}

async function stageFilesystem(
  nc: NodeContext,
  r: FsRequest,
  ctx: CallContext,
): Promise<Record<string, never>> {
  const staged = mountAt(await mounts(nc), r.stagingPath);
  if (staged && (await verifyExistingStage(nc, r, staged)) === "done") return {};
  mkdirSync(r.stagingPath, { recursive: true, mode: 0o750 }); // synchronous: see canonical() in context.ts
  const prev = await readState(nc, r.stagingPath);
  const mismatch = stateMismatch(nc, prev, r.volumeId, "mount", r.target);
  if (mismatch) throw alreadyExists(mismatch);
  let state = await writeStageState(r.stagingPath, {
    volumeId: r.volumeId,
    accessType: "mount",
    target: r.target,
    fsType: r.fsType,
    formatting: prev?.formatting ?? false,
    publishedTargets: [],
  });
  const dev = await attachMetered(nc, r.target, ctx);
  try {
    state = await prepareFilesystem(nc, r, dev, state, ctx);
    return {};
  } catch (err) {
    await rollback(nc, r, dev);
    throw err;
  }
}

/** "done" when the staging mount is this volume's and compatible; "restage" after removing a stale one. */
async function verifyExistingStage(
  nc: NodeContext,
  r: FsRequest,
  staged: MountEntry,
): Promise<"done" | "restage"> {
  const dev = await nc.transport.findDevice(r.target);
  const nums = dev ? await deviceNumbers(nc.paths.sysfsRoot, dev.name) : undefined;
  if (nums && sameDev(nums, staged)) {
    if (staged.fsType !== r.fsType)
      throw alreadyExists(
        `volume ${r.volumeId} is staged at ${r.stagingPath} as ${staged.fsType}, not ${r.fsType}`,
      );
    if (isReadOnlyMount(staged) !== r.readOnly)
      throw alreadyExists(
        `volume ${r.volumeId} is staged ${isReadOnlyMount(staged) ? "read-only" : "read-write"} at ${r.stagingPath}; requested ${r.readOnly ? "read-only" : "read-write"}`,
      );
    return "done";
  }
  const mountedName = await deviceNameByNumbers(nc.paths.sysfsRoot, staged);
  if (mountedName)
    throw alreadyExists(
      `staging path ${r.stagingPath} already has ${mountedName} mounted, which is not the device of volume ${r.volumeId}${dev ? ` (${dev.name})` : ""}`,
    );
  // The device behind the staging mount is gone (detached, or renumbered by a reconnect): a stale mount.
  const all = await mounts(nc);
  const others = all.filter((m) => sameDev(m, staged) && m.mountPoint !== r.stagingPath);
  if (others.length)
    throw failedPrecondition(
      `staging mount ${r.stagingPath} is stale (device ${devString(staged)} no longer exists) and still published at ${others.map((m) => m.mountPoint).join(", ")}; ` +
        "restart the pods using it so the volume can be staged again",
    );
  nc.log.warn(
    { volumeId: r.volumeId, stagingPath: r.stagingPath, staleDevice: devString(staged) },
    "stale staging mount; unmounting and staging again",
  );
  await unmountAll(r.stagingPath, mountEnv(nc));
  return "restage";
}

async function prepareFilesystem(
  nc: NodeContext,
  r: FsRequest,
  dev: BlockDevice,
  state: StageState,
  ctx: CallContext,
): Promise<StageState> {
  const log = nc.log.child({ volumeId: r.volumeId, device: dev.name });
  const nums = await deviceNumbers(nc.paths.sysfsRoot, dev.name);
  if (!nums) throw unavailable(`device ${dev.name} of volume ${r.volumeId} disappeared right after attach`);
  const elsewhere = mountsOfDevice(await mounts(nc), [nums]);
  if (elsewhere.length)
    throw failedPrecondition(
      `${dev.path} is already mounted at ${elsewhere.map((m) => m.mountPoint).join(", ")}; refusing to stage it a second time`,
    );

  const sizeBytes = (await deviceSizeBytes(nc.paths.sysfsRoot, dev.name)) ?? 0;
  const probe = await probeDevice(dev.path, {
    sizeBytes,
    attempts: nc.tune.probeAttempts,
    retryDelayMs: nc.tune.probeRetryDelayMs,
    signal: ctx.signal,
  });
  let fsType = r.fsType;
  let knownFsBytes: number | undefined; // from the health check's superblock read, when it made one
  switch (probe.kind) {
    case "formatted": {
      fsType = probe.fsType;
      if (!MOUNTABLE.has(fsType))
        throw failedPrecondition(
          `${dev.path} of volume ${r.volumeId} holds ${fsType}, which rds-csi does not mount; it was left untouched`,
        );
      if (fsType !== r.fsType)
        throw operatorError(
          EventReason.filesystemMismatch,
          `volume ${r.volumeId} already holds a ${fsType} filesystem but ${r.fsType} was requested; refusing to reformat it`,
        );
      if (state.formatting) state = await writeStageState(r.stagingPath, { ...state, formatting: false });
      const health = await checkFilesystem(dev.path, fsType, {
        mode: r.healthCheck,
        timeoutMs: nc.tune.fsckTimeoutMs,
        signal: ctx.signal,
      });
      if (health.kind === "corrupt")
        throw operatorError(
          EventReason.filesystemCorrupt,
          `the ${fsType} filesystem of volume ${r.volumeId} (${dev.path}) failed the read-only check, so it was not mounted and nothing was written to it; ` +
            `repair it offline (e2fsck / xfs_repair) before using it again. Checker output: ${health.summary}`,
        );
      if (health.kind === "unknown")
        throw unavailable(
          `could not check the ${fsType} filesystem of volume ${r.volumeId}: ${health.reason}`,
        );
      if (health.kind === "healthy") knownFsBytes = health.fsBytes;
      log.info(
        {
          fsType,
          health: health.kind,
          detail: health.kind === "healthy" || health.kind === "needs-replay" ? health.detail : undefined,
        },
        "existing filesystem",
      );
      break;
    }
    case "empty":
      state = await format(nc, r, dev, state, "device is empty", ctx);
      break;
    case "data":
      if (!state.formatting)
        throw operatorError(
          EventReason.deviceNotEmpty,
          `${dev.path} of volume ${r.volumeId} has no recognisable filesystem but is not empty (first non-zero byte at offset ${probe.offset}); ` +
            "refusing to format it. If its contents are not needed, wipe it (wipefs -a, blkdiscard) and retry.",
        );
      state = await format(nc, r, dev, state, "an mkfs by rds-csi was interrupted on this device", ctx);
      break;
    case "partitioned":
      throw failedPrecondition(
        `${dev.path} of volume ${r.volumeId} carries a ${probe.table} partition table; rds-csi neither formats nor mounts partitioned devices`,
      );
    case "unknown":
      throw unavailable(
        `cannot tell whether ${dev.path} of volume ${r.volumeId} holds a filesystem (${probe.reason}); an unreadable device is never formatted`,
      );
  }
  await mountFilesystem(dev.path, r.stagingPath, fsType, stageMountOptions(fsType, r.flags, r.readOnly), {
    ...mountEnv(nc),
    signal: ctx.signal,
  });
  if (probe.kind === "formatted" && !r.readOnly)
    await growIfSmaller(nc, r, dev, fsType, sizeBytes, knownFsBytes, ctx);
  return state;
}

// A filesystem smaller than its device: a restore or clone at a larger size, or a controller expansion
// while the volume was not staged. Grow it online now, so the claim gets the capacity it asked for.
// Both tools only ever add space. Less than 1 MiB of difference is the tools' own rounding.
async function growIfSmaller(
  nc: NodeContext,
  r: FsRequest,
  dev: BlockDevice,
  fsType: string,
  deviceBytes: number,
  knownFsBytes: number | undefined,
  ctx: CallContext,
): Promise<void> {
  // A journal replay at mount could in principle change the size (an interrupted online resize), so only
  // a size read from a filesystem that needed no replay is reused.
  const fsBytes = knownFsBytes ?? (await filesystemBytes(dev.path, fsType, { signal: ctx.signal }));
  if (fsBytes === undefined || deviceBytes - fsBytes < 1024 * 1024) return;
  try {
    await growFilesystem(fsType, dev.path, r.stagingPath, { signal: ctx.signal });
  } catch (err) {
    // Mounted but not grown is not what was asked for: undo the mount so the retry starts clean.
    await unmountAll(r.stagingPath, mountEnv(nc)).catch(() => undefined);
    throw err;
  }
  nc.log.info(
    { volumeId: r.volumeId, device: dev.name, fsType, from: fsBytes, to: deviceBytes },
    "filesystem grown to its device at stage",
  );
}

async function format(
  nc: NodeContext,
  r: FsRequest,
  dev: BlockDevice,
  state: StageState,
  why: string,
  ctx: CallContext,
): Promise<StageState> {
  if (r.readOnly)
    throw failedPrecondition(
      `volume ${r.volumeId} has no filesystem and is staged read-only; there is nothing to mount`,
    );
  // Open once, confirm that this is still the volume's device, and format through the descriptor: the
  // name was looked up before the probe, and a detach and reattach in between can hand it (and even its
  // numbers) to another volume. While the descriptor is open the device cannot be rebound (loop) or its
  // numbers reused (NVMe). Synchronous open: the device was just attached and probed.
  const fd = openSync(dev.path, "r");
  try {
    await confirmIdentity(nc, r, dev, fd);
    nc.log.info({ volumeId: r.volumeId, device: dev.name, fsType: r.fsType, why }, "creating filesystem");
    const marked = await writeStageState(r.stagingPath, { ...state, formatting: true });
    await makeFilesystem(dev.path, r.fsType, r.mkfsOptions, { signal: ctx.signal, fd });
    return await writeStageState(r.stagingPath, { ...marked, formatting: false });
  } finally {
    closeSync(fd);
  }
}

/** UNAVAILABLE (nothing formatted) unless the open device still is the one attached for r.target. */
async function confirmIdentity(nc: NodeContext, r: FsRequest, dev: BlockDevice, fd: number): Promise<void> {
  const st = fstatSync(fd, { bigint: true });
  const held = splitDev(st.rdev);
  const nums = await deviceNumbers(nc.paths.sysfsRoot, dev.name);
  const owner = await nc.transport.identify(dev.name);
  const want = nc.transport.targetKey(r.target);
  const problem = !st.isBlockDevice()
    ? `${dev.path} is not a block device`
    : !nums || !sameDev(nums, held)
      ? `${dev.path} (${devString(held)}) no longer is ${dev.name} (${nums ? devString(nums) : "gone"})`
      : !owner || nc.transport.targetKey(owner) !== want
        ? `${dev.path} no longer belongs to ${want} (now: ${owner ? nc.transport.targetKey(owner) : "nothing this driver attached"})`
        : undefined;
  if (problem)
    throw unavailable(
      `volume ${r.volumeId}: ${problem}; the device changed between the probe and mkfs, nothing was formatted (a retry attaches it again)`,
    );
}

/**
 * Options for the staging mount. ext*: errors=remount-ro unless the StorageClass chose (a damaged
 * filesystem stops taking writes, and NodeGetVolumeStats reports it). xfs: nouuid, because RouterOS
 * clones and snapshots copy the UUID and two copies could not be mounted on one node otherwise.
 * Read-only: no journal/log replay either (noload / norecovery), which would write.
 */
export function stageMountOptions(fsType: string, flags: readonly string[], readOnly: boolean): string[] {
  const out = flags.filter((f) => f !== "ro" && f !== "rw");
  const ext = fsType.startsWith("ext");
  if (readOnly) {
    out.unshift("ro");
    if (ext && !out.includes("noload")) out.push("noload");
    if (fsType === "xfs" && !out.includes("norecovery")) out.push("norecovery");
  }
  if (ext && !out.some((o) => o.startsWith("errors="))) out.push("errors=remount-ro");
  if (fsType === "xfs" && !out.includes("nouuid")) out.push("nouuid");
  return out;
}

async function rollback(nc: NodeContext, r: FsRequest, dev: BlockDevice): Promise<void> {
  const log = nc.log.child({ volumeId: r.volumeId, device: dev.name });
  try {
    if (mountAt(await mounts(nc), r.stagingPath)) return;
    const users = await deviceUsers(nc, dev);
    if (users.length) {
      log.warn({ users }, "stage failed; device left attached because it is in use");
      return;
    }
    if (nc.transport.manages(r.target)) await detachMetered(nc, r.target);
    const state = await readState(nc, r.stagingPath).catch(() => undefined);
    // Keep the record of an interrupted mkfs: it is what allows formatting that device again.
    if (!state?.formatting) await removeStageState(r.stagingPath);
  } catch (err) {
    log.warn({ err }, "could not roll back the attach after a failed stage");
  }
}
