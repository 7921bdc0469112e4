// SSH execs per RPC, counted in the simulator's command log (one entry per exec, however many commands
// it holds): what a user feels on a real appliance, where every exec is a round trip of tens to hundreds
// of milliseconds. docs/architecture.md lists the same numbers. Each RPC's reads go in one exec and each
// write carries its read-back, so the counts below are also the sequential round trips.
import { describe, expect, it } from "vitest";
import { GiB, mountCap, useControllerEnv } from "../helpers/controller-env.ts";

const env = useControllerEnv();
const pvc = (n: number) => `pvc-${n.toString(16).padStart(8, "0")}-0000-4000-8000-00000000a11c`;

/** The exec lines the simulator received while `fn` ran. */
async function execsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const log = env().rds.sim.commandLog;
  const before = log.length;
  await fn();
  return log.slice(before).map((e) => e.command);
}

const create = (name: string) =>
  env().csi.controller.CreateVolume({
    name,
    capacity_range: { required_bytes: String(GiB) },
    volume_capabilities: [mountCap()],
  });

describe("round trips per RPC", () => {
  it("CreateVolume of a new plain volume: 2 (one exec of reads, one add with its read-back)", async () => {
    // The first create of a controller also reads the RouterOS version and the pool's file system and
    // makes the volume directory; those are remembered.
    await create(pvc(1));
    const lines = await execsOf(() => create(pvc(2)));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\/disk print detail where slot=.*; :put "__RDS_PART__1"; \/file print detail/);
    expect(lines[1]).toMatch(/^\/disk add [^;]*; \/disk print detail where slot=[^;]*; :put "__RDS_OK__"$/);
  });

  it("CreateVolume retried for an existing volume: 1", async () => {
    expect(await execsOf(() => create(pvc(2)))).toHaveLength(1);
  });

  it("ControllerPublishVolume and ControllerUnpublishVolume: 2 each (read, compare-and-set with read-back)", async () => {
    const publish = () =>
      env().csi.controller.ControllerPublishVolume({
        volume_id: pvc(2),
        node_id: "node-a",
        volume_capability: mountCap(),
      });
    const published = await execsOf(publish);
    expect(published).toHaveLength(2);
    expect(published[1]).toMatch(
      /^\/disk set \[find where slot=.* and comment=.*\] .*; :put "__RDS_PART__1"; \/disk print detail/,
    );
    expect(await execsOf(publish)).toHaveLength(1); // already published: a read, nothing to write
    const unpublished = await execsOf(() =>
      env().csi.controller.ControllerUnpublishVolume({ volume_id: pvc(2), node_id: "node-a" }),
    );
    expect(unpublished).toHaveLength(2);
  });

  it("DeleteVolume: 2 (read, then the disk and its file removed in one exec)", async () => {
    const lines = await execsOf(() => env().csi.controller.DeleteVolume({ volume_id: pvc(2) }));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/\/disk remove \[find where slot=.*\]; \/file remove \[find where name=/);
    expect(await env().client.getFile(`storage-pool/k8s/${pvc(2)}.img`)).toBeUndefined();
  });

  it("ControllerExpandVolume: 3 (read, pool space, grow with read-back)", async () => {
    await create(pvc(3));
    const lines = await execsOf(() =>
      env().csi.controller.ControllerExpandVolume({
        volume_id: pvc(3),
        capacity_range: { required_bytes: String(2 * GiB) },
      }),
    );
    expect(lines).toHaveLength(3);
  });
});
