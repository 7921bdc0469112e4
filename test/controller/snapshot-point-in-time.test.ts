// A snapshot or clone must be crash-consistent or refused. `/file copy` (any non-btrfs pool) is not
// atomic, so copying a volume that a node may be writing is refused with the reason while the volume is
// published; a btrfs subvolume snapshot is atomic and stays allowed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControllerEnv, codeOf, GiB, mountCap, startControllerEnv } from "../helpers/controller-env.ts";

const pvc = (n: number) => `pvc-${n.toString(16).padStart(8, "0")}-0000-4000-8000-0000000000a7`;

for (const fs of ["xfs", "btrfs"] as const) {
  describe(`copies of a published volume on a ${fs} pool`, () => {
    let env: ControllerEnv;
    beforeAll(async () => {
      env = await startControllerEnv({ sim: { pools: [{ name: "storage-pool", sizeBytes: 20 * GiB, fs }] } });
    });
    afterAll(async () => {
      await env?.close();
    });
    const cloneOf = (id: string) =>
      env.csi.controller.CreateVolume({
        name: pvc(2),
        capacity_range: { required_bytes: String(GiB) },
        volume_capabilities: [mountCap()],
        volume_content_source: { volume: { volume_id: id } },
      });

    it(
      fs === "xfs" ? "are refused while published, allowed once unpublished" : "are allowed (atomic)",
      async () => {
        const c = env.csi.controller;
        const id = pvc(1);
        await c.CreateVolume({
          name: id,
          capacity_range: { required_bytes: String(GiB) },
          volume_capabilities: [mountCap()],
        });
        await c.ControllerPublishVolume({ volume_id: id, node_id: "node-a", volume_capability: mountCap() });
        const snap = await c.CreateSnapshot({ name: "snap-pit-1", source_volume_id: id }).then(
          (r) => r,
          (e: unknown) => e,
        );
        const clone = await codeOf(cloneOf(id));
        if (fs === "xfs") {
          expect(snap).toMatchObject({
            code: 9,
            details: expect.stringMatching(/not atomic.*published to node-a/),
          });
          expect(clone).toBe("FAILED_PRECONDITION");
          // Nothing was left behind by the refusals.
          expect(await env.client.getDisk("snap-pit-1")).toBeUndefined();
          expect(await env.client.getDisk(pvc(2))).toBeUndefined();
          await c.ControllerUnpublishVolume({ volume_id: id, node_id: "node-a" });
          const ok = await c.CreateSnapshot({ name: "snap-pit-1", source_volume_id: id });
          expect(ok.snapshot?.ready_to_use).toBe(true);
          expect(await codeOf(cloneOf(id))).toBe("OK");
        } else {
          expect(snap).toMatchObject({ snapshot: { ready_to_use: true } });
          expect(clone).toBe("OK");
        }
      },
    );
  });
}
