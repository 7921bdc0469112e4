// The node must never lose data and never wedge: corrupt filesystems are refused and left byte for byte
// as they were, filesystems that only need their journal/log replayed are mounted, devices whose contents
// cannot be established are never formatted, crashes between steps are recovered, the per-volume
// circuit breaker fails fast and recovers, and concurrent calls on one volume get ABORTED.
// Real loop devices, mkfs, e2fsck/xfs_repair and mount; handlers are called directly.

import { spawn, spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code } from "../../src/csi/errors.ts";
import type { NodeStageVolumeRequest__Output } from "../../src/csi/generated/csi/v1/NodeStageVolumeRequest.ts";
import type { BreakerEvent } from "../../src/node/breaker.ts";
import { readExtSuperblock } from "../../src/node/mount/superblock.ts";
import { createNodeService, type NodeServiceHandle } from "../../src/node/node-service.ts";
import { LoopTransport } from "../../src/node/nvme/loop.ts";
import type { Transport } from "../../src/node/nvme/transport.ts";
import { STATE_FILE, writeStageState } from "../../src/node/stage-state.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import {
  blockCap,
  capOut,
  cleanupWorkdir,
  codeOf,
  createImage,
  ctx,
  isMounted,
  loopContext,
  loopsUnder,
  MiB,
  makeWorkdir,
  mountCap,
  sh,
  sha256,
} from "./helpers.ts";

let dir: string;
let root: string;
let svc: NodeServiceHandle;

beforeEach(async () => {
  dir = await makeWorkdir("safety");
  root = join(dir, "rds");
  await mkdir(root);
  svc = createNodeService({
    nodeId: "node-a",
    transport: "loop",
    loopRoot: root,
    probeRetryDelayMs: 50,
    breaker: { resetTimeoutMs: 1000 },
    // The full read-only check: these tests corrupt metadata (a wiped inode) that only it can see; the
    // default fast check is covered by health-check.test.ts.
    healthCheck: "full",
  });
  await svc.start();
});

afterEach(async () => {
  await svc?.close();
  await cleanupWorkdir(dir);
});

function stageReq(
  id: string,
  file: string,
  fsType = "ext4",
  cap = mountCap(fsType),
): NodeStageVolumeRequest__Output {
  return {
    volume_id: id,
    staging_target_path: join(dir, "staging", id),
    publish_context: loopContext(file),
    volume_capability: capOut(cap),
    secrets: {},
    volume_context: {},
  };
}

/** Formats an image and writes files into it through a temporary loop mount, like a workload would. */
async function imageWithFiles(
  file: string,
  fsType: string,
  bytes: number,
  files: Record<string, string>,
  opts: { crashCopyTo?: string } = {},
): Promise<string> {
  const path = await createImage(root, file, bytes);
  sh(`mkfs.${fsType}`, fsType === "xfs" ? ["-q", path] : ["-q", "-m", "0", path]);
  const loop = sh("losetup", ["-f", "--show", path]).trim();
  const mnt = join(dir, "tmp-mnt");
  await mkdir(mnt, { recursive: true });
  try {
    sh("mount", [loop, mnt]);
    try {
      for (const [name, content] of Object.entries(files)) await writeFile(join(mnt, name), content);
      if (opts.crashCopyTo) {
        // syncfs commits the journal/log but does not checkpoint it: a copy taken now is what the disk
        // looks like after a power cut, with metadata only in the journal.
        sh("sync", ["-f", join(mnt, Object.keys(files)[0] ?? ".")]);
        sh("cp", ["--sparse=always", path, join(root, opts.crashCopyTo)]);
      }
    } finally {
      sh("umount", [mnt]);
    }
  } finally {
    sh("losetup", ["-d", loop]);
  }
  return path;
}

