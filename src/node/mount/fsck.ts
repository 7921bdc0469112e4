// Health check of an existing filesystem before it is mounted. Nothing here writes to the device:
// e2fsck -n and xfs_repair -n answer "no" to every repair.
//
// Modes:
//  - fast (default): what the filesystem says about itself, read from its superblock in one small read —
//    ext2/3/4: the journal's needs_recovery flag, the state (ERROR set by the kernel after an I/O or
//    metadata error; VALID cleared by an unclean unmount without a journal) and the error count. Recorded
//    errors refuse the mount; an unclean state without a journal gets `e2fsck -n` (without -f); a clean
//    one mounts. xfs has no such flag: its log recovery at mount is the check. A full check reads all
//    metadata (minutes for a multi-TB volume), which overran kubelet's deadline at every NodeStage.
//  - full: a complete read-only check (`e2fsck -f -n`, `xfs_repair -n`) at every stage.
//  - off: none.
// Every checker ends with the RPC (its signal) or at the timeout, whichever comes first.
//
// The trap (prior driver, §4): after an unclean shutdown a journaling filesystem needs its log replayed,
// and a read-only checker that cannot replay reports the unreplayed state as corruption. The kernel
// replays the log at mount, so such a filesystem is NOT refused:
//  - ext2/3/4: the superblock's needs_recovery flag (superblock.ts; what `dumpe2fs -h` would list) →
//    skip e2fsck, mount replays the journal.
//  - xfs: `xfs_repair -n` itself says the log holds "valuable metadata changes ... being ignored"; its
//    verdict is then unreliable, so the filesystem is mounted (and replayed) instead of refused.
// Real corruption → "corrupt" with the checker's summary; the caller refuses to mount.
import { run } from "../../util/exec.ts";
import { isExt, readExtSuperblock } from "./superblock.ts";

export type HealthMode = "fast" | "full" | "off";

export const HEALTH_MODES: readonly HealthMode[] = ["fast", "full", "off"];

export type HealthResult =
  /** fsBytes: the size its superblock records, when the check read it (saves reading it again). */
  | { kind: "healthy"; detail: string; fsBytes?: number }
  | { kind: "needs-replay"; detail: string }
  | { kind: "corrupt"; summary: string }
  | { kind: "unknown"; reason: string };

export interface HealthOptions {
  mode: HealthMode;
  timeoutMs: number;
  /** The RPC's signal: a cancelled or expired call ends the checker. */
  signal?: AbortSignal;
}

const withSignal = (o: HealthOptions) => ({
  timeoutMs: o.timeoutMs,
  ...(o.signal ? { signal: o.signal } : {}),
});

/** An aborted RPC is not a verdict about the filesystem: rethrow instead of reporting "unknown". */
function rethrowAbort(e: Error, signal?: AbortSignal): Error {
  if (signal?.aborted || e.name === "AbortError") throw e;
  return e;
}

function summary(text: string, lines = 12): string {
  const kept = text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() && !/^Phase \d|^\s+- |^Pass \d/.test(l));
  return kept.slice(-lines).join(" | ").slice(0, 1500);
}

async function checkExt(device: string, opts: HealthOptions): Promise<HealthResult> {
  const sb = await readExtSuperblock(
    device,
    withSignal({ ...opts, timeoutMs: Math.min(opts.timeoutMs, 30_000) }),
  ).catch((e: Error) => rethrowAbort(e, opts.signal));
  if (sb instanceof Error) return { kind: "unknown", reason: `cannot read the superblock: ${sb.message}` };
  if (!sb) return { kind: "unknown", reason: "no ext2/3/4 superblock magic at byte 1024" };
  if (sb.needsRecovery)
    return { kind: "needs-replay", detail: "ext4 journal needs recovery; the kernel replays it at mount" };
  if (opts.mode === "fast") {
    if (sb.errorFlag || sb.errorCount > 0)
      return {
        kind: "corrupt",
        summary: `the superblock records errors (state ${sb.errorFlag ? "ERROR" : "clean"}, ${sb.errorCount} error(s) seen by the kernel)`,
      };
    if (sb.cleanState)
      return { kind: "healthy", detail: "superblock clean, no recorded errors", fsBytes: sb.bytes };
  }
  // full mode, or fast mode on a filesystem without a journal that was not unmounted cleanly.
  const args = opts.mode === "full" ? ["-f", "-n", device] : ["-n", device];
  const r = await run("e2fsck", args, withSignal(opts)).catch((e: Error) => rethrowAbort(e, opts.signal));
  if (r instanceof Error) return { kind: "unknown", reason: `e2fsck did not finish: ${r.message}` };
  const out = `${r.stdout}\n${r.stderr}`;
  // e2fsck exit bits: 1 corrected, 2 reboot, 4 left uncorrected, 8 operational error, 16 usage, 32 cancelled, 128 library.
  const code = r.code ?? 255;
  if (code === 0) return { kind: "healthy", detail: summary(out, 2), fsBytes: sb.bytes };
  if (code & (8 | 16 | 32 | 128))
    return { kind: "unknown", reason: `e2fsck -n exit status ${code}: ${summary(out, 4)}` };
  if (code & 4) return { kind: "corrupt", summary: summary(out) };
  return { kind: "healthy", detail: `e2fsck -n exit status ${code}: ${summary(out, 2)}`, fsBytes: sb.bytes };
}

const XFS_DIRTY_LOG = /valuable metadata changes in a log/i;

async function checkXfs(device: string, opts: HealthOptions): Promise<HealthResult> {
  // XFS has no "clean" flag to look at cheaply; in fast mode the mount's own log recovery is the check.
  if (opts.mode === "fast") return { kind: "healthy", detail: "xfs: log recovery at mount (fast mode)" };
  const r = await run("xfs_repair", ["-n", device], withSignal(opts)).catch((e: Error) =>
    rethrowAbort(e, opts.signal),
  );
  if (r instanceof Error) return { kind: "unknown", reason: `xfs_repair did not finish: ${r.message}` };
  const out = `${r.stdout}\n${r.stderr}`;
  if (XFS_DIRTY_LOG.test(out))
    return { kind: "needs-replay", detail: "xfs log is dirty; the kernel replays it at mount" };
  if (r.code === 0) return { kind: "healthy", detail: "xfs_repair -n found no problems" };
  if (r.code === 1 && /would|bad|corrupt|disconnected|invalid|error/i.test(out))
    return { kind: "corrupt", summary: summary(out) };
  return { kind: "unknown", reason: `xfs_repair -n exit status ${r.code ?? r.signal}: ${summary(out, 4)}` };
}

export async function checkFilesystem(
  device: string,
  fsType: string,
  opts: HealthOptions,
): Promise<HealthResult> {
  if (opts.mode === "off") return { kind: "healthy", detail: "health check disabled" };
  if (isExt(fsType)) return checkExt(device, opts);
  if (fsType === "xfs") return checkXfs(device, opts);
  return { kind: "healthy", detail: `no read-only checker for ${fsType}` };
}
