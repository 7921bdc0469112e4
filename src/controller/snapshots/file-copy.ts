// file-copy: `/file copy <volume image> name=<pool>/<dir>/snapshots/<id>.img` (RouterOS 7.23+).
// Works on any pool. RouterOS does not document whether the copy is a reflink (XFS with reflink=1 and
// btrfs could make it instant and free) or a full copy (time and space proportional to the volume size).
// Not atomic: a volume written during a full copy gives a torn image, so snapshot quiesced volumes only
// (KubeVirt freezes the guest's file systems first; an unpublished volume is always quiet).
import type { ControllerContext } from "../context.ts";
import { writingFile } from "../settle.ts";
import type { ImageLocation } from "../volumes/layout.ts";
import { snapshotDir } from "./layout.ts";
import type { SnapshotStrategy } from "./strategy.ts";

/** The slowest full copy we plan for: the command's timeout grows with the size at this rate. */
const SLOWEST_COPY_BYTES_PER_S = 50 * 1024 * 1024;
const MIN_COPY_TIMEOUT_MS = 120_000;

/** Timeout for copying `bytes` on the appliance (a full copy of a large image takes minutes). */
export function copyTimeoutMs(bytes: number): number {
  return Math.max(MIN_COPY_TIMEOUT_MS, Math.ceil((bytes / SLOWEST_COPY_BYTES_PER_S) * 1000));
}

/** Copies an image on the appliance with `/file copy`, with a timeout that fits its size. */
export async function copyImage(
  c: ControllerContext,
  from: string,
  to: string,
  bytes: number,
): Promise<void> {
  await writingFile(c, to, () => c.rds.copyFile(from, to, { timeoutMs: copyTimeoutMs(bytes) }));
}

export const fileCopyStrategy: SnapshotStrategy = {
  method: "file-copy",
  atomic: false,
  locate: (source: ImageLocation, id: string) => ({ filePath: `${snapshotDir(source)}/${id}.img` }),
  spaceNeeded: (bytes) => bytes,
  take: (env, source, target, bytes) => copyImage(env.c, source.filePath, target.filePath, bytes),
};