describe("existing filesystems", () => {
  it("refuses a corrupted ext4 with FAILED_PRECONDITION and leaves it byte for byte untouched", async () => {
    const path = await imageWithFiles("pool/corrupt.img", "ext4", 64 * MiB, { "a.txt": "a", "b.txt": "b" });
    sh("debugfs", ["-w", "-R", "clri <12>", path]); // wipe an in-use inode: a directory entry now points at nothing
    const before = await sha256(path);
    const req = stageReq("corrupt", "pool/corrupt.img");
    const r = await codeOf(svc.NodeStageVolume(req, ctx()));
    expect(r.code).toBe(Code.FAILED_PRECONDITION);
    expect(r.message).toMatch(/failed the read-only check/);
    expect(r.message).toMatch(/deleted\/unused inode|still has errors/);
    expect(await sha256(path)).toBe(before);
    expect(isMounted(req.staging_target_path)).toBe(false);
    expect(loopsUnder(root)).toEqual([]); // the attach was rolled back
  });

  it("mounts an ext4 whose journal needs recovery (not corrupt) and the kernel replays it", async () => {
    await imageWithFiles(
      "pool/orig.img",
      "ext4",
      64 * MiB,
      { "journaled.txt": "in the journal" },
      { crashCopyTo: "pool/crashed.img" },
    );
    const crashed = join(root, "pool/crashed.img");
    expect(sh("dumpe2fs", ["-h", crashed])).toMatch(/Filesystem features:.*needs_recovery/);
    expect((await readExtSuperblock(crashed))?.needsRecovery).toBe(true); // the driver reads what dumpe2fs shows
    const req = stageReq("crashed", "pool/crashed.img");
    await svc.NodeStageVolume(req, ctx());
    expect(await readFile(join(req.staging_target_path, "journaled.txt"), "utf8")).toBe("in the journal");
    await svc.NodeUnstageVolume(
      { volume_id: "crashed", staging_target_path: req.staging_target_path },
      ctx(),
    );
    expect(sh("dumpe2fs", ["-h", crashed])).not.toMatch(/needs_recovery/);
    expect((await readExtSuperblock(crashed))?.needsRecovery).toBe(false);
    expect(sh("e2fsck", ["-f", "-n", crashed])).toMatch(/clean|files/);
  });

  it("mounts an xfs with a dirty log (not corrupt) and the kernel replays it", async () => {
    await imageWithFiles(
      "pool/xorig.img",
      "xfs",
      320 * MiB,
      { "logged.txt": "in the log" },
      { crashCopyTo: "pool/xcrashed.img" },
    );
    const crashed = join(root, "pool/xcrashed.img");
    const dryRun = spawnSync("xfs_repair", ["-n", crashed], { encoding: "utf8" });
    expect(`${dryRun.stdout}${dryRun.stderr}`).toMatch(/valuable metadata changes in a log/);
    const req = stageReq("xcrashed", "pool/xcrashed.img", "xfs");
    await svc.NodeStageVolume(req, ctx());
    expect(await readFile(join(req.staging_target_path, "logged.txt"), "utf8")).toBe("in the log");
    await svc.NodeUnstageVolume(
      { volume_id: "xcrashed", staging_target_path: req.staging_target_path },
      ctx(),
    );
    expect(spawnSync("xfs_repair", ["-n", crashed]).status).toBe(0);
  }, 30_000);

  it("refuses to reformat a filesystem of another type", async () => {
    const path = await imageWithFiles("pool/isxfs.img", "xfs", 320 * MiB, { keep: "me" });
    const before = await sha256(path);
    const r = await codeOf(svc.NodeStageVolume(stageReq("isxfs", "pool/isxfs.img", "ext4"), ctx()));
    expect(r.code).toBe(Code.FAILED_PRECONDITION);
    expect(r.message).toMatch(/already holds a xfs filesystem but ext4 was requested/);
    expect(await sha256(path)).toBe(before);
  }, 30_000);
});

