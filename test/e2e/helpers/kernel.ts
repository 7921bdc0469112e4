// What the guest kernel says, read directly (configfs, sysfs, mountinfo, block devices): the e2e
// scenarios assert on these, not only on RPC replies.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  statSync,
} from "node:fs";
import { basename, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { devString, splitDev } from "../../../src/node/nvme/block-device.ts";

export const NVMET = "/sys/kernel/config/nvmet";
export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Runs a host tool and returns its stdout (throws with stderr on a non-zero exit). */
export function sh(
  cmd: string,
  args: string[],
  opts: { input?: Buffer | string; timeoutMs?: number } = {},
): string {
  return execFileSync(cmd, args, {
    encoding: "utf8",
    input: opts.input,
    timeout: opts.timeoutMs ?? 60_000,
    stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
}

/** Polls a kernel condition until it holds (the kernel has no event we could await from here). */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(100);
  }
}

export interface NvmetSubsystem {
  nqn: string;
  allowAnyHost: boolean;
  allowedHosts: string[];
  devicePath?: string;
  enabled: boolean;
  /** `traddr:trsvcid` of every port the subsystem is linked to. */
  ports: string[];
}

/** The target side: one nvmet subsystem as configfs has it; undefined when it does not exist. */
export function nvmetSubsystem(nqn: string): NvmetSubsystem | undefined {
  const dir = join(NVMET, "subsystems", nqn);
  if (!existsSync(dir)) return undefined;
  const ports: string[] = [];
  for (const id of list(join(NVMET, "ports")))
    if (list(join(NVMET, "ports", id, "subsystems")).includes(nqn))
      ports.push(
        `${read(join(NVMET, "ports", id, "addr_traddr"))}:${read(join(NVMET, "ports", id, "addr_trsvcid"))}`,
      );
  return {
    nqn,
    allowAnyHost: read(join(dir, "attr_allow_any_host")) === "1",
    allowedHosts: list(join(dir, "allowed_hosts")).sort(),
    devicePath: read(join(dir, "namespaces", "1", "device_path")),
    enabled: read(join(dir, "namespaces", "1", "enable")) === "1",
    ports,
  };
}

export const nvmetSubsystems = (): string[] => list(join(NVMET, "subsystems"));

/** The file behind a loop device (`/dev/loop3`), undefined when it is not attached. */
export function loopBackingFile(dev: string): string | undefined {
  return read(join("/sys/block", basename(dev), "loop", "backing_file"));
}

/** Size of a block device in bytes, from sysfs (`nvme0n1`, `/dev/loop3`). */
export function blockDeviceBytes(dev: string): number {
  const sectors = read(join("/sys/class/block", basename(dev), "size"));
  if (sectors === undefined) throw new Error(`no block device ${dev}`);
  return Number(sectors) * 512;
}

export interface HostController {
  name: string;
  nqn: string;
  state: string;
  hostNqn: string;
  address: string;
  /** Namespace block devices this controller serves (heads with multipath, plain devices without). */
  namespaces: string[];
}

/** The initiator side: NVMe controllers of a subsystem NQN (every host identity). */
export function hostControllers(nqn: string): HostController[] {
  const out: HostController[] = [];
  for (const c of list("/sys/class/nvme")) {
    const dir = join("/sys/class/nvme", c);
    if (read(join(dir, "subsysnqn")) !== nqn) continue;
    const namespaces = new Set<string>();
    for (const e of list(dir)) {
      const hidden = /^nvme(\d+)c\d+n(\d+)$/.exec(e);
      if (hidden) namespaces.add(`nvme${hidden[1]}n${hidden[2]}`);
      else if (/^nvme\d+n\d+$/.test(e)) namespaces.add(e);
    }
    out.push({
      name: c,
      nqn,
      state: read(join(dir, "state")) ?? "?",
      hostNqn: read(join(dir, "hostnqn")) ?? "",
      address: read(join(dir, "address")) ?? "",
      namespaces: [...namespaces].filter((n) => existsSync(join("/dev", n))),
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Every NVMe controller the initiator has. */
export const nvmeControllerNames = (): string[] => list("/sys/class/nvme");

export interface MountInfo {
  mountId: number;
  majorMinor: string;
  mountPoint: string;
  fsType: string;
  source: string;
  options: string;
}

export function mountAt(path: string): MountInfo | undefined {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-");
    if (sep < 0 || f[4] !== path) continue;
    return {
      mountId: Number(f[0]),
      majorMinor: f[2] ?? "",
      mountPoint: path,
      options: f[5] ?? "",
      fsType: f[sep + 1] ?? "",
      source: f[sep + 2] ?? "",
    };
  }
  return undefined;
}

/** `major:minor` of a block device node. */
export function devNumbers(path: string): string {
  const st = statSync(path, { bigint: true });
  if (!st.isBlockDevice()) throw new Error(`${path} is not a block device`);
  return devString(splitDev(st.rdev));
}

/** Kernel name of the block device with these numbers (`259:1` → `nvme0n1`). */
export function deviceName(majorMinor: string): string | undefined {
  const link = (() => {
    try {
      return readlinkSync(join("/sys/dev/block", majorMinor));
    } catch {
      return undefined;
    }
  })();
  return link ? basename(link) : undefined;
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Reads `bytes` from a block device with O_DIRECT (what the target has, not this host's page cache). */
export function sha256Device(path: string, bytes: number): string {
  const out = execFileSync(
    "dd",
    [`if=${path}`, "bs=1M", `count=${bytes / MiB}`, "iflag=direct", "status=none"],
    {
      timeout: 120_000,
      maxBuffer: bytes + MiB,
    },
  );
  return createHash("sha256").update(out).digest("hex");
}

/** Writes `data` at offset 0 of a block device with O_DIRECT and fsync. */
export function writeDevice(path: string, data: Buffer): void {
  execFileSync("dd", [`of=${path}`, "bs=1M", "oflag=direct", "conv=fsync", "status=none"], {
    input: data,
    timeout: 120_000,
  });
}

export function readHead(path: string, bytes: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(bytes);
    readSync(fd, buf, 0, bytes, 0);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** Subsystem NQNs the discovery controller on address:port offers to hostNqn (`nvme discover`). */
export function discover(address: string, port: number, hostNqn: string): string[] {
  const out = sh("nvme", [
    "discover",
    "--transport=tcp",
    `--traddr=${address}`,
    `--trsvcid=${port}`,
    `--hostnqn=${hostNqn}`,
  ]);
  return [...out.matchAll(/^subnqn:\s+(\S+)/gm)].map((m) => m[1]!).filter((n) => !n.includes("discovery"));
}

/**
 * Native NVMe multipath (nvme_core.multipath) is read-only once nvme_core is loaded. With it on (the
 * Debian default), two host identities connected to one subsystem share one namespace head device; with
 * it off, each controller has its own device, which is what two separate nodes look like. The
 * multi-node scenarios switch it off by reloading the initiator modules (nothing may be connected).
 */
export function setMultipath(on: boolean): void {
  const want = on ? "Y" : "N";
  if (read("/sys/module/nvme_core/parameters/multipath") === want) return;
  if (list("/sys/class/nvme").length)
    throw new Error("cannot reload nvme_core: NVMe controllers are connected");
  sh("modprobe", ["-r", "nvme_tcp", "nvme_fabrics", "nvme_core"]);
  sh("modprobe", ["nvme_core", `multipath=${want}`]);
  sh("modprobe", ["nvme_tcp"]);
  if (read("/sys/module/nvme_core/parameters/multipath") !== want)
    throw new Error(`nvme_core multipath is not ${want}`);
}
