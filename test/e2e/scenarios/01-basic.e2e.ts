// Scenario 1: basic volume operations over real NVMe/TCP. CreateVolume makes the simulator export the
// disk through the kernel's nvmet with the volume's NQN and size; DeleteVolume removes the disk, its
// file and the whole export (subsystem, namespace, loop device).
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Cluster,
  NQN_PREFIX,
  NVME_ADDRESS,
  NVME_PORT,
  startCluster,
  VOLUME_PATH,
} from "../helpers/cluster.ts";
import {
  blockDeviceBytes,
  discover,
  GiB,
  loopBackingFile,
  nvmetSubsystem,
  nvmetSubsystems,
} from "../helpers/kernel.ts";
import { createVolume, deleteVolume, mountCap } from "../helpers/volumes.ts";

describe("basic volume operations", () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster({ name: "01-basic", combined: true });
  });
  afterAll(async () => {
    await c?.close();
  });

  it("exports a created volume with its NQN and size, and tears everything down on delete", async () => {
    const v = await createVolume(c, "basic", 2 * GiB, mountCap());
    expect(v.nqn).toBe(`${NQN_PREFIX}:${v.id}`);
    const disk = (await c.rdsClient.getDisk(v.id))!;
    const file = c.rds.sim.localPath(disk.filePath);

    // Target side: subsystem, namespace on a loop device over the disk's file, TCP port.
    const sub = nvmetSubsystem(v.nqn);
    expect(sub).toMatchObject({
      enabled: true,
      allowAnyHost: false, // exported, but nobody may connect before ControllerPublishVolume
      allowedHosts: [`${NQN_PREFIX}:no-host`],
      ports: [`${NVME_ADDRESS}:${NVME_PORT}`],
    });
    expect(sub!.devicePath).toMatch(/^\/dev\/loop\d+$/);
    expect(loopBackingFile(sub!.devicePath!)).toBe(file);
    expect(blockDeviceBytes(sub!.devicePath!)).toBe(2 * GiB);
    // The discovery controller offers it only to allowed hosts: not to a node before ControllerPublish.
    expect(discover(NVME_ADDRESS, NVME_PORT, c.nodes[0]!.hostNqn)).not.toContain(v.nqn);
    expect(discover(NVME_ADDRESS, NVME_PORT, `${NQN_PREFIX}:no-host`)).toContain(v.nqn);

    await deleteVolume(c, v);
    expect(nvmetSubsystem(v.nqn)).toBeUndefined();
    expect(nvmetSubsystems()).not.toContain(v.nqn);
    expect(loopBackingFile(sub!.devicePath!)).toBeUndefined();
    expect(existsSync(file)).toBe(false);
    expect(await c.rdsClient.getDisk(v.id)).toBeUndefined();
    expect(c.rds.sim.nvmet?.exports().map((e) => e.nqn)).not.toContain(v.nqn);
  });

  it("exports several volumes on one shared port", async () => {
    const vols = [];
    for (let i = 0; i < 3; i++) vols.push(await createVolume(c, `shared${i}`, GiB, mountCap()));
    for (const v of vols) expect(nvmetSubsystem(v.nqn)?.ports).toEqual([`${NVME_ADDRESS}:${NVME_PORT}`]);
    // Every one of them is offered on that port (to the placeholder host they all admit before a publish).
    const offered = discover(NVME_ADDRESS, NVME_PORT, `${NQN_PREFIX}:no-host`);
    for (const v of vols) expect(offered).toContain(v.nqn);
    for (const v of vols) await deleteVolume(c, v);
    for (const v of vols) expect(nvmetSubsystem(v.nqn)).toBeUndefined();
  });

  it("reports an export the kernel refuses as that command's error, without failing later commands", async () => {
    const slot = "e2e-port-taken";
    const nqn = `${NQN_PREFIX}:${slot}`;
    // The simulator's own SSH port is taken on 127.0.0.1: nvmet cannot listen there.
    const add = c.rdsClient.addFileDisk({
      slot,
      filePath: `${VOLUME_PATH}/${slot}.img`,
      fileSizeBytes: GiB,
      comment: "",
      nvmeExport: true,
      nvmePort: c.rds.sim.port,
      nqn,
    });
    await expect(add).rejects.toThrow(/nvme-tcp export/);
    expect(nvmetSubsystem(nqn)).toBeUndefined();
    // Later commands are not held hostage by it, and a working port brings the export up.
    expect((await c.rdsClient.getDisk(slot))?.nvmeExport).toBe(true);
    await c.rdsClient.setDisk(slot, { nvmePort: NVME_PORT });
    expect(nvmetSubsystem(nqn)).toMatchObject({ enabled: true, ports: [`${NVME_ADDRESS}:${NVME_PORT}`] });
    await c.rdsClient.removeDisk(slot);
    await c.rdsClient.removeFile(`${VOLUME_PATH}/${slot}.img`);
    expect(nvmetSubsystem(nqn)).toBeUndefined();
  });
});
