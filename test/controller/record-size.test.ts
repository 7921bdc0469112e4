// The volume record must fit RouterOS's 1,024-character comment through a whole life: the largest valid
// StorageClass, a long name, and the second ControllerPublish of a live migration between two nodes with
// the longest Kubernetes node names (253 characters). Before the compact record, CreateVolume passed and
// that second publish failed with INTERNAL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";
import { blockCap, GiB } from "../helpers/controller-env.ts";
import { type ControllerProcess, startControllerProcess } from "../helpers/controller-process.ts";

const label = (c: string) => c.repeat(63);
const longNode = (c: string) => [label(c), label(c), label(c), c.repeat(61)].join("."); // 253 characters
const NODE_A = longNode("a");
const NODE_B = longNode("b");

let rds: EmbeddedRds;
let ctl: ControllerProcess;

beforeAll(async () => {
  rds = await startEmbeddedRds({ pools: [{ name: "storage-pool", sizeBytes: 100 * GiB }] });
  ctl = await startControllerProcess(rds, ["--known-nodes", `${NODE_A},${NODE_B}`]);
});

afterAll(async () => {
  await ctl?.stop();
  await rds?.close();
});

describe("record size", () => {
  it("a live migration of a volume with the largest StorageClass still publishes", async () => {
    const c = ctl.csi.controller;
    const rwx = blockCap("MULTI_NODE_MULTI_WRITER");
    const created = await c.CreateVolume({
      name: `sanity-${"n".repeat(121)}`, // what csi-sanity sends: 128 characters
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [rwx],
      parameters: {
        volumePath: `storage-pool/${"d".repeat(100)}`,
        nvmeAddress: longNode("r"),
        nvmePort: "4420",
        ctrlLossTmo: "31536000",
        reconnectDelay: "3600",
        keepAliveTmo: "3600",
        nrIoQueues: "1024",
        mkfsOptions: "-E".padEnd(256, "x"),
      },
    });
    const id = created.volume!.volume_id;
    const ctx = created.volume!.volume_context;
    for (const node of [NODE_A, NODE_B]) {
      const pub = await c.ControllerPublishVolume({
        volume_id: id,
        node_id: node,
        volume_capability: rwx,
        volume_context: ctx,
      });
      expect(pub.publish_context?.["rds.csi/address"]).toBe(longNode("r"));
    }
    const got = await c.ControllerGetVolume({ volume_id: id });
    expect(got.status?.published_node_ids).toEqual([NODE_A, NODE_B]);
  });
});
