// How RouterOS presents `/disk` items (file disks and the pool) and `/file` entries: property order, kinds
// and flags, per docs/routeros.md §1.3, §1.6b (RDS2216 samples) and §4. Pure: the driver's parser tests
// can build items here and render them with render.ts at any width.
import { createHash } from "node:crypto";
import type { Item, Prop } from "./items.ts";
import type { FlagDef, TableColumn } from "./render.ts";

/** A `/disk` item of `type=file` as the simulator stores it. */
export interface FileDiskState {
  id: string;
  slot: string;
  /** No leading slash: `storage-pool/k8s/pvc-1.img`. */
  filePath: string;
  fileSize: number;
  fileOffset: number;
  comment?: string;
  disabled: boolean;
  nvmeExport: boolean;
  nvmePort: number;
  /** `nvme-tcp-server-nqn`; empty = unset (the NQN is then the slot, §7). */
  nqn: string;
  allowHost: string;
  password: string;
}

export interface PoolView {
  id: string;
  /** Slot and mount point. */
  name: string;
  fs: string;
  sizeBytes: number;
  freeBytes: number;
  /** Files and directories on the pool (for the inode counters). */
  entries: number;
  comment?: string;
}

export interface FileView {
  id: string;
  /** No leading slash. */
  name: string;
  /** `disk` (a mount point), `directory`, `file`, `.img file`, ... */
  type: string;
  /** Bytes; undefined for directories and mount points. */
  size?: number;
  lastModified: Date;
}

/** `/disk` flags (§1.3), grouped by the column they share in the flag field. */
export const DISK_FLAGS: readonly FlagDef[] = [
  { letter: "X", name: "disabled", group: 0 },
  { letter: "A", name: "acquired", group: 1 },
  { letter: "E", name: "empty", group: 1 },
  { letter: "B", name: "block-device", group: 2 },
  { letter: "M", name: "mounted", group: 3 },
  { letter: "F", name: "formatting", group: 3 },
  { letter: "S", name: "swap-enabled", group: 3 },
  { letter: "f", name: "raid-member-failed", group: 4 },
  { letter: "r", name: "raid-member", group: 4 },
  { letter: "c", name: "encrypted", group: 5 },
  { letter: "g", name: "guid-partition-table", group: 6 },
  { letter: "p", name: "partition", group: 6 },
  { letter: "t", name: "nvme-tcp-export", group: 7 },
  { letter: "i", name: "iscsi-export", group: 8 },
  { letter: "s", name: "smb-sharing", group: 9 },
  { letter: "n", name: "nfs-sharing", group: 10 },
  { letter: "m", name: "media-sharing", group: 11 },
  { letter: "L", name: "self-encrypted-and-locked", group: 12 },
  { letter: "O", name: "self-encryption-enabled", group: 12 },
  { letter: "o", name: "self-encryption-supported", group: 12 },
];

/** Default `/disk print` columns (§1.6a sample). */
export const DISK_COLUMNS: ReadonlyArray<TableColumn & { key: string }> = [
  { title: "SLOT", key: "slot" },
  { title: "MOUNT-POINT", key: "mount-point" },
  { title: "SIZE", key: "size", align: "right" },
  { title: "FS", key: "fs" },
  { title: "SWAP", key: "swap" },
];

/** Default `/file print` columns (§4 sample). */
export const FILE_COLUMNS: ReadonlyArray<TableColumn & { key: string }> = [
  { title: "NAME", key: "name" },
  { title: "TYPE", key: "type" },
  { title: "SIZE", key: "size", align: "right" },
  { title: "LAST-MODIFIED", key: "last-modified" },
];

const p = (key: string, kind: Prop["kind"], value: Prop["value"], extra: Partial<Prop> = {}): Prop => ({
  key,
  kind,
  value,
  ...extra,
});

/** Flags as booleans: scripts and `where` see them (`where nvme-tcp-export`, `disabled=false`). */
function flagProps(set: Record<string, boolean>): Prop[] {
  return DISK_FLAGS.filter(
    (f) =>
      !["nvme-tcp-export", "iscsi-export", "smb-sharing", "nfs-sharing", "media-sharing"].includes(f.name),
  ).map((f) => p(f.name, "bool", set[f.name] ?? false, { hidden: true }));
}

function flagLetters(set: Record<string, boolean>): string {
  return DISK_FLAGS.filter((f) => set[f.name])
    .map((f) => f.letter)
    .join("");
}

/**
 * A file disk in the §1.6b order: `type slot slot-default parent fs model size mount-filesystem
 * mount-read-only compress sector-size raid-master nvme-tcp-export [nvme-tcp-server-port
 * nvme-tcp-server-nqn nvme-tcp-server-allow-host-name] iscsi-export nfs-sharing smb-sharing media-sharing
 * media-interface swap file-path file-size file-offset`. The server-* settings print only when exported;
 * scripts (as-value, JSON) always see them.
 */
