// Who uses a device (the check before every detach), volume conditions reported by
// NodeGetVolumeStats, and the breaker registry not leaking. Real loop devices, mounts and processes.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VolumeBreakers } from "../../src/node/breaker.ts";
import type { NodeServiceHandle } from "../../src/node/node-service.ts";
import { findDeviceUsers } from "../../src/node/nvme/device-usage.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { registry } from "../../src/observability/metrics.ts";
import {
  blockCap,
  capOut,
  cleanupWorkdir,
  createImage,
  ctx,
  loopContext,
  loopsUnder,
  MiB,
  mountCap,
  sh,
  startLoopNode,
} from "./helpers.ts";

let dir: string;
let root: string;
let svc: NodeServiceHandle;
const usageOpts = { sysfsRoot: "/sys", procRoot: "/proc", mountinfoPath: "/proc/self/mountinfo" };

beforeEach(async () => {
  ({ dir, root, svc } = await startLoopNode("health"));
});

afterEach(async () => {
  await svc?.close();
  await cleanupWorkdir(dir);
});

describe("device usage", () => {
  it("sees mounts, open file handles and loop devices pinned on a device node", async () => {
    const img = await createImage(root, "u.img", 16 * MiB);
    const loop = sh("losetup", ["-f", "--show", img]).trim();
    const name = loop.slice("/dev/".length);
    expect(await findDeviceUsers(name, usageOpts)).toEqual([]);

    sh("mkfs.ext4", ["-q", loop]);
    const mnt = join(dir, "mnt");
    await mkdir(mnt);
    sh("mount", [loop, mnt]);
    expect(await findDeviceUsers(name, usageOpts)).toEqual([
      expect.stringMatching(new RegExp(`^mounted at ${mnt} \\(7:\\d+\\)$`)),
    ]);
    expect(await findDeviceUsers(name, { ...usageOpts, ignoreMountPoints: [mnt] })).toEqual([]);
    sh("umount", [mnt]);

    const fd = openSync(loop, "r");
    const holder = spawn("sleep", ["30"], { stdio: [fd, "ignore", "ignore"] });
    closeSync(fd);
    try {
      expect(await findDeviceUsers(name, usageOpts)).toEqual([
        `process ${holder.pid} (sleep) has it open as ${loop}`,
      ]);
    } finally {
      holder.kill("SIGKILL");
      await new Promise((r) => holder.once("exit", r));
    }

    // kubelet pins a published block volume by attaching a loop device to our device node.
    const node = join(dir, "published-node");
    const [maj, min] = sh("cat", [`/sys/class/block/${name}/dev`])
      .trim()
      .split(":");
    sh("mknod", [node, "b", maj ?? "", min ?? ""]);
    const pin = sh("losetup", ["-f", "--show", node]).trim();
    try {
      expect(await findDeviceUsers(name, usageOpts)).toEqual([
        `loop device ${pin.slice(5)} is attached to it (${node})`,
      ]);
    } finally {
      sh("losetup", ["-d", pin]);
    }
    expect(await findDeviceUsers(name, usageOpts)).toEqual([]);
    sh("losetup", ["-d", loop]);
  });
});

describe("volume condition", () => {
  it("reports a filesystem forced read-only by errors", async () => {
    await createImage(root, "pool/err.img", 64 * MiB);
    const staging = join(dir, "staging");
    const target = join(dir, "target");
    const cap = capOut(mountCap("ext4"));
    const base = {
      volume_id: "err",
      publish_context: loopContext("pool/err.img"),
      volume_capability: cap,
      secrets: {},
      volume_context: {},
    };
    await svc.NodeStageVolume({ ...base, staging_target_path: staging }, ctx());
    await svc.NodePublishVolume(
      { ...base, staging_target_path: staging, target_path: target, readonly: false },
      ctx(),
    );
    const healthy = await svc.NodeGetVolumeStats(
      { volume_id: "err", volume_path: target, staging_target_path: staging },
      ctx(),
    );
    expect(healthy.volume_condition).toEqual({ abnormal: false, message: "volume is healthy" });

    // Make ext4 hit an error (its debug trigger): errors=remount-ro (our default) stops writes.
    const dev = loopsUnder(root)[0];
    await writeFile(`/sys/fs/ext4/${dev}/trigger_fs_error`, "test: simulated metadata error");
    const sick = await svc.NodeGetVolumeStats(
      { volume_id: "err", volume_path: target, staging_target_path: staging },
      ctx(),
    );
    expect(sick.volume_condition?.abnormal).toBe(true);
    expect(sick.volume_condition?.message).toMatch(/forced read-only/);
    expect(sick.volume_condition?.message).toMatch(/ext4 recorded 1 error/);
    expect(sick.usage?.length).toBe(2); // usage is still reported

    await svc.NodeUnpublishVolume({ volume_id: "err", target_path: target }, ctx());
    await svc.NodeUnstageVolume({ volume_id: "err", staging_target_path: staging }, ctx());
  });

  it("reports a published block device whose device went away", async () => {
    await createImage(root, "pool/gone.img", 16 * MiB);
    const staging = join(dir, "staging-b");
    const target = join(dir, "dev-b", "pod");
    const base = {
      volume_id: "gone",
      publish_context: loopContext("pool/gone.img"),
      volume_capability: capOut(blockCap()),
      secrets: {},
      volume_context: {},
    };
    await svc.NodeStageVolume({ ...base, staging_target_path: staging }, ctx());
    await svc.NodePublishVolume(
      { ...base, staging_target_path: staging, target_path: target, readonly: false },
      ctx(),
    );
    const dev = loopsUnder(root)[0];
    sh("losetup", ["-d", `/dev/${dev}`]); // the export vanished underneath (RDS side), nothing held it
    const stats = await svc.NodeGetVolumeStats(
      { volume_id: "gone", volume_path: target, staging_target_path: staging },
      ctx(),
    );
    expect(stats.volume_condition?.abnormal).toBe(true);
    expect(stats.volume_condition?.message).toMatch(/no longer attached|no longer exists/);
    await svc.NodeUnpublishVolume({ volume_id: "gone", target_path: target }, ctx());
    await svc.NodeUnstageVolume({ volume_id: "gone", staging_target_path: staging }, ctx());
  });
});

describe("breaker registry", () => {
  it("drops idle breakers and their metric series", async () => {
    const b = new VolumeBreakers({ idleMs: 60_000 }, silentLogger);
    try {
      await b.run("vol-idle", async () => "ok");
      expect(b.size).toBe(1);
      expect(await registry.getSingleMetricAsString("rds_csi_volume_breaker_state")).toMatch(
        /volume_id="vol-idle"/,
      );
      b.sweep(Date.now() + 30_000);
      expect(b.size).toBe(1);
      b.sweep(Date.now() + 61_000);
      expect(b.size).toBe(0);
      expect(await registry.getSingleMetricAsString("rds_csi_volume_breaker_state")).not.toMatch(/vol-idle/);
    } finally {
      b.close();
    }
  });
});
