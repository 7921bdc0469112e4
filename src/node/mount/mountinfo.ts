// /proc/self/mountinfo parser (proc(5)). Mounts are compared by device numbers, never by source path:
// the source of a mount may be a path in another namespace, a renamed node, or "none".
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { DevNumbers } from "../nvme/block-device.ts";

export interface MountEntry extends DevNumbers {
  mountId: number;
  parentId: number;
  /** Path inside the filesystem that is mounted here ("/" for a whole filesystem). */
  root: string;
  mountPoint: string;
  /** Per-mount options (ro/rw, nosuid, noatime, ...). */
  options: string[];
  optionalFields: string[];
  fsType: string;
  source: string;
  /** Per-superblock options: "ro" here on a "rw" mount means the filesystem was forced read-only. */
  superOptions: string[];
}

/** Undoes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash). */
export function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const fields = line.split(" ");
    const sep = fields.indexOf("-", 6);
    if (sep < 0 || fields.length < sep + 3) continue; // not a mountinfo line; skip rather than guess
    const [id, parent, devs, root, mountPoint, options] = fields;
    const dev = /^(\d+):(\d+)$/.exec(devs ?? "");
    if (!dev || !root || !mountPoint || !options) continue;
    out.push({
      mountId: Number(id),
      parentId: Number(parent),
      major: Number(dev[1]),
      minor: Number(dev[2]),
      root: unescapeMountField(root),
      mountPoint: unescapeMountField(mountPoint),
      options: options.split(","),
      optionalFields: fields.slice(6, sep),
      fsType: unescapeMountField(fields[sep + 1] ?? ""),
      source: unescapeMountField(fields[sep + 2] ?? ""),
      superOptions: (fields[sep + 3] ?? "").split(",").filter(Boolean),
    });
  }
  return out;
}

/** Synchronous on purpose: procfs, see block-device.ts. */
export async function readMountInfo(path = "/proc/self/mountinfo"): Promise<MountEntry[]> {
  return parseMountInfo(readFileSync(path, "utf8"));
}

/** The visible (last stacked) mount at exactly this path, if any. */
export function mountAt(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  const p = resolve(path);
  let found: MountEntry | undefined;
  for (const m of mounts) if (m.mountPoint === p) found = m;
  return found;
}

export function mountsOfDevice(mounts: readonly MountEntry[], devs: readonly DevNumbers[]): MountEntry[] {
  return mounts.filter((m) => devs.some((d) => d.major === m.major && d.minor === m.minor));
}

export const isReadOnlyMount = (m: MountEntry): boolean => m.options.includes("ro");
