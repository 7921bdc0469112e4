// SSH round trips per RPC, from the simulator's command log: what a user feels on a real appliance, where
// every exec is a round trip of tens to hundreds of milliseconds. docs/architecture.md lists the same
// numbers. Each RPC's reads go out together (one exec, or two side by side while channels are free) and
// each write carries its read-back, so the round trips are the RPC's steps. Execs whose spans on the
// simulator overlap ran side by side: one round trip (src/sim/round-trips.ts). Every exec here costs 20 ms,
// so execs sent one after another cannot overlap and execs sent together always do. Execs are counted too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roundTrips } from "../../src/sim/round-trips.ts";
import { GiB, mountCap, useControllerEnv } from "../helpers/controller-env.ts";

const env = useControllerEnv();
const pvc = (n: number) => `pvc-${n.toString(16).padStart(8, "0")}-0000-4000-8000-00000000a11c`;

beforeAll(() => env().rds.sim.faults.execLatency(20));
afterAll(() => env().rds.sim.faults.clear());

/** The exec lines the simulator received while `fn` ran, one array per round trip (execs side by side). */
async function roundsOf(fn: () => Promise<unknown>): Promise<string[][]> {
  const log = env().rds.sim.commandLog;
  const before = log.length;
  await fn();
  return roundTrips(log.slice(before)).map((r) => r.map((e) => e.command));
}

/** The exec lines, in the order the simulator received them. */
const execsOf = async (fn: () => Promise<unknown>) => (await roundsOf(fn)).flat();

const create = (name: string) =>
  env().csi.controller.CreateVolume({
    name,
    capacity_range: { required_bytes: String(GiB) },
    volume_capabilities: [mountCap()],
  });

describe("round trips per RPC", () => {
  it("CreateVolume of a new plain volume: 2 (the reads, two prints side by side; the add with its read-back)", async () => {
    // The first create of a controller also reads the RouterOS version and the pool's file system and
    // makes the volume directory; those are remembered.
    await create(pvc(1));
    const rounds = await roundsOf(() => create(pvc(2)));
    expect(rounds).toHaveLength(2);
    expect(rounds[0]!.sort()).toEqual([
      expect.stringMatching(
        /^\/disk print detail where slot="[^"]+" or mount-point="[^"]+"; :put "__RDS_OK__"$/,
      ),
      expect.stringMatching(/^\/file print detail where name="[^"]+"; :put "__RDS_OK__"$/),
    ]);
    expect(rounds[1]).toEqual([
      expect.stringMatching(/^\/disk add [^;]*; \/disk print detail where slot=[^;]*; :put "__RDS_OK__"$/),
    ]);
  });

  it("CreateVolume retried for an existing volume: 1", async () => {
    expect((await roundsOf(() => create(pvc(2)))).map((r) => r.length)).toEqual([2]); // the two prints
  });

  it("ControllerPublishVolume and ControllerUnpublishVolume: 2 each (read, compare-and-set with read-back)", async () => {
    const publish = () =>
      env().csi.controller.ControllerPublishVolume({
        volume_id: pvc(2),
        node_id: "node-a",
        volume_capability: mountCap(),
      });
    const rounds = await roundsOf(publish);
    expect(rounds.map((r) => r.length)).toEqual([1, 1]); // two round trips of one exec each
    expect(rounds[1]![0]).toMatch(
      /^\/disk set \[find where slot=.* and comment=.*\] .*; :put "__RDS_PART__1"; \/disk print detail/,
    );
    expect(await execsOf(publish)).toHaveLength(1); // already published: a read, nothing to write
    const unpublished = await roundsOf(() =>
      env().csi.controller.ControllerUnpublishVolume({ volume_id: pvc(2), node_id: "node-a" }),
    );
    expect(unpublished.map((r) => r.length)).toEqual([1, 1]);
  });

  it("DeleteVolume: 2 (read, then the disk and its file removed in one exec)", async () => {
    const rounds = await roundsOf(() => env().csi.controller.DeleteVolume({ volume_id: pvc(2) }));
    expect(rounds.map((r) => r.length)).toEqual([1, 1]);
    expect(rounds[1]![0]).toMatch(/\/disk remove \[find where slot=.*\]; \/file remove \[find where name=/);
    expect(await env().client.getFile(`storage-pool/k8s/${pvc(2)}.img`)).toBeUndefined();
  });

  it("ControllerExpandVolume: 3 (read, pool space, grow with read-back)", async () => {
    await create(pvc(3));
    const rounds = await roundsOf(() =>
      env().csi.controller.ControllerExpandVolume({
        volume_id: pvc(3),
        capacity_range: { required_bytes: String(2 * GiB) },
      }),
    );
    expect(rounds.map((r) => r.length)).toEqual([1, 1, 1]);
  });
});
