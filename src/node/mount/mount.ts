// mount(8)/umount(8) wrappers. Not lazy (`umount -l`) while the filesystem works: a lazy unmount hides
// the users of a device and lets the caller detach it underneath them. The one exception is a mount
// whose filesystem is dead (its mount point answers EIO/ENOTCONN/ESTALE: an XFS forced shutdown, a lost
// FUSE daemon) and that umount cannot remove: nothing can read or write through it any more, and
// leaving it would make every later unpublish and unstage fail. A busy mount is reported with who
// keeps it busy.
import { failedPrecondition, unavailable } from "../../csi/errors.ts";
import { run } from "../../util/exec.ts";
import { processesUnder } from "../nvme/device-usage.ts";
import { mountAt, readMountInfo } from "./mountinfo.ts";

export interface MountEnv {
  mountinfoPath: string;
  procRoot: string;
  timeoutMs?: number;
  /** The RPC's signal: mount(8) ends with the call (unmounts are left to finish: they only make progress). */
  signal?: AbortSignal;
  /** Returns the errno code (EIO, ENOTCONN, ESTALE) when the filesystem at a path is dead. */
  deadCode?: (path: string) => string | undefined;
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
  const r = await run("mount", args, {
    timeoutMs: env.timeoutMs ?? 5 * 60_000,
    ...(env.signal ? { signal: env.signal } : {}),
  });
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
    const dead = env.deadCode?.(path);
    if (dead) {
      const lazy = await run("umount", ["-l", path], { timeoutMs: env.timeoutMs ?? 2 * 60_000 }).catch(
        (e: Error) => {
          throw unavailable(`umount -l ${path}: ${e.message}`);
        },
      );
      if (lazy.code !== 0)
        throw unavailable(`umount -l ${path} (filesystem dead: ${dead}) failed: ${tail(lazy.stderr)}`);
      count++;
      continue;
    }
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
