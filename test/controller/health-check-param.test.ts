// The StorageClass parameter healthCheck (issue 13 item 8): the node's default check at stage is the fast
// superblock check; a class may ask for the full read-only check. The controller validates the value and
// hands it to the node in volume_context, so every stage of such a volume runs the check the class chose.
import { describe, expect, it } from "vitest";
import { VolumeContextKey } from "../../src/csi/volume-context.ts";
import { codeOf, GiB, mountCap, useControllerEnv } from "../helpers/controller-env.ts";

const env = useControllerEnv();
const create = (name: string, parameters: Record<string, string>) =>
  env().csi.controller.CreateVolume({
    name,
    capacity_range: { required_bytes: String(GiB) },
    volume_capabilities: [mountCap()],
    parameters,
  });

describe("StorageClass healthCheck", () => {
  it("full reaches the node in volume_context, and the listed volume keeps it", async () => {
    const name = "pvc-00000001-0000-4000-8000-00000000c4ec";
    const v = await create(name, { healthCheck: "full" });
    expect(v.volume?.volume_context?.[VolumeContextKey.healthCheck]).toBe("full");
    const again = await create(name, { healthCheck: "full" }); // idempotent retry, same answer
    expect(again.volume?.volume_context?.[VolumeContextKey.healthCheck]).toBe("full");
    await env().csi.controller.DeleteVolume({ volume_id: v.volume!.volume_id });
  });

  it("without it the node's default applies (no key), and anything but fast or full is INVALID_ARGUMENT", async () => {
    const v = await create("pvc-00000002-0000-4000-8000-00000000c4ec", {});
    expect(v.volume?.volume_context?.[VolumeContextKey.healthCheck]).toBeUndefined();
    await env().csi.controller.DeleteVolume({ volume_id: v.volume!.volume_id });
    for (const bad of ["off", "FULL", "full; reboot"])
      expect(await codeOf(create("pvc-00000003-0000-4000-8000-00000000c4ec", { healthCheck: bad }))).toBe(
        "INVALID_ARGUMENT",
      );
  });
});
