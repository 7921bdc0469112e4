// mkfs for empty devices only (the caller decides that with probe.ts). Extra options come from the
// StorageClass (`mkfsOptions`); the controller validates them, and the node validates again because
// they reach a command line running as root on the host.
import { failedPrecondition, invalidArgument } from "../../csi/errors.ts";
import { run } from "../../util/exec.ts";

// Options that take a value, per tool. Anything not listed is refused: e.g. mke2fs -d (copy a host
// directory in), -l/-z (host files), -F/-S (force, superblock-only), -n (dry run); mkfs.xfs -p/-c (host
// files), -f (overwrite), -N (dry run), -r (realtime device).
const EXT_VALUE_OPTS = new Set([
  "-b",
  "-C",
  "-E",
  "-e",
  "-G",
  "-g",
  "-I",
  "-i",
  "-L",
  "-m",
  "-N",
  "-O",
  "-o",
  "-r",
  "-T",
  "-U",
]);
const EXT_FLAG_OPTS = new Set(["-j", "-q", "-v", "-D"]);
const XFS_VALUE_OPTS = new Set(["-b", "-d", "-i", "-L", "-l", "-m", "-n", "-s"]);
const XFS_FLAG_OPTS = new Set(["-K", "-q"]);
// Values: no slashes (so no paths at all), no shell or option-string metacharacters.
const VALUE_RE = /^[A-Za-z0-9_=,.:+-]{1,200}$/;
// Sub-options of mkfs.xfs -d/-l/-r that point at files or devices.
const XFS_FORBIDDEN_SUBOPTS = /(^|,)(name|file|logdev|rtdev|protofile)(=|,|$)/;

/** Splits and validates `mkfsOptions`; INVALID_ARGUMENT naming the first bad token. */
export function validateMkfsOptions(fsType: string, raw: string | undefined): string[] {
  if (!raw?.trim()) return [];
  const ext = fsType.startsWith("ext");
  const valueOpts = ext ? EXT_VALUE_OPTS : XFS_VALUE_OPTS;
  const flagOpts = ext ? EXT_FLAG_OPTS : XFS_FLAG_OPTS;
  const tokens = raw.trim().split(/\s+/);
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i] as string;
    if (flagOpts.has(tok)) {
      out.push(tok);
      continue;
    }
    if (!valueOpts.has(tok))
      throw invalidArgument(`mkfsOptions: option ${JSON.stringify(tok)} is not allowed for mkfs.${fsType}`);
    const value = tokens[++i];
    if (value === undefined || !VALUE_RE.test(value))
      throw invalidArgument(
        `mkfsOptions: option ${tok} needs a value of [A-Za-z0-9_=,.:+-], got ${JSON.stringify(value ?? "")}`,
      );
    if (!ext && XFS_FORBIDDEN_SUBOPTS.test(value))
      throw invalidArgument(`mkfsOptions: ${tok} ${value} may not name files or devices`);
    out.push(tok, value);
  }
  return out;
}

/**
 * No discard at mkfs unless the StorageClass asks for it. mkfs discards the whole device by default, and
 * an export backed by a file (RouterOS file disks; a Linux nvmet file namespace or a loop device) turns
 * discards into hole punches: the first mkfs would make a pre-allocated volume sparse, the pool's free
 * space would rise and its capacity be overcommitted. ext*: `-E nodiscard` merged into the class's own
 * -E (mke2fs takes only the last -E); a class that wants thin volumes says `-E discard`. xfs: `-K`.
 */
export function withNoDiscard(fsType: string, extra: readonly string[]): string[] {
  if (fsType === "xfs") return extra.includes("-K") ? [...extra] : ["-K", ...extra];
  const out = [...extra];
  const at = out.lastIndexOf("-E");
  if (at < 0) return ["-E", "nodiscard", ...out];
  const value = out[at + 1] ?? "";
  if (!value.split(",").some((o) => o === "discard" || o === "nodiscard")) out[at + 1] = `${value},nodiscard`;
  return out;
}

/**
 * Creates the filesystem, without discarding the device (withNoDiscard). ext4: `-m 0` — the 5 % reserved
 * for root is meant for system disks; on a volume it is space the (usually non-root) workload can never
 * use. mke2fs zeroes the journal with "write zeroes" (fallocate ZERO_RANGE on the device), which a Linux
 * nvmet block backend passes on without its no-unmap hint, so a loop-backed export punches holes there
 * too; UNIX_IO_NOZEROOUT makes mke2fs write the zeroes instead (the journal: at most 1 GiB, once). No -F: nothing here should need
 * force. xfs: no -f, so mkfs.xfs itself refuses a device that already carries a signature (a second
 * safety net behind the probe).
 */
export async function makeFilesystem(
  device: string,
  fsType: string,
  extra: string[],
  opts: {
    timeoutMs?: number;
    signal?: AbortSignal;
    /** The device opened by the caller, whose identity it checked: mkfs formats exactly that. */
    fd?: number;
  } = {},
): Promise<void> {
  // Through the caller's descriptor: mkfs opens /proc/self/fd/0, the same device even if the name
  // `device` was meanwhile reused (the open descriptor also keeps the device and its numbers alive).
  const target = opts.fd === undefined ? device : "/proc/self/fd/0";
  let file: string;
  let args: string[];
  if (fsType === "ext4" || fsType === "ext3" || fsType === "ext2") {
    file = `mkfs.${fsType}`;
    args = ["-m", "0", ...withNoDiscard(fsType, extra), target];
  } else if (fsType === "xfs") {
    file = "mkfs.xfs";
    args = [...withNoDiscard(fsType, extra), target];
  } else {
    throw invalidArgument(`cannot create a ${fsType} filesystem`);
  }
  const r = await run(file, args, {
    ...(file.startsWith("mkfs.ext") ? { env: { ...process.env, LC_ALL: "C", UNIX_IO_NOZEROOUT: "1" } } : {}),
    timeoutMs: opts.timeoutMs ?? 10 * 60_000,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.fd === undefined ? {} : { stdinFd: opts.fd }),
  });
  if (r.code !== 0)
    throw failedPrecondition(
      `${file} ${device} failed (exit status ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`,
    );
}
