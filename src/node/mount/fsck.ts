// Read-only health check of an existing filesystem before it is mounted. Nothing here writes to the
// device: e2fsck -n and xfs_repair -n answer "no" to every repair.
//
// The trap (prior driver, §4): after an unclean shutdown a journaling filesystem needs its log replayed,
// and a read-only checker that cannot replay reports the unreplayed state as corruption. The kernel
// replays the log at mount, so such a filesystem is NOT refused:
//  - ext2/3/4: the superblock's needs_recovery flag (superblock.ts; what `dumpe2fs -h` would list) →
//    skip e2fsck, mount replays the journal.
//  - xfs: `xfs_repair -n` itself says the log holds "valuable metadata changes ... being ignored"; its
//    verdict is then unreliable, so the filesystem is mounted (and replayed) instead of refused.
// Real corruption → "corrupt" with the checker's summary; the caller refuses to mount.
// Cost: e2fsck -f -n reads all metadata (seconds for typical volumes, minutes for multi-TB ones with
// millions of inodes); xfs_repair -n also needs memory in proportion to the metadata. Mode "flagged"
// checks ext* only when the superblock says it is unclean and skips xfs_repair.
import { run } from "../../util/exec.ts";
import { isExt, readExtSuperblock } from "./superblock.ts";

export type HealthMode = "full" | "flagged" | "off";

export type HealthResult =
  /** fsBytes: the size its superblock records, when the check read it (saves reading it again). */
  | { kind: "healthy"; detail: string; fsBytes?: number }
  | { kind: "needs-replay"; detail: string }
  | { kind: "corrupt"; summary: string }
  | { kind: "unknown"; reason: string };

export interface HealthOptions {
  /** full: force a complete read-only check; flagged: only when the filesystem says it is unclean. */
  mode: HealthMode;
  timeoutMs: number;
}

function summary(text: string, lines = 12): string {
  const kept = text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() && !/^Phase \d|^\s+- |^Pass \d/.test(l));
  return kept.slice(-lines).join(" | ").slice(0, 1500);
}

async function checkExt(device: string, opts: HealthOptions): Promise<HealthResult> {
  const sb = await readExtSuperblock(device).catch((e: Error) => e);
  if (sb instanceof Error) return { kind: "unknown", reason: `cannot read the superblock: ${sb.message}` };
  if (!sb) return { kind: "unknown", reason: "no ext2/3/4 superblock magic at byte 1024" };
  if (sb.needsRecovery)
    return { kind: "needs-replay", detail: "ext4 journal needs recovery; the kernel replays it at mount" };
  const args = opts.mode === "full" ? ["-f", "-n", device] : ["-n", device];
  const r = await run("e2fsck", args, { timeoutMs: opts.timeoutMs }).catch((e: Error) => e);
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
  // XFS has no "clean" flag to look at cheaply; in flagged mode the mount's own log recovery is the check.
  if (opts.mode === "flagged") return { kind: "healthy", detail: "xfs: no read-only check in flagged mode" };
  const r = await run("xfs_repair", ["-n", device], { timeoutMs: opts.timeoutMs }).catch((e: Error) => e);
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
