// Scenario 7: online expansion. A mounted ext4 volume: ControllerExpandVolume grows the file on the
// appliance (the simulator grows the loop device and revalidates the nvmet namespace); NodeExpandVolume
// rescans the NVMe namespace and grows ext4 while it stays mounted and in use. A published block volume
// (issue 13 item 5 / issue 17 item 2): the controller asks for the node step for block too, and with the
// appliance's namespace-changed event turned off the initiator sees the new size only through
// NodeExpandVolume's rescan — stage and publish never rescan, so without the node step the pod kept the
// old size.
import { randomBytes } from "node:crypto";
import { statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "../helpers/cluster.ts";
import {
  blockDeviceBytes,
  GiB,
  hostControllers,
  MiB,
  mountAt,
  sh,
  sha256Device,
  sha256File,
  writeDevice,
} from "../helpers/kernel.ts";
import {
  attachToPod,
  blockCap,
  createVolume,
  deleteVolume,
  detachFromPod,
  mountCap,
} from "../helpers/volumes.ts";

const fsBytes = (path: string) => {
  const s = statfsSync(path);
  return s.blocks * s.bsize;
};

describe("online expansion", () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster({ name: "07-expansion", combined: true });
  });
  afterAll(async () => {
    await c?.close();
  });

  it("grows a mounted ext4 filesystem over NVMe/TCP without unmounting it", async () => {
    const node = c.nodes[0]!;
    const v = await createVolume(c, "grow", GiB, mountCap());
    const a = await attachToPod(c, v, node);
    const nvmeDev = hostControllers(v.nqn)[0]!.namespaces[0]!;
    const mountBefore = mountAt(a.staging)!;
    const sizeBefore = fsBytes(a.target);
    expect(sizeBefore).toBeLessThan(GiB);
    writeFileSync(join(a.target, "keep.bin"), randomBytes(4 * MiB));
    sh("sync", []);
    const sum = sha256File(join(a.target, "keep.bin"));

    const ce = await c.controller.controller.ControllerExpandVolume({
      volume_id: v.id,
      capacity_range: { required_bytes: String(2 * GiB) },
      volume_capability: v.cap,
    });
    expect(Number(ce.capacity_bytes)).toBe(2 * GiB);
    expect(ce.node_expansion_required).toBe(true);
    // The target already serves the larger namespace.
    const exp = c.rds.sim.nvmet!.exports().find((e) => e.nqn === v.nqn)!;
    expect(blockDeviceBytes(exp.loopDevice)).toBe(2 * GiB);

    const ne = await node.csi.node.NodeExpandVolume({
      volume_id: v.id,
      volume_path: a.target,
      staging_target_path: a.staging,
      capacity_range: { required_bytes: String(2 * GiB) },
      volume_capability: v.cap,
    });
    expect(Number(ne.capacity_bytes)).toBe(2 * GiB);
    expect(blockDeviceBytes(nvmeDev)).toBe(2 * GiB); // the initiator sees the new namespace size
    expect(fsBytes(a.target)).toBeGreaterThan(1.9 * GiB); // ext4 grew
    expect(mountAt(a.staging)?.mountId).toBe(mountBefore.mountId); // never unmounted
    expect(sha256File(join(a.target, "keep.bin"))).toBe(sum);
    writeFileSync(join(a.target, "big.bin"), randomBytes(16 * MiB)); // and it takes writes
    sh("sync", []);

    await detachFromPod(c, a);
    await deleteVolume(c, v);
  });

  it("grows a published block volume through the node's rescan, with no namespace-changed event", async () => {
    const node = c.nodes[0]!;
    const nvmet = c.rds.sim.nvmet!;
    nvmet.resizeNotification = false;
    try {
      const v = await createVolume(c, "growblk", GiB, blockCap());
      const a = await attachToPod(c, v, node);
      const nvmeDev = hostControllers(v.nqn)[0]!.namespaces[0]!;
      writeDevice(a.target, Buffer.alloc(4 * MiB, 0x5a));
      const sum = sha256Device(a.target, 4 * MiB);

      const ce = await c.controller.controller.ControllerExpandVolume({
        volume_id: v.id,
        capacity_range: { required_bytes: String(2 * GiB) },
        volume_capability: v.cap,
      });
      expect(Number(ce.capacity_bytes)).toBe(2 * GiB);
      expect(ce.node_expansion_required).toBe(true);
      const exp = nvmet.exports().find((e) => e.nqn === v.nqn)!;
      expect(blockDeviceBytes(exp.loopDevice)).toBe(2 * GiB); // the target grew...
      await new Promise((r) => setTimeout(r, 1000));
      expect(blockDeviceBytes(nvmeDev)).toBe(GiB); // ...and without an event the initiator did not notice

      const ne = await node.csi.node.NodeExpandVolume({
        volume_id: v.id,
        volume_path: a.target,
        staging_target_path: a.staging,
        capacity_range: { required_bytes: String(2 * GiB) },
        volume_capability: v.cap,
      });
      expect(Number(ne.capacity_bytes)).toBe(2 * GiB);
      expect(blockDeviceBytes(nvmeDev)).toBe(2 * GiB); // what the pod's device node now shows
      expect(sha256Device(a.target, 4 * MiB)).toBe(sum);

      await detachFromPod(c, a);
      await deleteVolume(c, v);
    } finally {
      nvmet.resizeNotification = true;
    }
  });
});
