// Scenario 10 (issue 13 item 1): a fenced node's session must not come back. Kubelet force-detaches a
// volume from a node it lost (ControllerUnpublish without NodeUnstage). That node's kernel kept
// reconnecting for ctrl_loss_tmo (30 min by default, forever with -1); when the volume was published to
// the same node again, the old controller reconnected by itself — before any NodeStage — and wrote what
// the old kernel still held over the other node's data (this scenario saw the old ext4 superblock and
// journal state land), and a NodeStage that found the old staging mount on the same device reported it
// done. Now the node caps fast_io_fail_tmo and ctrl_loss_tmo at 120 s (nvme-target.ts, MAX_SESSION_LOSS_S:
// well below kubelet's force-detach time), so the lost session is gone before the volume can move; every
// attachment has a generation (publish_context), the node records the one it staged, and a NodeStage under
// another generation tears the stale stage down (shutdown without flush, unmount, disconnect), refusing
// while it is still published.
//
// Sequence (as in the issue): write on A; force-unpublish A and cut its path (`ss -K` resets its TCP
// connections; its reconnects are then refused, the export admitting nobody); the outage outlasts the
// session-loss timeout (shortened from 120 s to 3 s for the test), so A's kernel deletes the controller;
// publish, stage and write on B; unstage B; publish to A again, which restores A's path: nothing
// reconnects; stage on A. B's data survives, A's stale write never lands, fsck is clean.
// Two nodes in one kernel: multipath off, as in scenario 5.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PublishKey } from "../../../src/csi/volume-context.ts";
import { type Cluster, startCluster } from "../helpers/cluster.ts";
import {
  GiB,
  hostControllers,
  loopBackingFile,
  MiB,
  mountAt,
  NVMET,
  setMultipath,
  sh,
  sha256File,
  waitFor,
} from "../helpers/kernel.ts";
import {
  attachToPod,
  codeOf,
  controllerPublish,
  controllerUnpublish,
  createVolume,
  deleteVolume,
  detachFromPod,
  mountCap,
  nodePublish,
  nodeStage,
  Status,
} from "../helpers/volumes.ts";

/** The ext4 superblock's mount count on the appliance's side: one more after every mount. */
const mountCount = (dev: string) => Number(/Mount count:\s+(\d+)/.exec(sh("dumpe2fs", ["-h", dev]))?.[1]);

const ctrlAttr = (ctrl: string, attr: string) =>
  readFileSync(`/sys/class/nvme/${ctrl}/${attr}`, "utf8").trim();

