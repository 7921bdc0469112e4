// Block device facts read from sysfs and stat(2): numbers, size, name. Device numbers (major:minor) are
// what ties a mount, a device node we created and a kernel device together, whatever the path says.
//
// sysfs and procfs are read with synchronous calls throughout the node service: they are the kernel's
// in-memory view and never wait on a device, and a synchronous read takes ~12 µs where the thread-pool
// round trip of fs/promises takes ~300 µs (open, fstat, read, close: four hops), measured on the CI
// machine. A stage or unstage reads them dozens of times. Paths on real filesystems stay asynchronous.
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { lstat, stat } from "node:fs/promises";
import { basename, join } from "node:path";

export interface DevNumbers {
  major: number;
  minor: number;
}

export const sameDev = (a: DevNumbers, b: DevNumbers): boolean => a.major === b.major && a.minor === b.minor;
export const devString = (d: DevNumbers): string => `${d.major}:${d.minor}`;

/** Splits a Linux dev_t (glibc encoding, as stat returns it) into major and minor. */
export function splitDev(rdev: bigint): DevNumbers {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

export function parseDevNumbers(text: string): DevNumbers | undefined {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

export async function readSysfs(path: string): Promise<string | undefined> {
  // Most misses are expected (an unbound loop device has no loop/ directory); an exception costs more
  // than the read, so look first.
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Numbers of a block device by kernel name, from `/sys/class/block/<name>/dev`. */
export async function deviceNumbers(sysfsRoot: string, name: string): Promise<DevNumbers | undefined> {
  const text = await readSysfs(join(sysfsRoot, "class", "block", name, "dev"));
  return text === undefined ? undefined : parseDevNumbers(text);
}

/** Size in bytes (sysfs counts 512-byte sectors whatever the logical block size). */
export async function deviceSizeBytes(sysfsRoot: string, name: string): Promise<number | undefined> {
  const text = await readSysfs(join(sysfsRoot, "class", "block", name, "size"));
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text) * 512;
}

/** Kernel name of the device with these numbers, or undefined when no such device exists (any more). */
export async function deviceNameByNumbers(sysfsRoot: string, dev: DevNumbers): Promise<string | undefined> {
  try {
    return basename(readlinkSync(join(sysfsRoot, "dev", "block", devString(dev))));
  } catch {
    return undefined;
  }
}

/** Numbers of the block device node at path (not following a final symlink), or undefined. */
export async function blockNodeNumbers(path: string, follow = false): Promise<DevNumbers | undefined> {
  try {
    const st = follow ? await stat(path, { bigint: true }) : await lstat(path, { bigint: true });
    return st.isBlockDevice() ? splitDev(st.rdev) : undefined;
  } catch {
    return undefined;
  }
}

/** True when a device node exists at path and is a block device. */
export async function isBlockNode(path: string): Promise<boolean> {
  return (await blockNodeNumbers(path, true)) !== undefined;
}
