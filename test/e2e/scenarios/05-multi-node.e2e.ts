// Scenario 5: two node plugins (different node ids, so different host NQNs) against one controller.
// A ReadWriteOnce volume published to the first node is refused for the second; the export's allowed
// hosts in nvmet follow the attachments, and nvmet itself refuses a connect from a node that is not
// allowed, even when a misbehaving CO hands it the publish context anyway. Then the volume moves over.
//
// Both "nodes" share this VM's kernel. With native NVMe multipath on, two host identities connected to
// one subsystem would share one namespace device; two real nodes each have their own. So this file runs
// with nvme_core multipath off: every controller gets its own namespace device, as on separate machines.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, NQN_PREFIX, startCluster } from "../helpers/cluster.ts";
import {
  GiB,
  hostControllers,
  MiB,
  mountAt,
  nvmetSubsystem,
  setMultipath,
  sh,
  sha256File,
} from "../helpers/kernel.ts";
import {
  attachToPod,
  codeOf,
  controllerPublish,
  createVolume,
  deleteVolume,
  detachFromPod,
  kubeletPaths,
  mountCap,
  nodeStage,
  Status,
} from "../helpers/volumes.ts";

describe("multiple nodes", () => {
  let c: Cluster;
  beforeAll(async () => {
    setMultipath(false);
    c = await startCluster({ name: "05-multi-node", nodes: ["node-a", "node-b"] });
  });
  afterAll(async () => {
    await c?.close();
    setMultipath(true);
  });

  it("fences a ReadWriteOnce volume to one node, in the controller and in nvmet, and hands it over", async () => {
    const [a, b] = [c.node("node-a"), c.node("node-b")];
    expect(a.hostNqn).not.toBe(b.hostNqn);
    const v = await createVolume(c, "rwo", GiB, mountCap());
    const onA = await attachToPod(c, v, a);
    expect(nvmetSubsystem(v.nqn)).toMatchObject({ allowAnyHost: false, allowedHosts: [a.hostNqn] });
    writeFileSync(join(onA.target, "owner"), randomBytes(MiB));
    sh("sync", []);
    const sum = sha256File(join(onA.target, "owner"));

    // The attacher asks for node-b while node-a has it: refused, and the export's hosts do not change.
    const refused = await codeOf(controllerPublish(c, v, b));
    expect(refused.code).toBe(Status.FAILED_PRECONDITION);
    expect(refused.details).toMatch(/node-a/);
    expect(nvmetSubsystem(v.nqn)?.allowedHosts).toEqual([a.hostNqn]);

    // A CO that stages on node-b anyway (with node-a's publish context) hits the target's own fence:
    // nvmet refuses the connect of a host NQN that is not allowed.
    const pb = kubeletPaths(b, v);
    const fenced = await codeOf(nodeStage(b, v, onA.publishContext, pb.staging));
    expect(fenced.code).toBe(Status.UNAVAILABLE);
    expect(hostControllers(v.nqn).map((x) => x.hostNqn)).toEqual([a.hostNqn]);
    expect(mountAt(pb.staging)).toBeUndefined();
    await b.csi.node.NodeUnstageVolume({ volume_id: v.id, staging_target_path: pb.staging }); // kubelet's cleanup

    // node-a lets go: the export admits nobody until the next attachment (a placeholder host NQN, since an
    // empty list would mean any host).
    await detachFromPod(c, onA);
    expect(hostControllers(v.nqn)).toEqual([]);
    expect(nvmetSubsystem(v.nqn)).toMatchObject({
      allowAnyHost: false,
      allowedHosts: [`${NQN_PREFIX}:no-host`],
    });

    // Now node-b gets it, with node-a's data.
    const onB = await attachToPod(c, v, b);
    expect(nvmetSubsystem(v.nqn)).toMatchObject({ allowAnyHost: false, allowedHosts: [b.hostNqn] });
    expect(hostControllers(v.nqn).map((x) => x.hostNqn)).toEqual([b.hostNqn]);
    expect(sha256File(join(onB.target, "owner"))).toBe(sum);
    await detachFromPod(c, onB);
    await deleteVolume(c, v);
    expect(nvmetSubsystem(v.nqn)).toBeUndefined();
  });
});
