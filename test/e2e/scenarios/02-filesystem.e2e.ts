// Scenario 2: a filesystem volume's life over real NVMe/TCP, with data surviving an unstage/restage.
// ControllerPublish fences the export to the node's host NQN; NodeStage connects, formats and mounts;
// a pod writes; the volume goes away from the node (disconnect) and comes back for another pod.
import { randomBytes } from "node:crypto";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, NQN_PREFIX, NVME_ADDRESS, startCluster } from "../helpers/cluster.ts";
import {
  devNumbers,
  GiB,
  hostControllers,
  loopBackingFile,
  MiB,
  mountAt,
  nvmetSubsystem,
  sh,
  sha256File,
} from "../helpers/kernel.ts";
import { attachToPod, createVolume, deleteVolume, detachFromPod, mountCap } from "../helpers/volumes.ts";

describe("filesystem volume lifecycle", () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster({ name: "02-filesystem", combined: true });
  });
  afterAll(async () => {
    await c?.close();
  });

  it("stages ext4 over NVMe/TCP, keeps the data across unstage and restage, and cleans up", async () => {
    const node = c.nodes[0]!;
    const v = await createVolume(c, "fs", GiB, mountCap("ext4"));

    const first = await attachToPod(c, v, node, "writer");
    // Fencing: the export now admits this node's host NQN only.
    expect(nvmetSubsystem(v.nqn)).toMatchObject({ allowAnyHost: false, allowedHosts: [node.hostNqn] });
    // The initiator: one live controller, connected with the node's own host NQN.
    const ctrls = hostControllers(v.nqn);
    expect(ctrls).toHaveLength(1);
    expect(ctrls[0]).toMatchObject({ state: "live", hostNqn: node.hostNqn });
    expect(ctrls[0]!.address).toContain(`traddr=${NVME_ADDRESS}`);
    const dev = `/dev/${ctrls[0]!.namespaces[0]}`;
    // Staged: ext4 on the NVMe namespace; published: a bind mount of it in the pod's directory.
    const staged = mountAt(first.staging)!;
    expect(staged).toMatchObject({ fsType: "ext4", majorMinor: devNumbers(dev) });
    expect(mountAt(first.target)?.majorMinor).toBe(staged.majorMinor);
    expect(sh("blkid", ["-o", "value", "-s", "TYPE", dev]).trim()).toBe("ext4");

    const data = randomBytes(8 * MiB);
    writeFileSync(join(first.target, "data.bin"), data);
    sh("sync", []);
    const sum = sha256File(join(first.target, "data.bin"));

    await detachFromPod(c, first);
    expect(mountAt(first.target)).toBeUndefined();
    expect(mountAt(first.staging)).toBeUndefined();
    expect(hostControllers(v.nqn)).toEqual([]); // disconnected
    expect(existsSync(dev)).toBe(false);
    expect(nvmetSubsystem(v.nqn)).toMatchObject({
      enabled: true,
      allowAnyHost: false,
      allowedHosts: [`${NQN_PREFIX}:no-host`],
    });

    // Another pod on the node: connect again, the existing filesystem is checked and mounted, not formatted.
    const second = await attachToPod(c, v, node, "reader");
    expect(hostControllers(v.nqn)).toHaveLength(1);
    expect(sha256File(join(second.target, "data.bin"))).toBe(sum);
    await detachFromPod(c, second);
    expect(hostControllers(v.nqn)).toEqual([]);

    await deleteVolume(c, v);
    expect(nvmetSubsystem(v.nqn)).toBeUndefined();
  });

  it("stages xfs the same way", async () => {
    const node = c.nodes[0]!;
    const v = await createVolume(c, "xfs", GiB, mountCap("xfs"));
    const a = await attachToPod(c, v, node);
    expect(mountAt(a.staging)?.fsType).toBe("xfs");
    writeFileSync(join(a.target, "hello"), "hello over nvme/tcp\n");
    await detachFromPod(c, a);
    const b = await attachToPod(c, v, node, "pod-2");
    expect(sh("cat", [join(b.target, "hello")])).toBe("hello over nvme/tcp\n");
    await detachFromPod(c, b);
    await deleteVolume(c, v);
  });

  // Issue 13 item 6: mkfs discards by default, and nvmet turns the discards on a file-backed namespace into
  // hole punches in the disk's file: a pre-allocated volume became sparse at its first stage (all but a few
  // MiB of it). (Small volumes: the disk files live on the guest's tmpfs.) What may still go: areas the
  // filesystem zeroes with "write zeroes", which this Linux nvmet target (block backend over a loop device)
  // also turns into hole punches and which no mkfs option avoids — xfs's log (mkfs.xfs), ext4's inode
  // tables (the kernel's lazy initialisation after mount). The bound is the size of those areas.
  it.each([
    ["ext4", 256 * MiB],
    ["xfs", 320 * MiB],
  ])("formats %s without discarding: a pre-allocated disk file stays allocated", async (fsType, size) => {
    const node = c.nodes[0]!;
    const v = await createVolume(c, `prealloc-${fsType}`, size, mountCap(fsType));
    try {
      const loop = c.rds.sim.nvmet!.exports().find((e) => e.nqn === v.nqn)!.loopDevice;
      const file = loopBackingFile(loop)!;
      sh("fallocate", ["-l", String(size), file]); // as a RouterOS disk created pre-allocated
      const before = statSync(file).blocks * 512;
      expect(before).toBeGreaterThanOrEqual(size);
      const a = await attachToPod(c, v, node);
      expect(mountAt(a.staging)?.fsType).toBe(fsType);
      expect(mountAt(a.staging)?.options ?? "").not.toMatch(/discard/);
      // What the filesystem may zero with write-zeroes: xfs's log, ext4's inode tables.
      const zeroed = (() => {
        if (fsType === "xfs") {
          const log = /^log\s*=internal log\s+bsize=(\d+)\s+blocks=(\d+)/m.exec(sh("xfs_info", [a.staging]));
          return Number(log![1]) * Number(log![2]);
        }
        const sb = sh("dumpe2fs", ["-h", mountAt(a.staging)!.source]);
        const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(sb)![1]);
        return field("Inode count") * field("Inode size");
      })();
      expect(zeroed).toBeLessThan(size / 4); // a bound that a whole-device discard would break
      const after = statSync(file).blocks * 512;
      expect(before - after, `allocated ${before} → ${after} bytes`).toBeLessThanOrEqual(zeroed);
      await detachFromPod(c, a);
      expect(before - statSync(file).blocks * 512).toBeLessThanOrEqual(zeroed);
    } finally {
      // Best effort after a failure (the volume may still be attached): the assertion is what matters.
      await deleteVolume(c, v).catch(() => undefined);
    }
  });
});