describe("devices whose contents are unknown are never formatted", () => {
  it("several signatures (blkid ambivalent) → UNAVAILABLE, untouched", async () => {
    const path = await createImage(root, "pool/ambivalent.img", 320 * MiB);
    sh("mkfs.xfs", ["-q", path]);
    const ext = await createImage(dir, "ext-donor.img", 64 * MiB);
    sh("mkfs.ext4", ["-q", ext]);
    sh("dd", [
      `if=${ext}`,
      `of=${path}`,
      "bs=1024",
      "skip=1",
      "seek=1",
      "count=1",
      "conv=notrunc",
      "status=none",
    ]);
    expect(spawnSync("blkid", ["-p", path]).status).toBe(8);
    const before = await sha256(path);
    const r = await codeOf(svc.NodeStageVolume(stageReq("amb", "pool/ambivalent.img", "xfs"), ctx()));
    expect(r.code).toBe(Code.UNAVAILABLE);
    expect(r.message).toMatch(/ambivalent.*never formatted/);
    expect(await sha256(path)).toBe(before);
  }, 30_000);

  it("no signature but non-zero data → FAILED_PRECONDITION, untouched", async () => {
    const path = await createImage(root, "pool/raw.img", 64 * MiB);
    const fh = await open(path, "r+");
    await fh.write(
      Buffer.from("an encrypted or raw VM disk, not a filesystem blkid knows"),
      0,
      undefined,
      3 * MiB,
    );
    await fh.close();
    const before = await sha256(path);
    const r = await codeOf(svc.NodeStageVolume(stageReq("raw", "pool/raw.img"), ctx()));
    expect(r.code).toBe(Code.FAILED_PRECONDITION);
    expect(r.message).toMatch(/not empty .*offset 3145728.*refusing to format/);
    expect(await sha256(path)).toBe(before);
    expect(loopsUnder(root)).toEqual([]);
  });

  it("a device that cannot be read (blkid exits 2 on it too) → UNAVAILABLE, never formatted", async () => {
    // The transport hands out a device whose node no longer serves anything: reading it fails with
    // ENXIO, exactly what blkid also reports as "nothing found" (exit 2). Major 240 has no driver.
    const dead = join(dir, "dead-node");
    sh("mknod", [dead, "b", "240", "0"]);
    expect(spawnSync("blkid", ["-p", dead]).status).toBe(2);
    const real = new LoopTransport({ loopRoot: root, sysfsRoot: "/sys", devRoot: "/dev", log: silentLogger });
    const vanishing: Transport = Object.assign(Object.create(real) as Transport, {
      attach: async (t: Parameters<Transport["attach"]>[0], s: AbortSignal) => ({
        ...(await real.attach(t, s)),
        path: dead,
      }),
    });
    const s2 = createNodeService({
      nodeId: "node-a",
      transport: "loop",
      loopRoot: root,
      transportImpl: vanishing,
      probeRetryDelayMs: 10,
    });
    try {
      const path = await createImage(root, "pool/vanish.img", 64 * MiB);
      const r = await codeOf(s2.NodeStageVolume(stageReq("vanish", "pool/vanish.img"), ctx()));
      expect(r.code).toBe(Code.UNAVAILABLE);
      expect(r.message).toMatch(/cannot be read.*never formatted/);
      expect(spawnSync("blkid", ["-p", path]).status).toBe(2); // still no filesystem on the real disk
    } finally {
      await s2.close();
    }
  });
});

