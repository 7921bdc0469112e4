// What every node RPC shares: options, the transport, locks, breakers, and helpers over the host's
// view (mountinfo, sysfs, /proc) — all rooted at configurable paths so tests can point them elsewhere.
import { type BigIntStats, lstatSync, realpathSync, type Stats } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { aborted, invalidArgument, notFound, required, unavailable } from "../csi/errors.ts";
import type { CallContext } from "../csi/types.ts";
import type { Logger } from "../observability/logger.ts";
import { metrics } from "../observability/metrics.ts";
import type { KeyedLock } from "../util/keyed-lock.ts";
import type { VolumeBreakers } from "./breaker.ts";
import type { HealthMode } from "./mount/fsck.ts";
import { type MountEntry, readMountInfo } from "./mount/mountinfo.ts";
import { findDeviceUsers, type OpenFileScan, scanOpenFiles } from "./nvme/device-usage.ts";
import type { AttachTarget, BlockDevice, Transport } from "./nvme/transport.ts";

export interface HostPaths {
  sysfsRoot: string;
  devRoot: string;
  procRoot: string;
  mountinfoPath: string;
}

export interface NodeTunables {
  healthCheck: HealthMode;
  fsckTimeoutMs: number;
  probeAttempts: number;
  probeRetryDelayMs: number;
  /** How long NodeExpandVolume waits for the device to show the new size after a rescan. */
  resizeWaitMs: number;
}

export interface NodeContext {
  nodeId: string;
  transport: Transport;
  log: Logger;
  locks: KeyedLock;
  breakers: VolumeBreakers;
  paths: HostPaths;
  tune: NodeTunables;
}

export const mounts = (nc: NodeContext): Promise<MountEntry[]> => readMountInfo(nc.paths.mountinfoPath);

export function mountEnv(nc: NodeContext) {
  return { mountinfoPath: nc.paths.mountinfoPath, procRoot: nc.paths.procRoot, deadCode: deadPathCode };
}

/**
 * Everything that still uses a device (mounts other than `ignore`, holders, loop pins, open files).
 * `openFiles`: a scan of /proc started earlier with scanOpenFilesOf, for this same device.
 */
export function deviceUsers(
  nc: NodeContext,
  device: BlockDevice,
  opts: { ignoreMountPoints?: string[]; openFiles?: Promise<OpenFileScan> } = {},
): Promise<string[]> {
  return findDeviceUsers(
    device.name,
    { ...nc.paths, ignoreMountPoints: opts.ignoreMountPoints ?? [] },
    opts.openFiles,
  );
}

export const scanOpenFilesOf = (nc: NodeContext, deviceName: string): Promise<OpenFileScan> =>
  scanOpenFiles(deviceName, nc.paths);

/** A path from a request that this driver creates or mounts: absolute, normalised, no control characters. */
export function requestPath(value: string | undefined | null, field: string): string {
  const p = required(value, field);
  if (!isAbsolute(p)) throw invalidArgument(`${field} must be an absolute path, got ${JSON.stringify(p)}`);
  if (/[\u0000-\u001f]/.test(p) || p.length > 4096)
    throw invalidArgument(`${field} contains control characters or is too long`);
  return resolve(p);
}

/**
 * The path as mountinfo shows it: symlinks in existing components resolved (kubelet's root dir is a
 * symlink on some distributions), missing trailing components kept. Without this a symlinked staging
 * path would never match its mount and every retry would stack another mount on it.
 *
 * Metadata calls on request paths (realpath, lstat, mkdir, rmdir, unlink) are synchronous throughout the
 * node service: the paths are directories on the kubelet's own disk, or mount points whose root inode
 * the mount pins in memory, so these calls never wait on a volume's device. They take microseconds where
 * a thread-pool round trip takes ~60 µs. Reads of a volume's contents or superblock stay asynchronous.
 */
export async function canonical(path: string): Promise<string> {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(await canonical(parent), basename(path));
  }
}

/**
 * lstat (synchronous, see canonical()), or undefined when the path does not exist (missing, or a
 * component is not a directory). Any other error (EIO from a filesystem after a forced shutdown,
 * ENOTCONN from a dead FUSE mount, ESTALE) is UNAVAILABLE, never "gone": callers that must act on a
 * mount point ask the mount table first (isMountedAt), so a dead filesystem is still unmounted.
 */
export function lstatOrNone(path: string): Stats | undefined;
export function lstatOrNone(path: string, bigint: true): BigIntStats | undefined;
export function lstatOrNone(path: string, bigint = false): Stats | BigIntStats | undefined {
  try {
    return bigint ? lstatSync(path, { bigint: true }) : lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw unavailable(`cannot look at ${path}: ${(err as Error).message}`);
  }
}

/** errno codes of a path whose filesystem is dead (forced shutdown, lost FUSE daemon or NFS server). */
export const DEAD_FS_CODES = new Set(["EIO", "ENOTCONN", "ESTALE"]);

/** The errno code lstat gives for path, or undefined when it answers (or the path does not exist). */
export function deadPathCode(path: string): string | undefined {
  try {
    lstatSync(path);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && DEAD_FS_CODES.has(code) ? code : undefined;
  }
}

/** A path a volume should be found at: a path that cannot exist is NOT_FOUND, not a bad request. */
export function lookupPath(value: string | undefined | null, field: string): string {
  const p = required(value, field);
  if (!isAbsolute(p) || /[\u0000-\u001f]/.test(p))
    throw notFound(`${field} ${JSON.stringify(p)} does not exist on this node`);
  return resolve(p);
}

/**
 * Runs fn holding the volume's lock (a concurrent call on the same volume gets ABORTED: CSI wants the CO
 * to retry rather than queue), optionally through the volume's circuit breaker.
 */
export async function exclusive<T>(
  nc: NodeContext,
  volumeId: string,
  opts: { breaker: boolean },
  fn: () => Promise<T>,
): Promise<T> {
  const r = await nc.locks.tryWith([`vol:${volumeId}`], () =>
    opts.breaker ? nc.breakers.run(volumeId, fn) : fn(),
  );
  if (!r.ok) throw aborted(`an operation on volume ${volumeId} is already in progress`);
  return r.value;
}

export async function attachMetered(
  nc: NodeContext,
  target: AttachTarget,
  ctx: CallContext,
): Promise<BlockDevice> {
  const started = performance.now();
  try {
    const dev = await nc.transport.attach(target, ctx.signal);
    metrics.attachTotal.inc({ transport: nc.transport.kind, result: "ok" });
    metrics.attachDuration.observe({ transport: nc.transport.kind }, (performance.now() - started) / 1000);
    return dev;
  } catch (err) {
    metrics.attachTotal.inc({ transport: nc.transport.kind, result: "error" });
    throw err;
  }
}

export async function detachMetered(nc: NodeContext, target: AttachTarget): Promise<void> {
  const started = performance.now();
  try {
    await nc.transport.detach(target);
    metrics.detachTotal.inc({ transport: nc.transport.kind, result: "ok" });
    metrics.detachDuration.observe({ transport: nc.transport.kind }, (performance.now() - started) / 1000);
  } catch (err) {
    metrics.detachTotal.inc({ transport: nc.transport.kind, result: "error" });
    throw err;
  }
}
