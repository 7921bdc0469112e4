// Two clusters sharing one RDS (two controller processes with their own --instance-id on one simulator)
// that both create a volume named `data`: each gets its own slot, and neither adopts, nor deletes, the
// other's volume. Before the instance identity, both names hashed to one slot and the second cluster's
// CreateVolume returned the first cluster's volume.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeRecord, encodeRecord, instanceTag } from "../../src/controller/volume-record.ts";
import type { RdsClient } from "../../src/rds/types.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { codeOf, GiB, mountCap } from "../helpers/controller-env.ts";
import { type ControllerProcess, startControllerProcess } from "../helpers/controller-process.ts";
import { simClient } from "../helpers/sim-client.ts";

let rds: EmbeddedRds;
let east: ControllerProcess;
let west: ControllerProcess;
let client: RdsClient;

beforeAll(async () => {
  rds = await startEmbeddedRds({ pools: [{ name: "storage-pool", sizeBytes: 100 * GiB }] });
  [east, west] = await Promise.all([
    startControllerProcess(rds, ["--instance-id", "cluster-east"]),
    startControllerProcess(rds, ["--instance-id", "cluster-west"]),
  ]);
  client = simClient(rds);
});

afterAll(async () => {
  await Promise.all([east?.stop(), west?.stop()]);
  await client?.close();
  await rds?.close();
});

const create = (c: ControllerProcess, name: string) =>
  c.csi.controller.CreateVolume({
    name,
    capacity_range: { required_bytes: String(GiB) },
    volume_capabilities: [mountCap()],
  });

describe("two instances on one appliance", () => {
  it("the same name gives each cluster its own volume, and deleting one leaves the other", async () => {
    const a = (await create(east, "data")).volume!.volume_id;
    const b = (await create(west, "data")).volume!.volume_id;
    expect(a).not.toBe(b);
    expect(decodeRecord((await client.getDisk(a))!.comment)?.instance).toBe(instanceTag("cluster-east"));
    expect(decodeRecord((await client.getDisk(b))!.comment)?.instance).toBe(instanceTag("cluster-west"));
    expect((await create(east, "data")).volume!.volume_id).toBe(a); // a retry still finds its own
    await west.csi.controller.DeleteVolume({ volume_id: b });
    expect(await client.getDisk(a)).toBeDefined();
    expect(await client.getDisk(b)).toBeUndefined();
  });

  it("a disk recorded by another instance at our slot is refused, not adopted", async () => {
    // What a name collision (or a pvc-<uuid> reused across clusters) looks like from our side.
    const mine = (await create(east, "logs")).volume!.volume_id;
    const disk = (await client.getDisk(mine))!;
    const foreign = { ...decodeRecord(disk.comment)!, instance: instanceTag("cluster-west") };
    await client.setDisk(mine, { comment: encodeRecord(foreign), ifComment: disk.comment });
    expect(await codeOf(create(east, "logs"))).toBe("ALREADY_EXISTS");
    const c = east.csi.controller;
    expect(await codeOf(c.DeleteVolume({ volume_id: mine }))).not.toBe("OK");
    expect(
      await codeOf(
        c.ControllerPublishVolume({ volume_id: mine, node_id: "node-a", volume_capability: mountCap() }),
      ),
    ).toBe("FAILED_PRECONDITION");
    expect(await client.getDisk(mine)).toBeDefined();
  });
});
