// Shared fixtures for node tests: a work directory with disk images (the loop transport's "RDS"),
// a node service behind a real gRPC server, capabilities, and a clean-up that always unmounts and
// detaches whatever a test left behind under its work directory, even after a failure.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { connectCsi } from "../../src/csi/client.ts";
import type {
  VolumeCapability,
  VolumeCapability__Output,
} from "../../src/csi/generated/csi/v1/VolumeCapability.ts";
import { CsiServer } from "../../src/csi/server.ts";
import type { CallContext, IdentityService } from "../../src/csi/types.ts";
import { PublishKey } from "../../src/csi/volume-context.ts";
import { parseMountInfo } from "../../src/node/mount/mountinfo.ts";
import {
  createNodeService,
  type NodeServiceHandle,
  type NodeServiceOptions,
} from "../../src/node/node-service.ts";
import { type Logger, silentLogger } from "../../src/observability/logger.ts";

export const MiB = 1024 * 1024;

export function ctx(
  signal: AbortSignal = new AbortController().signal,
  log: Logger = silentLogger,
): CallContext {
  return { method: "test", requestId: "test", log, signal };
}

export async function makeWorkdir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `rds-node-${prefix}-`));
}

/** Sparse disk image at <root>/<rel>, like a freshly created RouterOS file disk. */
export async function createImage(root: string, rel: string, bytes: number): Promise<string> {
  const p = join(root, rel);
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, "");
  await truncate(p, bytes);
  return p;
}

export async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

export function sh(file: string, args: string[], input?: string): string {
  return execFileSync(file, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

function loopsWithBacking(): Array<{ name: string; backing: string }> {
  const out: Array<{ name: string; backing: string }> = [];
  for (const e of readdirSync("/sys/block")) {
    if (!e.startsWith("loop")) continue;
    try {
      out.push({ name: e, backing: readFileSync(`/sys/block/${e}/loop/backing_file`, "utf8").trim() });
    } catch {
      // not bound
    }
  }
  return out;
}

/** Loop devices whose backing file lives under dir (attached by the driver or by a test). */
export function loopsUnder(dir: string): string[] {
  return loopsWithBacking()
    .filter((l) => l.backing.startsWith(`${dir}/`))
    .map((l) => l.name);
}

/** A work directory whose `rds/` is the loop transport's root, and a started node service on it. */
export async function startLoopNode(
  prefix: string,
): Promise<{ dir: string; root: string; svc: NodeServiceHandle }> {
  const dir = await makeWorkdir(prefix);
  const root = join(dir, "rds");
  await mkdir(root);
  const svc = createNodeService({ nodeId: "node-a", transport: "loop", loopRoot: root });
  await svc.start();
  return { dir, root, svc };
}

/** Unmounts everything under dir (deepest first), detaches loop devices backed by files under it, removes it. */
export async function cleanupWorkdir(dir: string | undefined): Promise<void> {
  if (!dir) return;
  for (let round = 0; round < 5; round++) {
    const mounts = parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8"))
      .filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(`${dir}/`))
      .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
    if (mounts.length === 0) break;
    for (const m of mounts) {
      try {
        execFileSync("umount", [m.mountPoint], { stdio: "ignore" });
      } catch {
        // retried next round; lazily as a last resort so the suite never leaves mounts behind
        if (round === 4) execFileSync("umount", ["-l", m.mountPoint], { stdio: "ignore" });
      }
    }
  }
  for (const l of loopsWithBacking().filter((x) => x.backing.startsWith(`${dir}/`))) {
    try {
      execFileSync("losetup", ["-d", `/dev/${l.name}`], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
  await rm(dir, { recursive: true, force: true });
}

export function mountCap(
  fsType = "ext4",
  mode = "SINGLE_NODE_WRITER",
  flags: string[] = [],
): VolumeCapability {
  return {
    mount: { fs_type: fsType, mount_flags: flags },
    access_mode: { mode: mode as "SINGLE_NODE_WRITER" },
  };
}

export function blockCap(mode = "SINGLE_NODE_WRITER"): VolumeCapability {
  return { block: {}, access_mode: { mode: mode as "SINGLE_NODE_WRITER" } };
}

/** The decoded (server-side) form of a capability, for calling handlers directly. */
export function capOut(cap: VolumeCapability): VolumeCapability__Output {
  const access_mode = {
    mode: String(
      cap.access_mode?.mode ?? "UNKNOWN",
    ) as VolumeCapability__Output["access_mode"] extends infer M
      ? M extends { mode: infer X }
        ? X
        : never
      : never,
  };
  if (cap.block) return { block: {}, access_type: "block", access_mode };
  return {
    mount: {
      fs_type: cap.mount?.fs_type ?? "",
      mount_flags: cap.mount?.mount_flags ?? [],
      volume_mount_group: "",
    },
    access_type: "mount",
    access_mode,
  };
}

export function loopContext(filePath: string): Record<string, string> {
  return {
    [PublishKey.filePath]: filePath,
    [PublishKey.nqn]: `nqn.2026-01.com.mikrotik.rds-csi:${filePath.replace(/\W/g, "-")}`,
    [PublishKey.address]: "127.0.0.1",
  };
}

/** Online ext4 growth needs CAP_SYS_RESOURCE (EXT4_IOC_RESIZE_FS checks it); a privileged node plugin has it. */
export function hasCapSysResource(): boolean {
  const eff = /CapEff:\s*([0-9a-f]+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "0";
  return ((BigInt(`0x${eff}`) >> 24n) & 1n) === 1n;
}

export function isMounted(path: string): boolean {
  return parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8")).some((m) => m.mountPoint === path);
}

export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The gRPC status code or CsiError code of a rejection. */
export async function codeOf(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: number; details?: string; message?: string };
    return { code: e.code ?? -1, message: e.details ?? e.message ?? "" };
  }
  throw new Error("expected the call to fail, but it succeeded");
}

export interface NodeServer {
  node: ReturnType<typeof connectCsi>["node"];
  service: NodeServiceHandle;
  stop(): Promise<void>;
}

const identity: IdentityService = {
  GetPluginInfo: async () => ({ name: "rds.csi.test", vendor_version: "test" }),
  GetPluginCapabilities: async () => ({ capabilities: [] }),
  Probe: async () => ({}),
};

/** A node service with the loop transport behind a real CSI gRPC server on a unix socket in dir. */
export async function startNodeServer(
  dir: string,
  loopRoot: string,
  extra: Partial<NodeServiceOptions> = {},
): Promise<NodeServer> {
  const service = createNodeService({ nodeId: "node-a", transport: "loop", loopRoot, ...extra });
  await service.start();
  const server = new CsiServer({ identity, node: service }, silentLogger);
  const endpoint = await server.listen(`unix://${join(dir, "csi.sock")}`);
  const client = connectCsi(endpoint);
  return {
    node: client.node,
    service,
    async stop() {
      client.close();
      await server.shutdown(5_000);
      await service.close();
    },
  };
}
