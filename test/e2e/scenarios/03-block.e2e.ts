// Scenario 3: a raw block volume over real NVMe/TCP. NodePublish creates a device node for the NVMe
// namespace at the pod path; kubelet pins it with `losetup`; data written through the pin is what the
// namespace (and the file on the appliance) holds; teardown releases the pin, the node and the connection.
import { createHash, randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "../helpers/cluster.ts";
import {
  blockDeviceBytes,
  devNumbers,
  GiB,
  hostControllers,
  loopBackingFile,
  MiB,
  sha256Device,
  writeDevice,
} from "../helpers/kernel.ts";
import {
  attachToPod,
  blockCap,
  codeOf,
  createVolume,
  deleteVolume,
  detachFromPod,
  Status,
} from "../helpers/volumes.ts";

describe("block volume lifecycle", () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster({ name: "03-block", combined: true });
  });
  afterAll(async () => {
    await c?.close();
  });

  it("publishes the namespace as a device node that kubelet can pin, and moves real data", async () => {
    const node = c.nodes[0]!;
    const v = await createVolume(c, "blk", GiB, blockCap());
    const a = await attachToPod(c, v, node);
    const ctrl = hostControllers(v.nqn);
    expect(ctrl).toHaveLength(1);
    const nvmeDev = `/dev/${ctrl[0]!.namespaces[0]}`;
    expect(blockDeviceBytes(nvmeDev)).toBe(GiB);
    // The published path is a block device node for the namespace, and kubelet's loop pin sits on it.
    expect(statSync(a.target).isBlockDevice()).toBe(true);
    expect(devNumbers(a.target)).toBe(devNumbers(nvmeDev));
    expect(loopBackingFile(a.pin!)).toBe(a.target);
    expect(blockDeviceBytes(a.pin!)).toBe(GiB);

    const data = randomBytes(4 * MiB);
    const sum = createHash("sha256").update(data).digest("hex");
    writeDevice(a.pin!, data); // through kubelet's loop pin → NVMe/TCP → nvmet → the appliance's file
    expect(sha256Device(a.target, 4 * MiB)).toBe(sum); // through the published node
    expect(sha256Device(nvmeDev, 4 * MiB)).toBe(sum); // the namespace itself
    const exportLoop = c.rds.sim.nvmet!.exports().find((e) => e.nqn === v.nqn)!.loopDevice;
    expect(sha256Device(exportLoop, 4 * MiB)).toBe(sum); // what the target serves

    // Unstaging while the pod still has it published is refused, and nothing is disconnected.
    const refused = await codeOf(
      node.csi.node.NodeUnstageVolume({ volume_id: v.id, staging_target_path: a.staging }),
    );
    expect(refused.code).toBe(Status.FAILED_PRECONDITION);
    expect(hostControllers(v.nqn)).toHaveLength(1);

    await detachFromPod(c, a);
    expect(() => statSync(a.target)).toThrow();
    expect(hostControllers(v.nqn)).toEqual([]);
    expect(loopBackingFile(a.pin!)).toBeUndefined();
    await deleteVolume(c, v);
  });
});