describe("fencing a force-detached node", () => {
  let c: Cluster;
  beforeAll(async () => {
    setMultipath(false);
    c = await startCluster({ name: "10-fencing", nodes: ["node-a", "node-b"] });
  });
  afterAll(async () => {
    await c?.close();
    setMultipath(true);
  });

  it("tears the stale session down before staging under a new attachment generation; B's data survives", async () => {
    const a = c.node("node-a");
    const b = c.node("node-b");
    const v = await createVolume(c, "fence", GiB, mountCap("ext4"));
    const onA = await attachToPod(c, v, a, "pod-a");
    const genA = Number(onA.publishContext[PublishKey.generation]);
    expect(genA).toBeGreaterThan(0);
    const ctrlA = hostControllers(v.nqn).find((x) => x.hostNqn === a.hostNqn)!;
    // Set by the driver at connect: I/O fails and the controller goes after 120 s without the target.
    expect(ctrlAttr(ctrlA.name, "fast_io_fail_tmo")).toBe("120");
    expect(ctrlAttr(ctrlA.name, "ctrl_loss_tmo")).toBe("120");
    writeFileSync(join(onA.target, "a.txt"), "written on A\n");
    sh("sync", []);

    // The same timeouts in test time: 3 s instead of 120 s.
    writeFileSync(`/sys/class/nvme/${ctrlA.name}/fast_io_fail_tmo`, "3");
    writeFileSync(`/sys/class/nvme/${ctrlA.name}/ctrl_loss_tmo`, "3");
    // Cut A's path: every NVMe/TCP connection on this kernel is reset (only A is connected now). A's
    // reconnects fail from here on: the force-detach below leaves the export admitting nobody.
    await controllerUnpublish(c, v, a); // force-detach: A never unstaged
    sh("ss", ["-K", "(", "dport", "=", ":4420", "or", "sport", "=", ":4420", ")"]);
    await waitFor("A's controller to lose its target", () =>
      hostControllers(v.nqn).some((x) => x.name === ctrlA.name && x.state !== "live"),
    );
    // A's pod keeps writing: this stays in A's page cache and journal, never on the volume.
    writeFileSync(join(onA.target, "a-after-fence.txt"), "A after the fence\n");
    // The outage outlasts the session-loss timeout: A's kernel deletes the controller (its next
    // reconnect attempt, reconnect-delay 5 s, is the last).
    await waitFor(
      "A's kernel to give the lost controller up",
      // Gone, or being deleted (removing a namespace under a mounted filesystem waits for its unmount;
      // meanwhile the controller's sysfs attributes may not even be readable: "?").
      () =>
        !hostControllers(v.nqn).some(
          (x) => x.name === ctrlA.name && !x.state.startsWith("deleting") && x.state !== "?",
        ),
      60_000,
    );

    // Two nodes in one kernel only: A's stale controller still holds controller id 1 of this subsystem on
    // the host side, and the host kernel rejects a second controller with the same id even for another
    // host NQN; nvmet would hand B id 1 again. Separate machines do not share that table.
    writeFileSync(join(NVMET, "subsystems", v.nqn, "attr_cntlid_min"), "100");

    const onB = await attachToPod(c, v, b, "pod-b");
    const genB = Number(onB.publishContext[PublishKey.generation]);
    expect(genB).toBeGreaterThan(genA);
    expect(readFileSync(join(onB.target, "a.txt"), "utf8")).toBe("written on A\n");
    writeFileSync(join(onB.target, "b.bin"), randomBytes(4 * MiB));
    sh("sync", []);
    const sumB = sha256File(join(onB.target, "b.bin"));
    await detachFromPod(c, onB);

    // Published to A again: A's path is open again, and nothing of the old session comes back.
    const pcA2 = await controllerPublish(c, v, a);
    expect(Number(pcA2[PublishKey.generation])).toBeGreaterThan(genB);
    await new Promise((r) => setTimeout(r, 7000)); // longer than a reconnect delay
    // B has left: a live controller of this subsystem now could only be A's old session.
    expect(hostControllers(v.nqn).filter((x) => x.state === "live")).toEqual([]);
    const staleMount = mountAt(onA.staging)!;
    // The disk's file (read through its page cache, which the target's loop device writes through; the
    // loop device's own block cache would not see nvmet's writes).
    const disk = loopBackingFile(c.rds.sim.nvmet!.exports().find((e) => e.nqn === v.nqn)!.loopDevice)!;
    expect(staleMount).toBeDefined();

    // While the stale mount is still published (A's old pod), the stage is refused with the reason.
    const refused = await codeOf(nodeStage(a, v, pcA2, onA.staging));
    expect(refused.code).toBe(Status.FAILED_PRECONDITION);
    expect(refused.details).toMatch(new RegExp(`generation ${genA}.*still published at`));
    expect(mountAt(onA.staging)?.mountId).toBe(staleMount.mountId); // nothing torn down

    // Kubelet cleans up the old pod (NodeUnpublish), never NodeUnstage; then stages for the new pod.
    await a.csi.node.NodeUnpublishVolume({ volume_id: v.id, target_path: onA.target });
    const mounts = mountCount(disk);
    await nodeStage(a, v, pcA2, onA.staging);
    // A fresh mount (kernel names and mount ids are reused, the superblock's mount count is not).
    expect(mountCount(disk)).toBe(mounts + 1);
    expect(hostControllers(v.nqn).filter((x) => x.hostNqn === a.hostNqn)).toHaveLength(1);
    const target2 = join(a.kubeletDir, "pods", "pod-a2", "volumes/kubernetes.io~csi", v.id, "mount");
    await nodePublish(a, v, pcA2, onA.staging, target2);
    expect(sha256File(join(target2, "b.bin"))).toBe(sumB); // what B wrote survived
    expect(readFileSync(join(target2, "a.txt"), "utf8")).toBe("written on A\n");
    expect(existsSync(join(target2, "a-after-fence.txt"))).toBe(false); // A's stale write never landed
    await detachFromPod(c, { ...onA, target: target2, publishContext: pcA2 });

    // The filesystem on the appliance's side is clean.
    const fsck = sh("bash", ["-c", `e2fsck -f -n ${disk} >/dev/null 2>&1; echo $?`]).trim();
    expect(fsck).toBe("0");
    await deleteVolume(c, v);
  });
});
