// Attachment generations (issue 13 item 1, controller side): every ControllerPublish that creates an
// attachment hands out the volume's next number, kept on the appliance; a retried publish of the same
// attachment gets the same number; a fresh controller (no local state) continues the sequence.
import { describe, expect, it } from "vitest";
import { decodeRecord } from "../../src/controller/volume-record.ts";
import { decodeGeneration } from "../../src/csi/volume-context.ts";
import { blockCap, GiB, mountCap, useControllerEnv } from "../helpers/controller-env.ts";

const env = useControllerEnv();
const VOL = "pvc-0000b001-0000-4000-8000-000000000000";

async function publish(node: string, cap = mountCap()): Promise<number | undefined> {
  const r = await env().csi.controller.ControllerPublishVolume({
    volume_id: VOL,
    node_id: node,
    volume_capability: cap,
  });
  return decodeGeneration(r.publish_context ?? {});
}
const unpublish = (node: string) =>
  env().csi.controller.ControllerUnpublishVolume({ volume_id: VOL, node_id: node });

describe("attachment generation", () => {
  it("grows with every new attachment, repeats for a retry, and survives a controller restart", async () => {
    await env().csi.controller.CreateVolume({
      name: VOL,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mountCap(), blockCap("MULTI_NODE_MULTI_WRITER")],
    });
    expect(await publish("node-a")).toBe(1);
    expect(await publish("node-a")).toBe(1); // idempotent retry: same attachment, same generation
    await unpublish("node-a");
    expect(await publish("node-b")).toBe(2);
    await unpublish("node-b");
    await env().restartController();
    expect(await publish("node-a")).toBe(3); // the fenced node comes back under a new generation
    expect(await publish("node-a")).toBe(3);
    const record = decodeRecord((await env().client.getDisk(VOL))!.comment);
    expect(record?.generation).toBe(3);
    expect(record?.attachments).toEqual([expect.objectContaining({ node: "node-a", generation: 3 })]);
    await unpublish("node-a");
  });

  it("gives each node of a live migration its own generation", async () => {
    const rwx = blockCap("MULTI_NODE_MULTI_WRITER");
    const a = await publish("node-a", rwx);
    const b = await publish("node-b", rwx);
    expect(b).toBe((a ?? 0) + 1);
    expect(await publish("node-a", rwx)).toBe(a);
    await unpublish("node-a");
    await unpublish("node-b");
  });
});
