// NodeGetVolumeStats: bytes and inodes of a mounted filesystem, total size of a published block device,
// and a volume condition that says what is wrong (device vanished, stale mount, filesystem forced
// read-only after errors, NVMe controller not live). Read-only: takes no lock, so kubelet's periodic
// stats never make a stage or publish fail with ABORTED.
import { join } from "node:path";
import { notFound, required } from "../csi/errors.ts";
import type { NodeGetVolumeStatsRequest__Output } from "../csi/generated/csi/v1/NodeGetVolumeStatsRequest.ts";
import type { NodeGetVolumeStatsResponse } from "../csi/generated/csi/v1/NodeGetVolumeStatsResponse.ts";
import { canonical, deadPathCode, lookupPath, lstatOrNone, mounts, type NodeContext } from "./context.ts";
import { filesystemUsage } from "./mount/device-read.ts";
import { isReadOnlyMount, type MountEntry, mountAt } from "./mount/mountinfo.ts";
import {
  blockNodeNumbers,
  deviceNameByNumbers,
  deviceSizeBytes,
  devString,
  readSysfs,
} from "./nvme/block-device.ts";

type Condition = { abnormal: boolean; message: string };

export async function nodeGetVolumeStats(
  nc: NodeContext,
  req: NodeGetVolumeStatsRequest__Output,
): Promise<NodeGetVolumeStatsResponse> {
  const volumeId = required(req.volume_id, "volume_id");
  const path = await canonical(lookupPath(req.volume_path, "volume_path"));
  // The mount table first: a mounted filesystem after a forced shutdown answers stat with EIO, and is
  // an abnormal volume, not a missing one.
  const m = mountAt(await mounts(nc), path);
  if (m) return filesystemStats(nc, path, m);
  const st = lstatOrNone(path);
  if (!st) throw notFound(`volume path ${path} does not exist`);
  if (st.isBlockDevice()) return blockStats(nc, volumeId, path);
  throw notFound(`volume ${volumeId} is neither mounted nor published as a block device at ${path}`);
}

async function filesystemStats(
  nc: NodeContext,
  path: string,
  m: MountEntry,
): Promise<NodeGetVolumeStatsResponse> {
  const problems: string[] = [];
  const name = await deviceNameByNumbers(nc.paths.sysfsRoot, m);
  if (!name)
    problems.push(
      `the device behind this mount (${devString(m)}) no longer exists: the mount is stale (device detached or renumbered after a reconnect)`,
    );
  // Older kernels flip the superblock to "ro"; newer ones (6.x) keep "rw" and add "emergency_ro".
  if (!isReadOnlyMount(m) && (m.superOptions.includes("ro") || m.superOptions.includes("emergency_ro")))
    problems.push(
      `the ${m.fsType} filesystem was forced read-only (errors=remount-ro after an I/O or metadata error)`,
    );
  if (name && m.fsType.startsWith("ext")) {
    const errors = Number(
      (await readSysfs(join(nc.paths.sysfsRoot, "fs", "ext4", name, "errors_count"))) ?? "0",
    );
    if (errors > 0)
      problems.push(`ext4 recorded ${errors} error(s) on ${name}; check it offline with e2fsck`);
  }
  if (name) {
    const t = await nc.transport
      .condition({ name, path: join(nc.paths.devRoot, name) })
      .catch(() => undefined);
    if (t) problems.push(t);
  }
  // lstat of the mount point needs no device I/O (its root inode is in memory), but a filesystem after a
  // forced shutdown (XFS) refuses it with EIO, while statfs still answers from memory.
  const dead = deadPathCode(path);
  if (dead)
    problems.push(
      `the ${m.fsType} filesystem at ${path} answers ${dead} (input/output error): it was shut down after an error or its device is gone; unpublish and unstage it, then repair it offline`,
    );
  let usage: NodeGetVolumeStatsResponse["usage"] = [];
  try {
    const u = await filesystemUsage(path);
    usage = [
      { unit: "BYTES", total: u.totalBytes, available: u.availableBytes, used: u.usedBytes },
      { unit: "INODES", total: u.totalInodes, available: u.freeInodes, used: u.usedInodes },
    ];
  } catch (err) {
    problems.push(`statfs failed: ${(err as Error).message}`);
  }
  return { usage, volume_condition: condition(problems) };
}

async function blockStats(
  nc: NodeContext,
  volumeId: string,
  path: string,
): Promise<NodeGetVolumeStatsResponse> {
  const nums = await blockNodeNumbers(path);
  if (!nums) throw notFound(`volume ${volumeId}: ${path} is not a block device`);
  const problems: string[] = [];
  const name = await deviceNameByNumbers(nc.paths.sysfsRoot, nums);
  let total = 0;
  if (!name)
    problems.push(
      `the device ${devString(nums)} published here no longer exists (detached or renumbered after a reconnect)`,
    );
  else {
    total = (await deviceSizeBytes(nc.paths.sysfsRoot, name)) ?? 0;
    const t = await nc.transport
      .condition({ name, path: join(nc.paths.devRoot, name) })
      .catch(() => undefined);
    if (t) problems.push(t);
  }
  return { usage: [{ unit: "BYTES", total }], volume_condition: condition(problems) };
}

function condition(problems: string[]): Condition {
  return problems.length
    ? { abnormal: true, message: problems.join("; ") }
    : { abnormal: false, message: "volume is healthy" };
}
