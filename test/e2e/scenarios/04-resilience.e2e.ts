// Scenario 4: error resilience with a real kernel on both sides.
// - The target disappears while a volume is staged (the appliance drops the export, then brings it back):
//   the kernel keeps reconnecting (ctrl-loss-tmo), the node reports the volume abnormal meanwhile, and the
//   volume recovers with its data.
// - Repeated connect failures of one volume open that volume's circuit breaker; another volume stages fine.
// - The controller survives an SSH connection drop in the middle of a command (sim fault dropConnection).
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metrics } from "../../../src/observability/metrics.ts";
import { type Cluster, NVME_ADDRESS, NVME_PORT, startCluster } from "../helpers/cluster.ts";
import {
  discover,
  GiB,
  hostControllers,
  MiB,
  mountAt,
  nvmetSubsystem,
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
  kubeletPaths,
  mountCap,
  nodeStage,
  pvcName,
  Status,
} from "../helpers/volumes.ts";

async function attachCount(result: "ok" | "error"): Promise<number> {
  const m = await metrics.attachTotal.get();
  return m.values.find((v) => v.labels.transport === "nvme-tcp" && v.labels.result === result)?.value ?? 0;
}

/** Retries like a CSI sidecar: UNAVAILABLE and ABORTED are retried, anything else is final. */
async function withRetries<T>(fn: () => Promise<T>, attempts = 5): Promise<{ value: T; failures: number }> {
  for (let i = 0; ; i++) {
    try {
      return { value: await fn(), failures: i };
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (i + 1 >= attempts || (code !== 14 && code !== 10)) throw err;
    }
  }
}

