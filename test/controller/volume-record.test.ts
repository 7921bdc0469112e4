// The volume record in the disk comment (src/controller/volume-record.ts): it round-trips, stays in the
// comment's alphabet, and its worst case with two attachments fits RouterOS's 1,024 characters. The
// largest valid inputs are built from the validators' own limits, so a limit raised later fails here.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseParams, storedParams } from "../../src/controller/params.ts";
import {
  type Attachment,
  decodeRecord,
  encodeRecord,
  hasParams,
  instanceTag,
  isNamed,
  NAME_KEPT_MAX,
  NODE_ID_MAX_BYTES,
  newRecord,
  type VolumeRecord,
} from "../../src/controller/volume-record.ts";
import { COMMENT_MAX, validateComment } from "../../src/rds/command.ts";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The largest StorageClass every validator accepts. */
function largestParams(): Record<string, string> {
  const label = "a".repeat(63);
  return storedParams(
    parseParams({
      volumePath: `storage-pool/${"d".repeat(200)}`,
      nvmeAddress: [label, label, label, "a".repeat(61)].join("."), // 253 characters
      nvmePort: "65535",
      ctrlLossTmo: "31536000",
      reconnectDelay: "3600",
      keepAliveTmo: "3600",
      nrIoQueues: "1024",
      mkfsOptions: "-E".padEnd(256, "x"),
      snapshotMethod: "btrfs-subvolume",
    }),
  );
}

function attach(node: string, generation: number): Attachment {
  return { node, mode: "multi", readonly: true, generation };
}

describe("volume record v2", () => {
  it("the worst case with two attachments fits in a RouterOS comment", () => {
    // Node ids of the CSI maximum in characters that must be encoded, the longest name kept in full,
    // every parameter at its limit, a content source, and counters at their largest.
    const node = (c: string) => c.repeat(NODE_ID_MAX_BYTES / Buffer.byteLength(c));
    const r = newRecord({
      name: "n".repeat(NAME_KEPT_MAX), // the longest name kept as it is (longer ones by a shorter digest)
      slot: `csi-${"f".repeat(24)}`,
      requiredBytes: MAX_SAFE,
      params: largestParams(),
      instance: instanceTag("x"),
      source: { snapshot: `snapshot-${"0".repeat(8)}-0000-0000-0000-${"0".repeat(12)}` },
    });
    r.attachments = [attach(node("é"), MAX_SAFE - 1), attach(node("ü"), MAX_SAFE)];
    r.generation = MAX_SAFE;
    r.createdAt = "9999-12-31T23:59:59.000Z";
    const comment = encodeRecord(r);
    expect(comment.length).toBeLessThanOrEqual(COMMENT_MAX);
    expect(validateComment(comment)).toBe(comment);
    expect(decodeRecord(comment)).toEqual(r);
    // For the closing note: the typical and the worst size.
    const typical = newRecord({
      name: "pvc-0f0e0d0c-0b0a-4909-8807-060504030201",
      slot: "pvc-0f0e0d0c-0b0a-4909-8807-060504030201",
      requiredBytes: 10 * 2 ** 30,
      params: storedParams(parseParams({ ctrlLossTmo: "-1" })),
      instance: instanceTag("x"),
    });
    typical.attachments = [{ node: "worker-1", mode: "single", readonly: false, generation: 1 }];
    typical.generation = 1;
    console.log(`volume record: typical ${encodeRecord(typical).length}, worst ${comment.length} characters`);
    expect(encodeRecord(typical).length).toBeLessThan(200);
  });

  it("round-trips anything and stays in the comment's alphabet", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ maxLength: 1024, unit: "grapheme" })),
        fc.integer({ min: 0, max: MAX_SAFE }),
        fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 60 }), fc.boolean(), fc.boolean()), {
          maxLength: 2,
        }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (name, bytes, nodes, generation) => {
          const r: VolumeRecord = newRecord({
            name,
            slot: "csi-0",
            requiredBytes: bytes,
            params: { nvmePort: "4420", ctrlLossTmo: "-1", mkfsOptions: "-E x=1" },
          });
          r.attachments = nodes.map(([node, multi, ro], i) => ({
            node,
            mode: multi ? "multi" : "single",
            readonly: ro,
            generation: generation + i + 1,
          }));
          r.generation = generation + nodes.length;
          r.createdAt = "2026-11-21T00:00:00.000Z";
          const comment = encodeRecord(r);
          expect(validateComment(comment)).toBe(comment);
          const back = decodeRecord(comment);
          expect(back).toEqual(r);
          expect(isNamed(back!, name)).toBe(true);
          expect(isNamed(back!, `${name}x`)).toBe(false);
          expect(hasParams(back!, { nvmePort: "4420", ctrlLossTmo: "-1", mkfsOptions: "-E x=1" })).toBe(true);
          expect(hasParams(back!, { nvmePort: "4420", ctrlLossTmo: "-1" })).toBe(false);
          expect(back!.params).toEqual({ ctrlLossTmo: "-1" }); // only what ControllerPublish reads
        },
      ),
    );
    expect(decodeRecord("someone else's comment")).toBeUndefined();
    expect(decodeRecord("rds-csi:2 b=x n=a")).toBeUndefined();
  });

  it("still reads version 1 records (base64url JSON)", () => {
    const v1 = `rds-csi:1:${Buffer.from(
      JSON.stringify({
        n: "data",
        b: 1024,
        p: { nvmeAddress: "rds.lan", mkfsOptions: "-m 0" },
        a: [["node-a", 0, 0, 4]],
        t: "2026-01-01T00:00:00.000Z",
      }),
    ).toString("base64url")}`;
    const r = decodeRecord(v1)!;
    expect(r).toMatchObject({ name: "data", requiredBytes: 1024, generation: 4 });
    expect(r.attachments).toEqual([{ node: "node-a", mode: "single", readonly: false, generation: 4 }]);
    expect(hasParams(r, { mkfsOptions: "-m 0", nvmeAddress: "rds.lan" })).toBe(true);
    // Written back (any publish), it becomes a version 2 record without losing what publish needs:
    // the StorageClass's address, which an old PV's volume_context does not carry.
    const v2 = decodeRecord(encodeRecord(r))!;
    expect(v2.attachments).toEqual(r.attachments);
    expect(v2.params.nvmeAddress).toBe("rds.lan");
    expect(encodeRecord(r)).toMatch(/^rds-csi:2 /);
  });
});
