// Scenario 9 (issue 13 item 2): reads of devices whose I/O cannot complete must not stall the node. Four
// device-mapper devices are suspended (`dmsetup suspend`: every read of them waits in the kernel until
// resume, as with an NVMe controller that lost its target); the node's device readers (the probe, the
// superblock reads, the health check) are started on all four; NodeGetVolumeStats of an unrelated volume
// over NVMe/TCP still answers within a second. Before, these reads ran on libuv's four-thread pool and
// every asynchronous fs call of the node (statfs for stats among them) waited behind them.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkFilesystem } from "../../../src/node/mount/fsck.ts";
import { probeDevice } from "../../../src/node/mount/probe.ts";
import { filesystemBytes, readExtSuperblock } from "../../../src/node/mount/superblock.ts";
import { type Cluster, startCluster } from "../helpers/cluster.ts";
import { GiB, MiB, sh } from "../helpers/kernel.ts";
import { attachToPod, createVolume, deleteVolume, detachFromPod, mountCap } from "../helpers/volumes.ts";

describe("hung devices", () => {
  let c: Cluster;
  const loops: string[] = [];
  const dms: string[] = [];
  const devs: string[] = [];
  beforeAll(async () => {
    sh("modprobe", ["dm_mod"]);
    c = await startCluster({ name: "09-hung-devices", combined: true });
  });
  afterAll(async () => {
    for (const d of dms) {
      try {
        sh("dmsetup", ["resume", d]);
      } catch {
        // not suspended
      }
      try {
        sh("dmsetup", ["remove", "--retry", d]);
      } catch {
        // best effort
      }
    }
    for (const l of loops) sh("losetup", ["-d", l]);
    await c?.close();
  });

  it("NodeGetVolumeStats answers within a second while reads of four suspended devices hang", async () => {
    const node = c.nodes[0]!;
    const v = await createVolume(c, "unrelated", GiB, mountCap("ext4"));
    const a = await attachToPod(c, v, node);
    writeFileSync(join(a.target, "x"), "y");
    const stats = () =>
      node.csi.node.NodeGetVolumeStats({ volume_id: v.id, volume_path: a.target }, { deadlineMs: 30_000 });
    const t0 = performance.now();
    expect((await stats()).volume_condition?.abnormal).toBe(false);
    const baselineMs = performance.now() - t0;

    for (let i = 0; i < 4; i++) {
      const file = join(c.workDir, `hung${i}.img`);
      sh("truncate", ["-s", String(64 * MiB), file]);
      sh("mkfs.ext4", ["-q", file]);
      const loop = sh("losetup", ["--find", "--show", file]).trim();
      loops.push(loop);
      const name = `e2e-hung-${i}`;
      sh("dmsetup", ["create", name, "--table", `0 ${(64 * MiB) / 512} linear ${loop} 0`]);
      dms.push(name);
      // No udev in the VM, so no /dev/mapper link: the kernel's own node is /dev/dm-N.
      devs.push(`/dev/${sh("dmsetup", ["info", "-c", "--noheadings", "-o", "blkdevname", name]).trim()}`);
      // Nothing of the device in the page cache (a read served from memory would not wait), then suspend.
      sh("blockdev", ["--flushbufs", devs[i]!]);
      sh("dmsetup", ["suspend", name]);
    }
    writeFileSync("/proc/sys/vm/drop_caches", "3");
    const dev = (i: number) => devs[i]!;
    const reads = [
      probeDevice(dev(0), { sizeBytes: 64 * MiB, attempts: 1, timeoutMs: 120_000 }),
      readExtSuperblock(dev(1), { timeoutMs: 120_000 }).catch((e: Error) => e),
      filesystemBytes(dev(2), "xfs", { timeoutMs: 120_000 }),
      checkFilesystem(dev(3), "ext4", { mode: "full", timeoutMs: 120_000 }),
    ];
    await new Promise((r) => setTimeout(r, 1500)); // all four are in the kernel now
    let settled = 0;
    for (const r of reads) void r.then(() => settled++);
    await new Promise((r) => setTimeout(r, 0));
    expect(settled).toBe(0); // really hanging

    const t1 = performance.now();
    const during = await stats();
    const duringMs = performance.now() - t1;
    expect(during.volume_condition?.abnormal).toBe(false);
    expect(Number(during.usage?.[0]?.total)).toBeGreaterThan(0.9 * GiB);
    expect(duringMs, `stats took ${duringMs} ms (baseline ${baselineMs} ms)`).toBeLessThan(1000);

    for (const d of dms) sh("dmsetup", ["resume", d]);
    const results = await Promise.all(reads);
    expect(results[0]).toMatchObject({ kind: "formatted", fsType: "ext4" }); // they finish once the device answers
    await detachFromPod(c, a);
    await deleteVolume(c, v);
  });
});