describe("error resilience", () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster({ name: "04-resilience", combined: true });
  });
  afterAll(async () => {
    await c?.close();
  });

  it("rides out the export disappearing and coming back while the volume is staged", async () => {
    const node = c.nodes[0]!;
    // A StorageClass that reconnects every second and gives up only after a minute.
    const v = await createVolume(c, "outage", GiB, mountCap(), { reconnectDelay: "1", ctrlLossTmo: "60" });
    const a = await attachToPod(c, v, node);
    writeFileSync(join(a.target, "before.bin"), randomBytes(2 * MiB));
    sh("sync", []);
    const sum = sha256File(join(a.target, "before.bin"));
    const stats = () =>
      node.csi.node.NodeGetVolumeStats({
        volume_id: v.id,
        volume_path: a.target,
        staging_target_path: a.staging,
      });
    expect((await stats()).volume_condition).toMatchObject({ abnormal: false });

    // The appliance's administrator (or a reboot) drops the export.
    await c.rdsClient.setDisk(v.id, { nvmeExport: false });
    expect(nvmetSubsystem(v.nqn)).toBeUndefined();
    await waitFor(
      "the controller to leave the live state",
      () => hostControllers(v.nqn)[0]?.state !== "live" && hostControllers(v.nqn)[0],
    );
    const during = await stats();
    expect(during.volume_condition?.abnormal).toBe(true);
    expect(during.volume_condition?.message).toMatch(/not live/);
    expect(mountAt(a.staging)).toBeDefined(); // nothing was unmounted

    await c.rdsClient.setDisk(v.id, { nvmeExport: true });
    await waitFor("the controller to reconnect", () => hostControllers(v.nqn)[0]?.state === "live", 30_000);
    expect((await stats()).volume_condition).toMatchObject({ abnormal: false });
    // Same device, same data, and it takes writes again.
    expect(sha256File(join(a.target, "before.bin"))).toBe(sum);
    writeFileSync(join(a.target, "after.txt"), "written after the reconnect\n");
    sh("sync", []);
    expect(readFileSync(join(a.target, "after.txt"), "utf8")).toBe("written after the reconnect\n");
    expect(sh("dmesg", [])).toMatch(/nvme\d+: Successfully reconnected/);

    await detachFromPod(c, a);
    await deleteVolume(c, v);
  });

  it("opens the circuit breaker of a volume whose connects keep failing, without affecting another volume", async () => {
    const node = c.nodes[0]!;
    const broken = await createVolume(c, "broken", GiB, mountCap());
    const healthy = await createVolume(c, "healthy", GiB, mountCap());
    const brokenCtx = await controllerPublish(c, broken, node);
    const healthyCtx = await controllerPublish(c, healthy, node);
    await c.rdsClient.setDisk(broken.id, { nvmeExport: false }); // the connects will be refused by nvmet
    const brokenPaths = kubeletPaths(node, broken);
    const errorsBefore = await attachCount("error");

    for (let i = 0; i < 3; i++) {
      const r = await codeOf(nodeStage(node, broken, brokenCtx, brokenPaths.staging));
      expect(r.code).toBe(Status.UNAVAILABLE);
      expect(r.details).toMatch(/nvme connect/);
    }
    expect(await attachCount("error")).toBe(errorsBefore + 3); // three real `nvme connect` attempts
    const fast = await codeOf(nodeStage(node, broken, brokenCtx, brokenPaths.staging));
    expect(fast.code).toBe(Status.UNAVAILABLE);
    expect(fast.details).toMatch(/circuit breaker open/);
    expect(await attachCount("error")).toBe(errorsBefore + 3); // failed fast: no fourth connect
    expect(hostControllers(broken.nqn)).toEqual([]);

    // The other volume is untouched by the open breaker.
    const hp = kubeletPaths(node, healthy);
    await nodeStage(node, healthy, healthyCtx, hp.staging);
    expect(mountAt(hp.staging)?.fsType).toBe("ext4");
    expect(hostControllers(healthy.nqn)[0]?.state).toBe("live");

    await node.csi.node.NodeUnstageVolume({ volume_id: healthy.id, staging_target_path: hp.staging });
    await node.csi.node.NodeUnstageVolume({ volume_id: broken.id, staging_target_path: brokenPaths.staging });
    for (const v of [broken, healthy]) {
      await controllerUnpublish(c, v, node);
      await deleteVolume(c, v);
    }
  });

  it("survives the SSH connection dropping in the middle of commands", async () => {
    const node = c.nodes[0]!;
    const connectionsBefore = c.rds.sim.stats.totalConnections;
    // The appliance runs `/disk add` (and exports the disk), but the reply never arrives.
    c.rds.sim.faults.dropConnection("/disk add", { after: true });
    const name = pvcName("drop");
    const req = { name, capacity_range: { required_bytes: String(GiB) }, volume_capabilities: [mountCap()] };
    const created = await withRetries(() => c.controller.controller.CreateVolume(req));
    const id = created.value.volume!.volume_id;
    const disk = (await c.rdsClient.getDisk(id))!;
    const nqn = disk.nqn || disk.slot;
    // Exactly one disk and one export, whatever the client saw.
    expect(
      (await c.controller.controller.ListVolumes({})).entries?.filter((e) => e.volume?.volume_id === id),
    ).toHaveLength(1);
    expect(nvmetSubsystem(nqn)?.enabled).toBe(true);
    // Exported to nobody yet (the placeholder host): the node does not even discover it before ControllerPublish.
    expect(discover(NVME_ADDRESS, NVME_PORT, node.hostNqn)).not.toContain(nqn);

    // The connection drops before `/disk set` runs during ControllerPublish: retried, then fenced correctly.
    c.rds.sim.faults.dropConnection("/disk set");
    const v = {
      id,
      nqn,
      capacityBytes: GiB,
      cap: mountCap(),
      volumeContext: created.value.volume!.volume_context ?? {},
    };
    await withRetries(() => controllerPublish(c, v, node));
    expect(nvmetSubsystem(nqn)).toMatchObject({ allowAnyHost: false, allowedHosts: [node.hostNqn] });
    expect(c.rds.sim.stats.totalConnections).toBeGreaterThan(connectionsBefore);

    // And the volume works end to end afterwards.
    const p = kubeletPaths(node, v);
    await nodeStage(node, v, await controllerPublish(c, v, node), p.staging);
    expect(hostControllers(nqn)[0]?.state).toBe("live");
    await node.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: p.staging });
    await controllerUnpublish(c, v, node);
    await deleteVolume(c, v);
    expect(nvmetSubsystem(nqn)).toBeUndefined();
  });
});
