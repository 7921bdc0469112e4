// Which snapshot mechanism to use, chosen from the `snapshotMethod` parameter (StorageClass and
// VolumeSnapshotClass) and from what the appliance has: its RouterOS version and the pool's file system.
//
//   btrfs-subvolume  pool formatted btrfs, RouterOS 7.18+; the volume's image must live alone in its own
//                    subvolume from creation (the "subvolume layout", volumes/layout.ts). Atomic, copy-on-write.
//   file-copy        RouterOS 7.23+ (`/file copy`), any file system; reflinked or full copy, not atomic.
//   auto (default)   btrfs-subvolume where the pool allows it, file-copy otherwise.
//
// `/disk copy` (block copy between two disk items) is deliberately not offered: docs/snapshots.md says why.
import { failedPrecondition, invalidArgument } from "../../csi/errors.ts";
import type { ControllerContext } from "../context.ts";
import { versionAtLeast } from "../context.ts";
import type { ImageLocation, VolumeLayout } from "../volumes/layout.ts";

export type SnapshotMethod = "file-copy" | "btrfs-subvolume";
export type MethodParam = "auto" | SnapshotMethod;

export const SNAPSHOT_METHOD_PARAM = "snapshotMethod";
export const FILE_COPY_SINCE = [7, 23] as const;
export const BTRFS_SUBVOLUME_SINCE = [7, 18] as const;
const METHOD_PARAMS: readonly MethodParam[] = ["auto", "file-copy", "btrfs-subvolume"];

// Keys the external-snapshotter and provisioner may add: not ours to refuse.
const FOREIGN_PREFIXES = ["csi.storage.k8s.io/", "storage.kubernetes.io/", "snapshot.storage.kubernetes.io/"];

export function parseMethod(value: string): MethodParam {
  if (!(METHOD_PARAMS as readonly string[]).includes(value))
    throw invalidArgument(
      `parameter ${SNAPSHOT_METHOD_PARAM}: "${value}" is not one of ${METHOD_PARAMS.join(", ")}`,
    );
  return value as MethodParam;
}

/** VolumeSnapshotClass parameters: `snapshotMethod` only; unknown keys are refused (a typo must not pass). */
export function parseSnapshotParams(raw: Record<string, string> | undefined): { method: MethodParam } {
  let method: MethodParam = "auto";
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (FOREIGN_PREFIXES.some((p) => key.startsWith(p))) continue;
    if (key !== SNAPSHOT_METHOD_PARAM)
      throw invalidArgument(`unknown snapshot parameter "${key}" (known: ${SNAPSHOT_METHOD_PARAM})`);
    method = parseMethod(value);
  }
  return { method };
}

/** What the appliance offers on one pool. */
export interface PoolFacts {
  mountPoint: string;
  fs: string;
  fsLabel?: string;
  version: string;
}

const factsCache = new WeakMap<ControllerContext, Map<string, Promise<PoolFacts | undefined>>>();

/**
 * The pool's file system and the RouterOS version, read once per controller (a pool does not change its
 * file system under a running driver; a restart reads them again). undefined when no such pool exists.
 */
export function poolFacts(c: ControllerContext, mountPoint: string): Promise<PoolFacts | undefined> {
  let perPool = factsCache.get(c);
  if (!perPool) {
    perPool = new Map();
    factsCache.set(c, perPool);
  }
  let facts = perPool.get(mountPoint);
  if (!facts) {
    facts = (async () => {
      const [pool, version] = await Promise.all([c.rds.getPool(mountPoint), c.routerOsVersion()]);
      if (!pool) return undefined;
      const f: PoolFacts = { mountPoint, fs: pool.fs, version };
      if (pool.fsLabel) f.fsLabel = pool.fsLabel;
      return f;
    })();
    const cache = perPool;
    // Neither a failure nor a missing pool is remembered: the next call asks again.
    facts.then(
      (f) => f ?? cache.delete(mountPoint),
      () => cache.delete(mountPoint),
    );
    perPool.set(mountPoint, facts);
  }
  return facts;
}

export const canFileCopy = (f: PoolFacts): boolean => versionAtLeast(f.version, FILE_COPY_SINCE);
export const canSubvolume = (f: PoolFacts): boolean =>
  f.fs === "btrfs" && Boolean(f.fsLabel) && versionAtLeast(f.version, BTRFS_SUBVOLUME_SINCE);

function whySubvolumeImpossible(f: PoolFacts): string {
  if (f.fs !== "btrfs")
    return `pool ${f.mountPoint} is formatted ${f.fs || "with an unknown file system"}, not btrfs`;
  if (!f.fsLabel)
    return `the btrfs file system of pool ${f.mountPoint} has no label (set one with /disk btrfs filesystem set)`;
  return `RouterOS ${f.version} has no /disk btrfs subvolume (7.18+)`;
}

/** Layout of a new volume on this pool, from the StorageClass's `snapshotMethod`. */
export function layoutFor(param: MethodParam, f: PoolFacts): VolumeLayout {
  if (param === "file-copy") return "flat";
  if (canSubvolume(f)) return "subvolume";
  if (param === "btrfs-subvolume")
    throw invalidArgument(
      `${SNAPSHOT_METHOD_PARAM}=btrfs-subvolume is not possible: ${whySubvolumeImpossible(f)}`,
    );
  return "flat";
}

/** How to snapshot a volume whose image is at `source`, from the VolumeSnapshotClass's `snapshotMethod`. */
export function methodFor(param: MethodParam, source: ImageLocation, f: PoolFacts): SnapshotMethod {
  const subvolumeOk = source.subvolume !== undefined && canSubvolume(f);
  if (param === "btrfs-subvolume") {
    if (subvolumeOk) return "btrfs-subvolume";
    throw failedPrecondition(
      source.subvolume === undefined
        ? `${SNAPSHOT_METHOD_PARAM}=btrfs-subvolume needs a volume created in its own btrfs subvolume; this one was not (created with file-copy, or before the pool was btrfs): use ${SNAPSHOT_METHOD_PARAM}=file-copy or auto`
        : `${SNAPSHOT_METHOD_PARAM}=btrfs-subvolume is not possible: ${whySubvolumeImpossible(f)}`,
    );
  }
  if (param === "auto" && subvolumeOk) return "btrfs-subvolume";
  if (canFileCopy(f)) return "file-copy";
  throw failedPrecondition(
    `RouterOS ${f.version} has no /file copy (7.23+)${param === "auto" && source.subvolume === undefined ? " and this volume does not live in its own btrfs subvolume" : ""}: this volume cannot be snapshotted or cloned on this appliance`,
  );
}
