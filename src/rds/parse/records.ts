// Typed views of `print detail` records: /disk file disks, /disk pools and /file entries.
import type { FileDisk, Pool, RdsFile } from "../types.ts";
import type { DetailRecord } from "./print-detail.ts";
import { parseBool, parseGroupedInt, parseSize, RdsParseError } from "./values.ts";

/** `/disk` property names (7.24 `add` arguments and read-only properties, §1.3, §1.6b and the REST sample). */
export const DISK_KEYS: ReadonlySet<string> = new Set([
  ".id",
  "type",
  "slot",
  "slot-default",
  "parent",
  "comment",
  "disabled",
  "fs",
  "fs-label",
  "fs-uuid",
  "model",
  "serial",
  "interface",
  "interface-speed",
  "size",
  "free",
  "use",
  "total-inodes",
  "free-inodes",
  "mount-point",
  "mount-point-template",
  "mount-filesystem",
  "mount-read-only",
  "compress",
  "sector-size",
  "state",
  "status",
  "raid-type",
  "raid-device-count",
  "raid-max-component-size",
  "raid-chunk-size",
  "raid-master",
  "raid-member-state",
  "raid-uuid",
  "nvme-tcp-export",
  "nvme-tcp-server-port",
  "nvme-tcp-server-nqn",
  "nvme-tcp-server-allow-host-name",
  "nvme-tcp-server-password",
  "nvme-tcp-server-secret",
  "nvme-tcp-address",
  "nvme-tcp-nqn",
  "nvme-tcp-port",
  "nvme-tcp-host-name",
  "nvme-tcp-password",
  "iscsi-export",
  "iscsi-server-iqn",
  "iscsi-server-port",
  "nfs-sharing",
  "smb-sharing",
  "media-sharing",
  "media-interface",
  "swap",
  "file-path",
  "file-size",
  "file-offset",
]);

/** `/file` property names (7.16+: `last-modified` replaced `creation-time`). */
export const FILE_KEYS: ReadonlySet<string> = new Set([
  ".id",
  "name",
  "type",
  "size",
  "last-modified",
  "creation-time",
  "contents",
  "comment",
  "package-name",
  "package-version",
  "package-architecture",
  "package-built-time",
]);

function required(r: DetailRecord, key: string): string {
  const v = r.props.get(key);
  if (v === undefined) throw new RdsParseError(`record ${r.item ?? "?"} has no ${key}=`);
  return v;
}

const stripLeadingSlash = (p: string): string => p.replace(/^\/+/, "");

function internalId(r: DetailRecord): string {
  return r.props.get(".id") ?? (r.item?.startsWith("*") ? r.item : "");
}

/** A `/disk` record of `type=file`. Sizes come from the exact `size=`, never from `file-size=`. */
export function toFileDisk(r: DetailRecord): FileDisk {
  const type = required(r, "type");
  if (type !== "file")
    throw new RdsParseError(`disk ${r.props.get("slot") ?? "?"} is type=${type}, not file`);
  const exportProp = r.props.get("nvme-tcp-export");
  const disk: FileDisk = {
    id: internalId(r),
    slot: required(r, "slot"),
    filePath: stripLeadingSlash(required(r, "file-path")),
    sizeBytes: parseGroupedInt(required(r, "size")),
    nvmeExport: exportProp !== undefined ? parseBool(exportProp) : r.flags.includes("t"),
    allowedHosts: (r.props.get("nvme-tcp-server-allow-host-name") ?? "").split(",").filter((h) => h !== ""),
    comment: r.comment ?? r.props.get("comment") ?? "",
    disabled: r.flags.includes("X") || r.props.get("disabled") === "yes",
  };
  const port = r.props.get("nvme-tcp-server-port");
  if (port !== undefined && port !== "") disk.nvmePort = parseGroupedInt(port);
  const nqn = r.props.get("nvme-tcp-server-nqn");
  if (nqn !== undefined && nqn !== "") disk.nqn = nqn;
  return disk;
}

/** A formatted disk with a mount point (RAID or partition) that holds volume files. */
export function toPool(r: DetailRecord): Pool {
  const pool: Pool = {
    slot: required(r, "slot"),
    mountPoint: stripLeadingSlash(required(r, "mount-point")),
    fs: r.props.get("fs") ?? "",
    sizeBytes: parseGroupedInt(required(r, "size")),
    freeBytes: parseGroupedInt(required(r, "free")),
  };
  const label = r.props.get("fs-label");
  if (label) pool.fsLabel = label;
  return pool;
}

/** A `/file` entry. Detail sizes are humanized (`10.0GiB`) and therefore approximate. */
export function toRdsFile(r: DetailRecord): RdsFile {
  const file: RdsFile = { name: stripLeadingSlash(required(r, "name")), type: r.props.get("type") ?? "" };
  const size = r.props.get("size");
  if (size !== undefined && size !== "") file.sizeBytes = parseSize(size);
  return file;
}
