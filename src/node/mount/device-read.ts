// Reads of a volume's block device, and of anything that may sit on it, never run on libuv's thread
// pool. A read of a device whose target is gone (an NVMe controller reconnecting with I/O queued, a
// suspended device-mapper table) blocks its thread in the kernel; the pool has four threads, and every
// asynchronous `fs` call of every RPC of the node (statfs for kubelet's stats, the state file's fsync)
// waits behind four such reads. So each read here is a small process started through the exec helpers
// (util/exec.ts), with a deadline and the RPC's cancellation: a process stuck in the kernel blocks
// nothing but itself, and is abandoned at its deadline.
//  - zero checks: `cmp` against /dev/zero over a byte range (it reports the first differing byte);
//  - a few bytes (superblocks): `od` as hex;
//  - statfs of a mount point: `stat -f`.
import { run } from "../../util/exec.ts";

export interface DeviceReadOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 30_000;

const execOpts = (o: DeviceReadOptions) => ({
  timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  ...(o.signal ? { signal: o.signal } : {}),
});

/**
 * Offset of the first non-zero byte in [start, start+length) of the device, or -1 when all are zero.
 * Throws when the range cannot be read (short device, I/O error, deadline).
 */
export async function firstNonZeroIn(
  device: string,
  start: number,
  length: number,
  o: DeviceReadOptions = {},
): Promise<number> {
  if (length <= 0) return -1;
  const r = await run("cmp", [`--ignore-initial=${start}:0`, `--bytes=${length}`, device, "/dev/zero"], {
    ...execOpts(o),
  });
  if (r.code === 0) return -1;
  // "<device> /dev/zero differ: byte N, line L" (N counts from 1 after the skipped bytes).
  const m = /differ: (?:byte|char) (\d+)/.exec(r.stdout);
  if (r.code === 1 && m) return start + Number(m[1]) - 1;
  // exit 1 with "EOF on <device>": the device ended inside the range.
  throw new Error(
    `cannot read ${device} at ${start}+${length}: ${(r.stderr || r.stdout).trim().slice(0, 300) || `exit status ${r.code}`}`,
  );
}

/** `length` bytes at `offset` (fewer at the end of the device). Throws when unreadable. */
export async function readDeviceBytes(
  device: string,
  offset: number,
  length: number,
  o: DeviceReadOptions = {},
): Promise<Buffer> {
  const r = await run(
    "od",
    ["-A", "n", "-v", "-t", "x1", "-j", String(offset), "-N", String(length), device],
    {
      ...execOpts(o),
    },
  );
  if (r.code !== 0)
    throw new Error(
      `cannot read ${device} at ${offset}+${length}: ${r.stderr.trim().slice(0, 300) || `exit status ${r.code}`}`,
    );
  return Buffer.from(r.stdout.replace(/\s+/g, ""), "hex");
}

export interface FsUsage {
  totalBytes: number;
  availableBytes: number;
  usedBytes: number;
  totalInodes: number;
  freeInodes: number;
  usedInodes: number;
}

/** statfs(2) of a mount point, through `stat -f` (a dead device under it blocks only that process). */
export async function filesystemUsage(path: string, o: DeviceReadOptions = {}): Promise<FsUsage> {
  // %S fundamental block size (f_frsize, what df counts in), %b blocks, %f free, %a available to
  // non-root, %c inodes, %d free inodes.
  const r = await run("stat", ["-f", "--printf", "%S %b %f %a %c %d\\n", "--", path], {
    ...execOpts({ timeoutMs: 10_000, ...o }),
  });
  const n = r.stdout.trim().split(/\s+/).map(Number);
  if (r.code !== 0 || n.length !== 6 || n.some((x) => !Number.isFinite(x)))
    throw new Error(
      r.stderr
        .trim()
        .replace(/^stat: /, "")
        .slice(0, 300) || `stat -f exit status ${r.code}`,
    );
  const [bsize, blocks, bfree, bavail, files, ffree] = n as [number, number, number, number, number, number];
  return {
    totalBytes: blocks * bsize,
    availableBytes: bavail * bsize,
    usedBytes: (blocks - bfree) * bsize,
    totalInodes: files,
    freeInodes: ffree,
    usedInodes: files - ffree,
  };
}
