// Online growth of a mounted filesystem after its device grew. Both tools grow in place and only ever
// add space; neither shrinks, so a stale or smaller device size cannot damage the filesystem.
import { failedPrecondition, invalidArgument } from "../../csi/errors.ts";
import { run } from "../../util/exec.ts";

export async function growFilesystem(
  fsType: string,
  device: string,
  mountPoint: string,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  let file: string;
  let args: string[];
  if (fsType === "ext4" || fsType === "ext3" || fsType === "ext2") {
    file = "resize2fs";
    args = [device];
  } else if (fsType === "xfs") {
    // xfs_growfs works on the mount point, not the device.
    file = "xfs_growfs";
    args = [mountPoint];
  } else {
    throw invalidArgument(`cannot grow a ${fsType} filesystem`);
  }
  const r = await run(file, args, {
    timeoutMs: opts.timeoutMs ?? 10 * 60_000,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  // The kernel's online ext4 resize requires CAP_SYS_RESOURCE, which unprivileged containers lack.
  if (r.code !== 0 && /Permission denied to resize/i.test(r.stderr))
    throw failedPrecondition(
      `${file} ${args[0]}: the kernel refused the online resize (EPERM): the node plugin needs CAP_SYS_RESOURCE (run it privileged)`,
    );
  if (r.code !== 0)
    throw failedPrecondition(
      `${file} ${args[0]} failed (exit status ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`,
    );
}
