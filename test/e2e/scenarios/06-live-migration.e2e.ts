// Scenario 6: a KubeVirt-style live migration of a ReadWriteMany block volume. The volume is attached
// and published on the source and the destination at once (each with its own NVMe/TCP connection and
// host NQN); the source writes, hands off, the destination reads the same bytes, the source detaches,
// and the export stays for the destination. Like scenario 5, both nodes share this kernel, so this file
// runs with nvme_core multipath off (one namespace device per connection, as on two machines).
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "../helpers/cluster.ts";
import {
  devNumbers,
  GiB,
  hostControllers,
  MiB,
  nvmetSubsystem,
  setMultipath,
  sha256Device,
  writeDevice,
} from "../helpers/kernel.ts";
import { attachToPod, blockCap, createVolume, deleteVolume, detachFromPod } from "../helpers/volumes.ts";

describe("live migration of a ReadWriteMany block volume", () => {
  let c: Cluster;
  beforeAll(async () => {
    setMultipath(false);
    c = await startCluster({ name: "06-live-migration", nodes: ["node-a", "node-b"] });
  });
  afterAll(async () => {
    await c?.close();
    setMultipath(true);
  });

  it("serves both nodes during the hand-off and keeps the export for the destination", async () => {
    const [src, dst] = [c.node("node-a"), c.node("node-b")];
    const v = await createVolume(c, "vm-disk", GiB, blockCap("MULTI_NODE_MULTI_WRITER"));
    const onSrc = await attachToPod(c, v, src, "virt-launcher-src");
    const memory = randomBytes(8 * MiB);
    const sum = createHash("sha256").update(memory).digest("hex");
    writeDevice(onSrc.pin!, memory); // the VM on the source writes (O_DIRECT + fsync: on the target)

    // Migration starts: the destination pod gets the volume too.
    const onDst = await attachToPod(c, v, dst, "virt-launcher-dst");
    expect(nvmetSubsystem(v.nqn)).toMatchObject({
      allowAnyHost: false,
      allowedHosts: [src.hostNqn, dst.hostNqn].sort(),
    });
    const ctrls = hostControllers(v.nqn);
    expect(ctrls.map((x) => x.hostNqn).sort()).toEqual([src.hostNqn, dst.hostNqn].sort());
    expect(ctrls.every((x) => x.state === "live")).toBe(true);
    // Two connections, two namespace devices: each node's published node is its own.
    expect(devNumbers(onSrc.target)).not.toBe(devNumbers(onDst.target));

    // Hand-off: the destination reads exactly what the source wrote.
    expect(sha256Device(onDst.pin!, 8 * MiB)).toBe(sum);

    // The source goes away; the destination keeps its connection and the export stays.
    await detachFromPod(c, onSrc);
    expect(hostControllers(v.nqn).map((x) => x.hostNqn)).toEqual([dst.hostNqn]);
    expect(nvmetSubsystem(v.nqn)).toMatchObject({
      enabled: true,
      allowAnyHost: false,
      allowedHosts: [dst.hostNqn],
    });
    const more = randomBytes(4 * MiB);
    writeDevice(onDst.pin!, more);
    expect(sha256Device(onDst.target, 4 * MiB)).toBe(createHash("sha256").update(more).digest("hex"));

    await detachFromPod(c, onDst);
    expect(hostControllers(v.nqn)).toEqual([]);
    await deleteVolume(c, v);
    expect(nvmetSubsystem(v.nqn)).toBeUndefined();
  });
});
