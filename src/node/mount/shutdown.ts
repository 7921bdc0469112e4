// Shuts a mounted filesystem down without flushing anything (the XFS_IOC_GOINGDOWN / EXT4_IOC_SHUTDOWN
// ioctl with NOLOGFLUSH, through `xfs_io -x -c shutdown`, which both filesystems implement): from then on
// nothing of it — dirty page cache, journal, superblock — reaches the device, and it can be unmounted
// without writing. Used on a stale filesystem whose device another node has written since (fence.ts).
import { unavailable } from "../../csi/errors.ts";
import { run } from "../../util/exec.ts";

export async function shutdownFilesystem(mountPoint: string, signal?: AbortSignal): Promise<void> {
  const r = await run("xfs_io", ["-x", "-c", "shutdown", mountPoint], {
    timeoutMs: 30_000,
    ...(signal ? { signal } : {}),
  }).catch((e: Error) => e);
  if (r instanceof Error || r.code !== 0)
    throw unavailable(
      `could not shut down the filesystem at ${mountPoint} without flushing it (xfs_io -x -c shutdown: ${
        r instanceof Error
          ? r.message
          : (r.stderr || r.stdout).trim().slice(0, 300) || `exit status ${r.code}`
      }); it was left mounted`,
    );
}