describe("crash recovery", () => {
  it("formats again over the remains of its own interrupted mkfs (recorded in the state file), and only then", async () => {
    const path = await createImage(root, "pool/half.img", 64 * MiB);
    const fh = await open(path, "r+");
    await fh.write(Buffer.alloc(64 * 1024, 0xab), 0, undefined, 0); // partial metadata, no superblock yet
    await fh.close();
    const req = stageReq("half", "pool/half.img");
    await mkdir(req.staging_target_path, { recursive: true });
    await writeStageState(req.staging_target_path, {
      volumeId: "half",
      accessType: "mount",
      target: { kind: "loop", filePath: "pool/half.img" },
      fsType: "ext4",
      formatting: true,
      publishedTargets: [],
    });
    await svc.NodeStageVolume(req, ctx());
    expect(isMounted(req.staging_target_path)).toBe(true);
    expect(sh("blkid", ["-p", "-o", "value", "-s", "TYPE", path]).trim()).toBe("ext4");
    await svc.NodeUnstageVolume({ volume_id: "half", staging_target_path: req.staging_target_path }, ctx());
  });

  it("reuses a device attached before a crash instead of attaching twice", async () => {
    const path = await createImage(root, "pool/pre.img", 64 * MiB);
    const loop = sh("losetup", ["-f", "--show", path]).trim();
    const req = stageReq("pre", "pool/pre.img");
    await svc.NodeStageVolume(req, ctx());
    expect(loopsUnder(root)).toEqual([loop.replace("/dev/", "")]);
    await svc.NodeUnstageVolume({ volume_id: "pre", staging_target_path: req.staging_target_path }, ctx());
    expect(loopsUnder(root)).toEqual([]);
  });

  it("treats a state file torn by a power loss (empty or zero-filled) as no record, and any other damage as an error", async () => {
    const path = await createImage(root, "pool/torn.img", 64 * MiB);
    const req = stageReq("torn", "pool/torn.img");
    await mkdir(req.staging_target_path, { recursive: true });
    const file = join(req.staging_target_path, STATE_FILE);
    for (const torn of ["", "\0".repeat(300)]) {
      await writeFile(file, torn);
      await svc.NodeStageVolume(req, ctx());
      expect(isMounted(req.staging_target_path)).toBe(true);
      await svc.NodeUnstageVolume({ volume_id: "torn", staging_target_path: req.staging_target_path }, ctx());
      expect(loopsUnder(root)).toEqual([]);
    }
    await writeFile(file, '{"version":1,"volumeId":"torn","acc');
    const r = await codeOf(svc.NodeStageVolume(req, ctx()));
    expect(r.code).toBe(Code.FAILED_PRECONDITION);
    expect(r.message).toMatch(/not a valid rds-csi state file/);
    expect(loopsUnder(root)).toEqual([]);
    expect(spawnSync("blkid", ["-p", path]).status).toBe(0); // formatted by the first stage, left alone since
  });

  it("unstages a mount that has no state file by asking the transport whose device it is", async () => {
    const req = stageReq("nostate", "pool/nostate.img");
    await createImage(root, "pool/nostate.img", 64 * MiB);
    await svc.NodeStageVolume(req, ctx());
    const loop = `/dev/${loopsUnder(root)[0]}`;
    // As an older driver would have left it: mounted, no state file underneath.
    sh("umount", [req.staging_target_path]);
    await rm(join(req.staging_target_path, STATE_FILE));
    sh("mount", [loop, req.staging_target_path]);
    await svc.NodeUnstageVolume(
      { volume_id: "nostate", staging_target_path: req.staging_target_path },
      ctx(),
    );
    expect(isMounted(req.staging_target_path)).toBe(false);
    expect(loopsUnder(root)).toEqual([]);
  });

  it("refuses to detach a device that a process still has open", async () => {
    const req = stageReq("busy", "pool/busy.img", "", blockCap());
    await createImage(root, "pool/busy.img", 16 * MiB);
    await svc.NodeStageVolume(req, ctx());
    const dev = `/dev/${loopsUnder(root)[0]}`;
    // A process (think: qemu of a VM) holding the device open; our own copy of the fd is closed.
    const fd = openSync(dev, "r");
    const holder = spawn("sleep", ["30"], { stdio: [fd, "ignore", "ignore"] });
    closeSync(fd);
    try {
      const r = await codeOf(
        svc.NodeUnstageVolume({ volume_id: "busy", staging_target_path: req.staging_target_path }, ctx()),
      );
      expect(r.code).toBe(Code.FAILED_PRECONDITION);
      expect(r.message).toMatch(new RegExp(`process ${holder.pid} \\(sleep\\) has it open`));
      expect(loopsUnder(root)).toHaveLength(1);
    } finally {
      holder.kill("SIGKILL");
      await new Promise((r) =>
        holder.exitCode !== null || holder.signalCode !== null ? r(null) : holder.once("exit", r),
      );
    }
    await svc.NodeUnstageVolume({ volume_id: "busy", staging_target_path: req.staging_target_path }, ctx());
    expect(loopsUnder(root)).toEqual([]);
  });
});

