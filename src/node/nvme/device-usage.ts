// "Is anything still using this device?" — asked before every detach. Detaching a device that a
// filesystem, a device-mapper target, a loop device (kubelet pins published block volumes with one) or
// a process (a VM's qemu) still uses loses data, so this errs on the side of "in use".
// Sources: mountinfo, sysfs holders, loop devices backed by the device, and /proc/*/fd (compared by
// device numbers via stat, so a node opened under another path or mount namespace still counts). The
// plugin runs in the host PID namespace (chart: hostPID) so that scan sees processes outside its own
// container; it never follows a descriptor into a network or FUSE filesystem (see LOCAL_FS).
// No lsof: the prior driver's BusyBox lsof ignored its argument and made the check a no-op.
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../util/exec.ts";
import { mountsOfDevice, parseMountInfo, readMountInfo } from "../mount/mountinfo.ts";
import { type DevNumbers, deviceNumbers, devString, readSysfs, splitDev } from "./block-device.ts";

export interface DeviceUsageOptions {
  sysfsRoot: string;
  procRoot: string;
  mountinfoPath: string;
  /** Mount points that do not count (e.g. the staging path being checked by its owner). */
  ignoreMountPoints?: readonly string[];
  /** Our own pid: the plugin may hold the device open for a probe. */
  selfPid?: number;
  /** Upper bound for the /proc scan; an unfinished scan counts as "in use". */
  scanTimeoutMs?: number;
}

/** The device and its partitions, with numbers. */
async function deviceFamily(sysfsRoot: string, name: string): Promise<Array<{ name: string } & DevNumbers>> {
  const out: Array<{ name: string } & DevNumbers> = [];
  const own = await deviceNumbers(sysfsRoot, name);
  if (own) out.push({ name, ...own });
  let entries: string[] = [];
  try {
    entries = readdirSync(join(sysfsRoot, "class", "block", name));
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.startsWith(name) || e === name) continue;
    if ((await readSysfs(join(sysfsRoot, "class", "block", name, e, "partition"))) === undefined) continue;
    const n = await deviceNumbers(sysfsRoot, e);
    if (n) out.push({ name: e, ...n });
  }
  return out;
}

async function holders(sysfsRoot: string, names: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const n of names) {
    try {
      for (const h of readdirSync(join(sysfsRoot, "class", "block", n, "holders")))
        out.push(`held by ${h} (device-mapper/md on ${n})`);
    } catch {
      // no holders directory: nothing stacked on it
    }
  }
  return out;
}

const matches = (devs: readonly DevNumbers[], d: DevNumbers) =>
  devs.some((x) => x.major === d.major && x.minor === d.minor);

/**
 * Loop devices whose backing file is a device node for one of devs (kubelet's block-volume pin).
 * The backing files are looked at by one `stat` process with a deadline: the backing file of somebody
 * else's loop device may sit on a hung network filesystem, and a stat there must block neither the
 * event loop nor libuv's thread pool. When it cannot finish, the device counts as in use.
 */
async function loopBackers(sysfsRoot: string, devs: readonly DevNumbers[]): Promise<string[]> {
  let entries: string[] = [];
  try {
    entries = readdirSync(join(sysfsRoot, "block"));
  } catch {
    return [];
  }
  const backed: Array<{ loop: string; backing: string }> = [];
  for (const e of entries) {
    if (!e.startsWith("loop")) continue;
    const backing = await readSysfs(join(sysfsRoot, "block", e, "loop", "backing_file"));
    // A deleted backing file (" (deleted)") is a regular file, never a device node of ours.
    if (backing?.startsWith("/") && !backing.endsWith(" (deleted)")) backed.push({ loop: e, backing });
  }
  if (backed.length === 0) return [];
  // %f raw mode (hex), %t/%T major/minor of a device node (hex), %n the name (last: may hold spaces).
  // Files that are not visible from here (another mount namespace) print nothing on stdout.
  const r = await run(
    "stat",
    ["--printf", "%f %t %T %n\\n", "--", ...new Set(backed.map((b) => b.backing))],
    {
      timeoutMs: 5_000,
    },
  ).catch((e: Error) => e);
  if (r instanceof Error)
    return [
      `the backing files of loop devices (${backed.map((b) => b.loop).join(", ")}) could not be checked: ${r.message}`,
    ];
  const blockNodes = new Map<string, DevNumbers>();
  for (const line of r.stdout.split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m && (Number.parseInt(m[1] as string, 16) & 0o170000) === 0o060000)
      blockNodes.set(m[4] as string, {
        major: Number.parseInt(m[2] as string, 16),
        minor: Number.parseInt(m[3] as string, 16),
      });
  }
  const out: string[] = [];
  for (const b of backed) {
    const n = blockNodes.get(b.backing);
    if (n && matches(devs, n)) out.push(`loop device ${b.loop} is attached to it (${b.backing})`);
  }
  return out;
}

