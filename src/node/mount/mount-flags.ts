// Mount options from the volume capability (StorageClass `mountOptions`) are checked against an
// allow-list before they reach mount(8): no bind/remount/loop tricks, no options that read host files,
// none that trade data safety for speed (nobarrier, errors=panic, journal_async_commit). Unlike the
// prior driver nothing is forced on: published volumes are not made noexec behind the user's back.
import { invalidArgument } from "../../csi/errors.ts";

const GENERIC = new Set([
  "defaults",
  "ro",
  "rw",
  "async",
  "sync",
  "dirsync",
  "atime",
  "noatime",
  "diratime",
  "nodiratime",
  "relatime",
  "norelatime",
  "strictatime",
  "nostrictatime",
  "lazytime",
  "nolazytime",
  "suid",
  "nosuid",
  "dev",
  "nodev",
  "exec",
  "noexec",
  "iversion",
  "noiversion",
  "discard",
  "nodiscard",
  "grpid",
  "nogrpid",
  "bsdgroups",
  "sysvgroups",
  "noquota",
  "quota",
  "usrquota",
  "grpquota",
  "prjquota",
]);

const EXT = new Set([
  "acl",
  "noacl",
  "user_xattr",
  "nouser_xattr",
  "delalloc",
  "nodelalloc",
  "auto_da_alloc",
  "noauto_da_alloc",
  "nombcache",
  "noinit_itable",
  "journal_checksum",
  "nojournal_checksum",
  "noload",
  "i_version",
]);
const EXT_VALUED: Record<string, RegExp> = {
  errors: /^(remount-ro|continue)$/,
  data: /^(ordered|journal|writeback)$/,
  commit: /^\d{1,4}$/,
  stripe: /^\d{1,8}$/,
  max_batch_time: /^\d{1,8}$/,
  min_batch_time: /^\d{1,8}$/,
  inode_readahead_blks: /^\d{1,8}$/,
  init_itable: /^\d{1,3}$/,
  resuid: /^\d{1,10}$/,
  resgid: /^\d{1,10}$/,
};

const XFS = new Set([
  "nouuid",
  "inode32",
  "inode64",
  "largeio",
  "nolargeio",
  "noalign",
  "filestreams",
  "ikeep",
  "noikeep",
  "swalloc",
  "wsync",
  "norecovery",
  "uquota",
  "uqnoenforce",
  "gquota",
  "gqnoenforce",
  "pquota",
  "pqnoenforce",
  "qnoenforce",
]);
const XFS_VALUED: Record<string, RegExp> = {
  allocsize: /^\d{1,10}[kKmMgG]?$/,
  logbufs: /^\d{1,2}$/,
  logbsize: /^\d{1,6}[kK]?$/,
  sunit: /^\d{1,10}$/,
  swidth: /^\d{1,10}$/,
};

/** Splits comma-joined flags, validates each for fsType ("" = bind/publish: generic only); INVALID_ARGUMENT on a bad one. */
export function validateMountFlags(flags: readonly string[], fsType: string): string[] {
  const ext = fsType.startsWith("ext");
  const xfs = fsType === "xfs";
  const out: string[] = [];
  for (const opt of flags.flatMap((f) => f.split(",")).map((f) => f.trim())) {
    if (!opt) continue;
    const eq = opt.indexOf("=");
    if (eq < 0) {
      if (GENERIC.has(opt) || (ext && EXT.has(opt)) || (xfs && XFS.has(opt))) {
        if (opt !== "defaults") out.push(opt);
        continue;
      }
    } else {
      const key = opt.slice(0, eq);
      const value = opt.slice(eq + 1);
      const re = (ext ? EXT_VALUED[key] : undefined) ?? (xfs ? XFS_VALUED[key] : undefined);
      if (re?.test(value)) {
        out.push(opt);
        continue;
      }
    }
    throw invalidArgument(
      `mount option ${JSON.stringify(opt)} is not allowed${fsType ? ` for ${fsType}` : ""}`,
    );
  }
  return [...new Set(out)];
}

/** Per-mount (VFS) flags that a read-only or restricted bind mount can carry. */
const PER_MOUNT = new Set([
  "ro",
  "rw",
  "nosuid",
  "suid",
  "nodev",
  "dev",
  "noexec",
  "exec",
  "noatime",
  "atime",
  "nodiratime",
  "diratime",
  "relatime",
  "norelatime",
  "strictatime",
  "nostrictatime",
]);

export function perMountFlags(flags: readonly string[]): string[] {
  return flags.filter((f) => PER_MOUNT.has(f));
}
