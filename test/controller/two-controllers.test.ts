// Two controller processes on one simulator (a leader-election hand-over, or `replicas: 2`): nothing is
// shared but the appliance, so only compare-and-set record writes keep the fencing intact.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeRecord } from "../../src/controller/volume-record.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { codeOf, GiB, mountCap } from "../helpers/controller-env.ts";
import { type ControllerProcess, startControllerProcess } from "../helpers/controller-process.ts";
import { simClient } from "../helpers/sim-client.ts";

let rds: EmbeddedRds;
let one: ControllerProcess;
let two: ControllerProcess;

beforeAll(async () => {
  rds = await startEmbeddedRds({ pools: [{ name: "storage-pool", sizeBytes: 100 * GiB }] });
  [one, two] = await Promise.all([startControllerProcess(rds), startControllerProcess(rds)]);
});

afterAll(async () => {
  await Promise.all([one?.stop(), two?.stop()]);
  await rds?.close();
});

const pvc = (n: number) => `pvc-${n.toString(16).padStart(8, "0")}-0000-4000-8000-00000000c0de`;

describe("two controllers, one appliance", () => {
  it("an Expand that read the record before a concurrent Publish cannot drop the attachment", async () => {
    const id = pvc(1);
    await one.csi.controller.CreateVolume({
      name: id,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mountCap()],
    });
    // The pool read sits between Expand's record read and its write: Publish, in the other process,
    // reads and writes inside that window.
    rds.sim.faults.latency(400, { match: "mount-point" });
    const expand = two.csi.controller.ControllerExpandVolume({
      volume_id: id,
      capacity_range: { required_bytes: String(2 * GiB) },
      volume_capability: mountCap(),
    });
    await new Promise((r) => setTimeout(r, 150));
    await one.csi.controller.ControllerPublishVolume({
      volume_id: id,
      node_id: "node-a",
      volume_capability: mountCap(),
    });
    const expandOutcome = await codeOf(expand);
    rds.sim.faults.clear();

    const record = decodeRecord((await diskComment(id)) ?? "");
    expect(record?.attachments.map((a) => a.node)).toEqual(["node-a"]);
    // The fence holds: a second single-node publish elsewhere is refused, by either controller.
    for (const c of [one, two])
      expect(
        await codeOf(
          c.csi.controller.ControllerPublishVolume({
            volume_id: id,
            node_id: "node-b",
            volume_capability: mountCap(),
          }),
        ),
      ).toBe("FAILED_PRECONDITION");
    // The Expand that lost the race was told to retry, and the retry succeeds without losing anything.
    expect(expandOutcome).toBe("ABORTED");
    const retried = await two.csi.controller.ControllerExpandVolume({
      volume_id: id,
      capacity_range: { required_bytes: String(2 * GiB) },
      volume_capability: mountCap(),
    });
    expect(retried.capacity_bytes).toBe(String(2 * GiB));
    expect(decodeRecord((await diskComment(id)) ?? "")?.attachments.map((a) => a.node)).toEqual(["node-a"]);
  });
});

async function diskComment(slot: string): Promise<string | undefined> {
  const client = simClient(rds);
  try {
    return (await client.getDisk(slot))?.comment;
  } finally {
    await client.close();
  }
}