export function fileDiskItem(d: FileDiskState, number: number): Item {
  const unexported = !d.nvmeExport;
  const flags = { disabled: d.disabled, "block-device": true, "nvme-tcp-export": d.nvmeExport };
  return {
    id: d.id,
    number,
    flags: flagLetters(flags),
    comment: d.comment,
    props: [
      p("type", "word", "file"),
      p("slot", "str", d.slot),
      p("slot-default", "str", ""),
      p("parent", "str", ""),
      p("fs", "word", "-"),
      p("model", "str", `/${d.filePath}`),
      p("size", "bytes", d.fileSize),
      p("mount-filesystem", "bool", false),
      p("mount-read-only", "bool", false),
      p("compress", "bool", false),
      p("sector-size", "int", 512),
      p("raid-master", "word", "none"),
      p("nvme-tcp-export", "bool", d.nvmeExport),
      p("nvme-tcp-server-port", "int", d.nvmePort, { hidden: unexported }),
      p("nvme-tcp-server-nqn", "str", d.nqn, { hidden: unexported }),
      p("nvme-tcp-server-allow-host-name", "str", d.allowHost, { hidden: unexported }),
      p("nvme-tcp-server-password", "str", d.password, { hidden: unexported, sensitive: true }),
      p("iscsi-export", "bool", false),
      p("nfs-sharing", "bool", false),
      p("smb-sharing", "bool", false),
      p("media-sharing", "bool", false),
      p("media-interface", "word", "none"),
      p("swap", "bool", false),
      p("file-path", "word", `/${d.filePath}`),
      p("file-size", "size", d.fileSize),
      p("file-offset", "int", d.fileOffset),
      ...flagProps(flags),
    ],
  };
}

/** A stable UUID-shaped string from a seed (file-system and subvolume UUIDs of the simulator). */
export function uuidFrom(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The pool: a mounted RAID disk formatted with a file system (§1.6b RDS2216 sample, §3). */
export function poolItem(pool: PoolView, number: number): Item {
  const flags = { "block-device": true, mounted: true };
  const used = pool.sizeBytes - pool.freeBytes;
  const totalInodes = Math.floor(pool.sizeBytes / 10240);
  return {
    id: pool.id,
    number,
    flags: flagLetters(flags),
    comment: pool.comment,
    props: [
      p("type", "word", "raid"),
      p("slot", "str", pool.name),
      p("slot-default", "str", ""),
      p("parent", "str", ""),
      p("fs-label", "str", pool.name),
      p("fs-uuid", "str", uuidFrom(`fs:${pool.name}`)),
      p("fs", "word", pool.fs),
      p("model", "str", "RAID0 striped"),
      p("size", "bytes", pool.sizeBytes),
      p("free", "bytes", pool.freeBytes),
      p("total-inodes", "bytes", totalInodes),
      p("free-inodes", "bytes", Math.max(0, totalInodes - 3 - pool.entries)),
      p("use", "percent", pool.sizeBytes > 0 ? Math.round((used / pool.sizeBytes) * 100) : 0),
      p("mount-point", "str", pool.name),
      p("mount-filesystem", "bool", true),
      p("mount-read-only", "bool", false),
      p("compress", "bool", false),
      p("sector-size", "int", 512),
      p("raid-type", "word", "0"),
      p("raid-device-count", "int", 4),
      p("raid-max-component-size", "word", "none"),
      p("raid-chunk-size", "word", "256K"),
      p("raid-master", "word", "none"),
      p("state", "str", "clean"),
      p("raid-uuid", "str", uuidFrom(`raid:${pool.name}`)),
      p("nvme-tcp-export", "bool", false),
      p("iscsi-export", "bool", false),
      p("nfs-sharing", "bool", false),
      p("smb-sharing", "bool", false),
      p("media-sharing", "bool", false),
      p("media-interface", "word", "none"),
      p("swap", "bool", false),
      ...flagProps(flags),
    ],
  };
}

/** `2026-09-25 12:13:27` (RouterOS ≥ 7.10 format; the simulator uses UTC). */
export function formatTimestamp(d: Date): string {
  return d.toISOString().slice(0, 19).replace("T", " ");
}

/** A `/file` entry (§4): `name type size last-modified`, names without a leading slash, unquoted. */
export function fileItem(f: FileView, number: number): Item {
  const props: Prop[] = [p("name", "word", f.name), p("type", "word", f.type)];
  if (f.size !== undefined) props.push(p("size", "size", f.size));
  props.push(p("last-modified", "word", formatTimestamp(f.lastModified)));
  return { id: f.id, number, flags: "", props };
}

/** `/file` type of a regular file: `.img file`, `.txt file`, or `file` without an extension. */
export function fileTypeOf(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? `${base.slice(dot)} file` : "file";
}

const sampleDisk: FileDiskState = {
  id: "*0",
  slot: "",
  filePath: "",
  fileSize: 0,
  fileOffset: 0,
  disabled: false,
  nvmeExport: true,
  nvmePort: 0,
  nqn: "",
  allowHost: "",
  password: "",
};
const samplePool: PoolView = { id: "*0", name: "", fs: "xfs", sizeBytes: 0, freeBytes: 0, entries: 0 };

/** Property names `where` accepts on `/disk` (file disks and pools) and `/file`. */
export const DISK_PROP_KEYS: ReadonlySet<string> = new Set([
  ".id",
  "comment",
  ...fileDiskItem(sampleDisk, 0).props.map((x) => x.key),
  ...poolItem(samplePool, 0).props.map((x) => x.key),
]);
export const FILE_PROP_KEYS: ReadonlySet<string> = new Set([
  ".id",
  "name",
  "type",
  "size",
  "last-modified",
  "contents",
]);