describe("circuit breaker and concurrency", () => {
  const waitFor = (state: BreakerEvent["state"], volumeId: string) =>
    new Promise<void>((resolve) => {
      const on = (e: BreakerEvent) => {
        if (e.volumeId === volumeId && e.state === state) {
          svc.breakers.events.off("state", on);
          resolve();
        }
      };
      svc.breakers.events.on("state", on);
    });

  it("opens after repeated failures, fails fast with UNAVAILABLE naming the cause, and recovers after the cool-down", async () => {
    const path = await imageWithFiles("pool/flaky.img", "ext4", 64 * MiB, { x: "y" });
    sh("debugfs", ["-w", "-R", "clri <12>", path]);
    const req = stageReq("flaky", "pool/flaky.img");
    for (let i = 0; i < 3; i++)
      expect((await codeOf(svc.NodeStageVolume(req, ctx()))).code).toBe(Code.FAILED_PRECONDITION);
    expect(svc.breakerState("flaky")).toBe("open");
    const fast = await codeOf(svc.NodeStageVolume(req, ctx()));
    expect(fast.code).toBe(Code.UNAVAILABLE);
    expect(fast.message).toMatch(
      /circuit breaker open after 3 failed attempts.*last error: .*failed the read-only check.*next attempt allowed at/,
    );

    // The operator repairs the filesystem; after the cool-down one trial call goes through and succeeds.
    const halfOpen = waitFor("halfOpen", "flaky");
    expect(spawnSync("e2fsck", ["-f", "-y", path]).status).toBe(1); // 1 = errors corrected
    await halfOpen;
    await svc.NodeStageVolume(req, ctx());
    expect(svc.breakerState("flaky")).toBe("closed");
    await svc.NodeUnstageVolume({ volume_id: "flaky", staging_target_path: req.staging_target_path }, ctx());
    expect(svc.breakerState("flaky")).toBeUndefined(); // dropped with the volume: no leak
  });

  it("does not count business errors (NOT_FOUND, INVALID_ARGUMENT)", async () => {
    const req = stageReq("missing", "pool/missing.img");
    for (let i = 0; i < 6; i++)
      expect((await codeOf(svc.NodeStageVolume(req, ctx()))).code).toBe(Code.NOT_FOUND);
    expect(svc.breakerState("missing")).toBe("closed");
  });

  it("answers a concurrent call on the same volume with ABORTED", async () => {
    await createImage(root, "pool/conc.img", 64 * MiB);
    const req = stageReq("conc", "pool/conc.img");
    const first = svc.NodeStageVolume(req, ctx());
    const second = await codeOf(svc.NodeStageVolume(req, ctx()));
    expect(second.code).toBe(Code.ABORTED);
    const unstage = await codeOf(
      svc.NodeUnstageVolume({ volume_id: "conc", staging_target_path: req.staging_target_path }, ctx()),
    );
    expect(unstage.code).toBe(Code.ABORTED);
    await first;
    // Other volumes are not blocked, and once the first call is done the volume is free again.
    await svc.NodeStageVolume(req, ctx());
    await svc.NodeUnstageVolume({ volume_id: "conc", staging_target_path: req.staging_target_path }, ctx());
  });
});
