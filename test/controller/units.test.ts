// Pure controller logic: sizes, ids, the on-appliance record, parameters and attach fencing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planPublish } from "../../src/controller/attachments.ts";
import { GiB, MiB, resolveCapacity } from "../../src/controller/capacity-range.ts";
import { versionAtLeast } from "../../src/controller/context.ts";
import { parseParams } from "../../src/controller/params.ts";
import { describeCapability } from "../../src/csi/capability.ts";
import { isVolumeId, slotForName } from "../../src/csi/volume-id.ts";

describe("resolveCapacity", () => {
  it("never returns less than required nor more than the limit", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 44 }),
        fc.integer({ min: 0, max: 2 ** 44 }),
        (required, extra) => {
          const limit = extra === 0 ? 0 : required + extra;
          try {
            const r = resolveCapacity({ required_bytes: String(required), limit_bytes: String(limit) });
            expect(r.size).toBeGreaterThanOrEqual(required);
            if (limit) expect(r.size).toBeLessThanOrEqual(limit);
            expect(r.size % 512).toBe(0);
          } catch (err) {
            expect((err as { code: number }).code).toBe(11); // OUT_OF_RANGE only when nothing fits
            expect(limit).toBeGreaterThan(0);
          }
        },
      ),
    );
  });
  it("defaults to 1 GiB and aligns to 1 MiB when it can", () => {
    expect(resolveCapacity(undefined).size).toBe(GiB);
    expect(resolveCapacity({ required_bytes: String(GiB + 1) }).size).toBe(GiB + MiB);
    expect(resolveCapacity({ required_bytes: String(GiB + 1), limit_bytes: String(GiB + 4096) }).size).toBe(
      GiB + 4096,
    );
  });
  it("compares int64 strings as numbers, not text", () => {
    expect(() => resolveCapacity({ required_bytes: "9000000000", limit_bytes: "10000000000" })).not.toThrow();
  });
});

describe("volume ids", () => {
  it("keeps pvc-<uuid> names and hashes the rest deterministically", () => {
    const pvc = "pvc-0f0e0d0c-0b0a-4909-8807-060504030201";
    expect(slotForName(pvc, "i")).toBe(pvc);
    const long = "sanity-" + "a".repeat(121);
    expect(slotForName(long, "i")).toBe(slotForName(long, "i"));
    expect(slotForName(long, "i")).toMatch(/^csi-[0-9a-f]{24}$/);
    expect(slotForName(long, "i")).not.toBe(slotForName(`${long}b`, "i"));
    expect(isVolumeId(slotForName(long, "i"))).toBe(true);
    expect(isVolumeId("fake-vol-id")).toBe(false);
  });
});

describe("parameters", () => {
  it("accepts the documented keys and provisioner metadata, refuses unknown ones", () => {
    expect(
      parseParams({
        volumePath: "/storage-pool/k8s/",
        nvmePort: "4421",
        ctrlLossTmo: "-1",
        "csi.storage.k8s.io/pvc/name": "x",
      }),
    ).toEqual({ volumePath: "storage-pool/k8s", nvmePort: 4421, ctrlLossTmo: -1 });
    expect(() => parseParams({ fsType: "ext4" })).toThrow(/unknown parameter/);
    expect(() => parseParams({ volumePath: "pool/../etc" })).toThrow();
    expect(() => parseParams({ nvmePort: "99999" })).toThrow();
  });
});

describe("attach fencing", () => {
  const rwo = describeCapability({
    mount: { fs_type: "ext4", mount_flags: [], volume_mount_group: "" },
    access_mode: { mode: "SINGLE_NODE_WRITER" },
  });
  const rwx = describeCapability({ block: {}, access_mode: { mode: "MULTI_NODE_MULTI_WRITER" } });
  it("fences single-node modes and allows two nodes for RWX block", () => {
    const one = planPublish([], 0, "a", rwo, false, "v");
    expect(one.change).toBe(true);
    const att = one.change ? one.attachments : [];
    expect(planPublish(att, 1, "a", rwo, false, "v")).toEqual({ change: false, attachment: att[0] });
    expect(() => planPublish(att, 1, "b", rwo, false, "v")).toThrow(/one node at a time/);
    expect(() => planPublish(att, 1, "a", rwo, true, "v")).toThrow(/already published/);
    const m1 = planPublish([], 0, "a", rwx, false, "v");
    const m2 = planPublish(m1.change ? m1.attachments : [], 1, "b", rwx, false, "v");
    expect(m2.change && m2.attachments.map((x) => x.node)).toEqual(["a", "b"]);
    expect(m2.change && m2.attachments.map((x) => x.generation)).toEqual([1, 2]);
    expect(() => planPublish(m2.change ? m2.attachments : [], 2, "c", rwx, false, "v")).toThrow(/allows 2/);
  });
  it("refuses ReadWriteMany on a filesystem", () => {
    expect(() =>
      describeCapability({
        mount: { fs_type: "ext4", mount_flags: [], volume_mount_group: "" },
        access_mode: { mode: "MULTI_NODE_MULTI_WRITER" },
      }),
    ).toThrow(/only supported with volumeMode Block/);
  });
});

describe("versionAtLeast", () => {
  it("compares RouterOS versions numerically", () => {
    expect(versionAtLeast("7.21", [7, 21])).toBe(true);
    expect(versionAtLeast("7.24.1 (stable)", [7, 21])).toBe(true);
    expect(versionAtLeast("7.9", [7, 21])).toBe(false);
    expect(versionAtLeast("7.20.8", [7, 21])).toBe(false);
  });
});