const SKIP_LINK = /^(socket|pipe|anon_inode|net|mnt|user|pid|ipc|uts|cgroup|time):/;

// Filesystems where a stat() of an open file is answered from memory by this kernel. The node plugin runs
// in the host PID namespace (chart: hostPID), so the scan meets every descriptor on the node, including
// files on NFS, CIFS or FUSE mounts, where a stat asks a server or a daemon and, when that one hangs,
// never returns (FUSE waits killable-only, NFS hard mounts forever): the plugin's event loop would hang
// with it. So the scan never follows a descriptor into a filesystem that is not listed here. Block device
// nodes live on devtmpfs, a container's tmpfs /dev, or the kubelet's disk (published volumes).
const LOCAL_FS = new Set([
  "devtmpfs",
  "tmpfs",
  "ramfs",
  "ext2",
  "ext3",
  "ext4",
  "xfs",
  "btrfs",
  "f2fs",
  "overlay",
  "zfs",
  "bcachefs",
]);

/** Per mount namespace: mount id → filesystem type, from the first process seen in that namespace. */
type MountTypes = Map<number, string>;

function mountTypesOf(procRoot: string, pid: string, cache: Map<string, MountTypes | undefined>) {
  let ns: string;
  try {
    ns = readlinkSync(join(procRoot, pid, "ns", "mnt"));
  } catch {
    ns = `pid:${pid}`; // no namespace link (older kernel, fake proc): read this process's own table
  }
  if (cache.has(ns)) return cache.get(ns);
  let types: MountTypes | undefined;
  try {
    types = new Map(
      parseMountInfo(readFileSync(join(procRoot, pid, "mountinfo"), "utf8")).map((m) => [
        m.mountId,
        m.fsType,
      ]),
    );
  } catch {
    types = undefined;
  }
  cache.set(ns, types);
  return types;
}

