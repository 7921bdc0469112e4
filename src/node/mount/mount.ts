// mount(8)/umount(8) wrappers. Never lazy (`umount -l`): a lazy unmount hides the users of a device and
// lets the caller detach it underneath them. A busy mount is reported with who keeps it busy.
import { failedPrecondition, unavailable } from "../../csi/errors.ts";
import { run } from "../../util/exec.ts";
import { processesUnder } from "../nvme/device-usage.ts";
import { mountAt, readMountInfo } from "./mountinfo.ts";

export interface MountEnv {
  mountinfoPath: string;
  procRoot: string;
  timeoutMs?: number;
}

function tail(s: string): string {
  return s.trim().slice(0, 500);
}

export async function mountFilesystem(
  device: string,
  target: string,
  fsType: string,
  options: readonly string[],
  env: MountEnv,
): Promise<void> {
  const args = ["-t", fsType, ...(options.length ? ["-o", options.join(",")] : []), device, target];
  const r = await run("mount", args, { timeoutMs: env.timeoutMs ?? 5 * 60_000 });
  if (r.code !== 0)
    throw failedPrecondition(
      `mount -t ${fsType} ${device} ${target} failed (exit status ${r.code}): ${tail(r.stderr || r.stdout)}`,
    );
}

/**
 * Bind-mounts source at target. Read-only and per-mount flags go into the same mount(8) call, which
 * binds and then remounts the new mount point read-only before returning (a bind cannot be read-only
 * in one syscall on the kernels we support); a crash between the two can only leave it read-write,
 * which the next publish then reports as incompatible instead of silently accepting.
 */
export async function bindMount(
  source: string,
  target: string,
  flags: readonly string[],
  env: MountEnv,
): Promise<void> {
  const args = ["--bind", ...(flags.length ? ["-o", flags.join(",")] : []), source, target];
  const r = await run("mount", args, { timeoutMs: env.timeoutMs ?? 60_000 });
  if (r.code !== 0)
    throw failedPrecondition(
      `mount --bind ${source} ${target} failed (exit status ${r.code}): ${tail(r.stderr || r.stdout)}`,
    );
}

/** Unmounts every mount stacked at path (normally one). Idempotent; busy → FAILED_PRECONDITION naming the users. */
export async function unmountAll(path: string, env: MountEnv): Promise<number> {
  let count = 0;
  for (let i = 0; i < 8; i++) {
    if (!mountAt(await readMountInfo(env.mountinfoPath), path)) return count;
    const r = await run("umount", [path], { timeoutMs: env.timeoutMs ?? 2 * 60_000 }).catch((e: Error) => {
      throw unavailable(`umount ${path}: ${e.message}`);
    });
    if (r.code === 0) {
      count++;
      continue;
    }
    if (!mountAt(await readMountInfo(env.mountinfoPath), path)) return count; // raced with another unmount
    if (/busy/i.test(r.stderr)) {
      const users = await processesUnder(env.procRoot, path);
      throw failedPrecondition(
        `${path} is busy and was not unmounted${users.length ? `; used by ${users.join(", ")}` : ""}`,
      );
    }
    throw unavailable(`umount ${path} failed (exit status ${r.code}): ${tail(r.stderr)}`);
  }
  throw unavailable(`${path} still has mounts after 8 unmounts`);
}
