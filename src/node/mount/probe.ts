// "Does this device already hold a filesystem?" The answer decides whether mkfs runs, so a wrong
// "empty" destroys data. Rules:
//  - `blkid -p` (low-level probe, no cache) exit 0 with TYPE → formatted; with only PTTYPE → partitioned.
//  - exit 2 ("nothing found") is NOT trusted alone: blkid also exits 2 when it cannot open or read the
//    device (checked: an unbound loop device, a missing path), which is how the prior driver came close
//    to formatting a device that had just vanished. So the device is then read directly: its size must
//    be non-zero and the first 4 MiB and the last 1 MiB must read back without error. All zeros → empty.
//    Readable but not zero → "data": something blkid does not recognise (encrypted, raw VM image,
//    another tool's format) and it is never formatted either.
//  - anything else (exit 4, 8 = ambivalent/several signatures, a timeout, a read error) → unknown, retried
//    a few times, and never formatted.
import { run } from "../../util/exec.ts";
import { sleep } from "../../util/sleep.ts";
import { firstNonZeroIn } from "./device-read.ts";

export type ProbeResult =
  | { kind: "formatted"; fsType: string; uuid?: string }
  | { kind: "partitioned"; table: string }
  | { kind: "empty" }
  | { kind: "data"; offset: number }
  | { kind: "unknown"; reason: string };

export interface ProbeOptions {
  sizeBytes: number;
  attempts?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const HEAD_BYTES = 4 * 1024 * 1024;
const TAIL_BYTES = 1024 * 1024;

export function parseBlkidExport(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/**
 * Reads the head and tail of the device (device-read.ts: a process with a deadline, never libuv's pool);
 * returns the offset of the first non-zero byte, -1 if all zero. Throws when a range cannot be read.
 */
export async function firstNonZero(
  path: string,
  sizeBytes: number,
  o: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const head = await firstNonZeroIn(path, 0, Math.min(HEAD_BYTES, sizeBytes), o);
  if (head >= 0 || sizeBytes <= HEAD_BYTES) return head;
  const tailStart = Math.max(HEAD_BYTES, sizeBytes - TAIL_BYTES);
  return firstNonZeroIn(path, tailStart, sizeBytes - tailStart, o);
}

async function probeOnce(device: string, opts: ProbeOptions): Promise<ProbeResult> {
  let r: Awaited<ReturnType<typeof run>>;
  try {
    r = await run("blkid", ["-p", "-o", "export", device], {
      timeoutMs: opts.timeoutMs ?? 30_000,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    return { kind: "unknown", reason: `blkid did not finish: ${(err as Error).message}` };
  }
  if (r.code === 0) {
    const tags = parseBlkidExport(r.stdout);
    if (tags.TYPE) return { kind: "formatted", fsType: tags.TYPE, ...(tags.UUID ? { uuid: tags.UUID } : {}) };
    if (tags.PTTYPE) return { kind: "partitioned", table: tags.PTTYPE };
    return {
      kind: "unknown",
      reason: `blkid found a signature without a type: ${r.stdout.trim().replace(/\n/g, " ")}`,
    };
  }
  if (r.code === 2) {
    if (!(opts.sizeBytes > 0))
      return { kind: "unknown", reason: "the device reports size 0 (no medium, or it went away)" };
    try {
      const at = await firstNonZero(device, opts.sizeBytes, {
        timeoutMs: opts.timeoutMs ?? 30_000,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return at < 0 ? { kind: "empty" } : { kind: "data", offset: at };
    } catch (err) {
      return {
        kind: "unknown",
        reason: `blkid found nothing but the device cannot be read: ${(err as Error).message}`,
      };
    }
  }
  const why =
    r.code === 8 ? "several signatures (ambivalent probe result)" : `exit status ${r.code ?? r.signal}`;
  return {
    kind: "unknown",
    reason: `blkid -p ${device}: ${why}${r.stderr.trim() ? `: ${r.stderr.trim().slice(0, 300)}` : ""}`,
  };
}

export async function probeDevice(device: string, opts: ProbeOptions): Promise<ProbeResult> {
  const attempts = opts.attempts ?? 3;
  let last: ProbeResult = { kind: "unknown", reason: "not probed" };
  for (let i = 0; i < attempts; i++) {
    last = await probeOnce(device, opts);
    if (last.kind !== "unknown") return last;
    if (i + 1 < attempts) await sleep(opts.retryDelayMs ?? 1000, opts.signal);
  }
  return last;
}