/** The mount id of an open descriptor (procfs fdinfo: no call into the file's filesystem). */
function fdMountId(procRoot: string, pid: string, fd: string): number | undefined {
  try {
    const m = /^mnt_id:\s*(\d+)/m.exec(readFileSync(join(procRoot, pid, "fdinfo", fd), "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

// Synchronous on purpose: a node has hundreds of processes and thousands of descriptors, and one
// readlink+stat pair through the libuv thread pool each made this scan take 100-200 ms per detach. The
// sync calls take a few microseconds each (readlink of a /proc fd link and fdinfo are procfs, answered
// from memory; stat only on LOCAL_FS); the loop yields to the event loop every few milliseconds.
async function openHandles(
  procRoot: string,
  devs: readonly DevNumbers[],
  selfPid: number,
  deadline: number,
): Promise<{ users: string[]; complete: boolean }> {
  const users: string[] = [];
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((p) => /^\d+$/.test(p) && Number(p) !== selfPid);
  } catch {
    return { users, complete: false };
  }
  const mountTypes = new Map<string, MountTypes | undefined>();
  let slice = Date.now();
  for (const pid of pids) {
    if (Date.now() > deadline) return { users, complete: false };
    if (Date.now() - slice > 5) {
      await new Promise((r) => setImmediate(r));
      slice = Date.now();
    }
    const fdDir = join(procRoot, pid, "fd");
    let fds: string[];
    try {
      fds = readdirSync(fdDir);
    } catch {
      continue; // the process exited or is not ours to inspect
    }
    const opened = new Set<string>();
    for (const fd of fds) {
      const p = join(fdDir, fd);
      try {
        const link = readlinkSync(p);
        if (SKIP_LINK.test(link) || !link.startsWith("/")) continue;
        const mntId = fdMountId(procRoot, pid, fd);
        const fsType = mntId === undefined ? undefined : mountTypesOf(procRoot, pid, mountTypes)?.get(mntId);
        // Unknown (closed meanwhile, or a mount table we cannot read): do not follow it.
        if (!fsType || !LOCAL_FS.has(fsType)) continue;
        const st = statSync(p, { bigint: true });
        if (st.isBlockDevice() && matches(devs, splitDev(st.rdev))) opened.add(link);
      } catch {
        // closed meanwhile
      }
    }
    if (opened.size > 0) {
      const comm = (await readSysfs(join(procRoot, pid, "comm"))) ?? "?";
      users.push(`process ${pid} (${comm}) has it open as ${[...opened].join(", ")}`);
    }
  }
  return { users, complete: true };
}

export interface OpenFileScan {
  users: string[];
  complete: boolean;
}

/**
 * The /proc/*\/fd part of the check on its own: the only part whose cost grows with the node (a readlink
 * and a stat per open descriptor, ~10 µs each). It starts on the next turn of the event loop, so a caller
 * can start a command first (NodeUnstage: the unmount) and scan while the command runs; the scan is
 * synchronous work on this thread and would otherwise delay sending the command.
 */
export async function scanOpenFiles(name: string, opts: DeviceUsageOptions): Promise<OpenFileScan> {
  await new Promise((r) => setImmediate(r));
  return scanFamily(await deviceFamily(opts.sysfsRoot, name), opts);
}

function scanFamily(family: readonly DevNumbers[], opts: DeviceUsageOptions): Promise<OpenFileScan> {
  if (family.length === 0) return Promise.resolve({ users: [], complete: true });
  const deadline = Date.now() + (opts.scanTimeoutMs ?? 15_000);
  return openHandles(opts.procRoot, family, opts.selfPid ?? process.pid, deadline);
}

/**
 * Human-readable list of everything using the block device `name` or its partitions; empty = unused.
 * A device that no longer exists has no users. `openFiles`: a scan of the same device started earlier.
 */
export async function findDeviceUsers(
  name: string,
  opts: DeviceUsageOptions,
  openFiles?: Promise<OpenFileScan>,
): Promise<string[]> {
  const family = await deviceFamily(opts.sysfsRoot, name);
  if (family.length === 0) return [];
  const ignore = new Set(opts.ignoreMountPoints ?? []);
  const users: string[] = [];
  const mounts = mountsOfDevice(await readMountInfo(opts.mountinfoPath), family).filter(
    (m) => !ignore.has(m.mountPoint),
  );
  for (const m of mounts) users.push(`mounted at ${m.mountPoint} (${devString(m)})`);
  users.push(
    ...(await holders(
      opts.sysfsRoot,
      family.map((f) => f.name),
    )),
  );
  users.push(...(await loopBackers(opts.sysfsRoot, family)));
  const scan = await (openFiles ?? scanFamily(family, opts));
  users.push(...scan.users);
  if (!scan.complete)
    users.push(`the scan of ${opts.procRoot}/*/fd did not finish, so the device is treated as in use`);
  return users;
}

/** Processes whose cwd, root or open files are inside a mount point: who makes `umount` report busy. */
export async function processesUnder(
  procRoot: string,
  mountPoint: string,
  selfPid = process.pid,
  limit = 10,
): Promise<string[]> {
  const out: string[] = [];
  const prefix = mountPoint.endsWith("/") ? mountPoint : `${mountPoint}/`;
  const inside = (p: string) => p === mountPoint || p.startsWith(prefix);
  let pids: string[] = [];
  try {
    pids = (await readdir(procRoot)).filter((p) => /^\d+$/.test(p) && Number(p) !== selfPid);
  } catch {
    return out;
  }
  for (const pid of pids) {
    if (out.length >= limit) break;
    const links: string[] = [];
    for (const l of ["cwd", "root"]) {
      try {
        links.push(await readlink(join(procRoot, pid, l)));
      } catch {
        // gone or not permitted
      }
    }
    try {
      for (const fd of await readdir(join(procRoot, pid, "fd"))) {
        try {
          links.push(await readlink(join(procRoot, pid, "fd", fd)));
        } catch {
          // closed meanwhile
        }
      }
    } catch {
      // not permitted
    }
    if (links.some(inside))
      out.push(`process ${pid} (${(await readSysfs(join(procRoot, pid, "comm"))) ?? "?"})`);
  }
  return out;
}
