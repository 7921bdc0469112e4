// Issue 14 item 9: the smaller mismatches, each against the controller over gRPC on the simulator (or,
// for the unsafe mount options, the node service too, which refuses before touching any device).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Code, type CsiError } from "../../src/csi/errors.ts";
import { toBytes } from "../../src/csi/int64.ts";
import { VolumeContextKey } from "../../src/csi/volume-context.ts";
import { createNodeService } from "../../src/node/node-service.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { codeOf, GiB, mountCap, useControllerEnv } from "../helpers/controller-env.ts";

const env = useControllerEnv();
const pvc = (n: number) => `pvc-${n.toString(16).padStart(8, "0")}-0000-4000-8000-0000000009e9`;
const TOO_BIG = "9007199254740993"; // 2^53 + 1: a valid int64 beyond what the driver can address

const create = (name: string, extra: Record<string, unknown> = {}) =>
  env().csi.controller.CreateVolume({
    name,
    capacity_range: { required_bytes: String(GiB) },
    volume_capabilities: [mountCap()],
    ...extra,
  });

describe("int64 sizes", () => {
  it("above 2^53 are OUT_OF_RANGE; malformed ones INVALID_ARGUMENT", async () => {
    expect(await codeOf(create(pvc(1), { capacity_range: { required_bytes: TOO_BIG } }))).toBe(
      "OUT_OF_RANGE",
    );
    expect(await codeOf(create(pvc(1), { capacity_range: { limit_bytes: "9223372036854775807" } }))).toBe(
      "OUT_OF_RANGE",
    );
    const code = (f: () => unknown) => {
      try {
        f();
        return "OK";
      } catch (e) {
        return (e as CsiError).code;
      }
    };
    expect(code(() => toBytes("-1", "x"))).toBe(Code.INVALID_ARGUMENT);
    expect(code(() => toBytes("1e3", "x"))).toBe(Code.INVALID_ARGUMENT);
  });
});

describe("ControllerExpandVolume", () => {
  it("with limit_bytes below the current size is OUT_OF_RANGE (never shrinks, never claims success)", async () => {
    await create(pvc(2), { capacity_range: { required_bytes: String(2 * GiB) } });
    const r = env().csi.controller.ControllerExpandVolume({
      volume_id: pvc(2),
      capacity_range: { required_bytes: String(GiB), limit_bytes: String(GiB) },
    });
    expect(await codeOf(r)).toBe("OUT_OF_RANGE");
    expect((await env().client.getDisk(pvc(2)))?.sizeBytes).toBe(2 * GiB);
  });
});

describe("CreateVolume", () => {
  it("a RouterOS 'no such item' (a concurrent change) is ABORTED, not NOT_FOUND", async () => {
    env().rds.sim.faults.failNext("/disk add", "no such item (4)");
    expect(await codeOf(create(pvc(3)))).toBe("ABORTED");
    env().rds.sim.faults.clear();
    expect(await codeOf(create(pvc(3)))).toBe("OK"); // the retry succeeds
  });
});

describe("DeleteVolume of a disk whose record cannot be read", () => {
  it("refuses with FAILED_PRECONDITION and leaves the disk (never OK with the disk still there)", async () => {
    await create(pvc(4));
    const disk = (await env().client.getDisk(pvc(4)))!;
    await env().client.setDisk(pvc(4), { comment: "rds-csi:2 damaged", ifComment: disk.comment });
    const r = env().csi.controller.DeleteVolume({ volume_id: pvc(4) });
    expect(await codeOf(r)).toBe("FAILED_PRECONDITION");
    expect(await env().client.getDisk(pvc(4))).toBeDefined();
  });
});

describe("mount options that weaken safety", () => {
  const unsafe = mountCap();
  unsafe.mount = { fs_type: "ext4", mount_flags: ["noatime,errors=continue"] };
  const writeback = mountCap();
  writeback.mount = { fs_type: "ext4", mount_flags: ["data=writeback"] };

  it("are refused by CreateVolume unless the StorageClass allows them", async () => {
    expect(await codeOf(create(pvc(5), { volume_capabilities: [unsafe] }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(create(pvc(5), { volume_capabilities: [writeback] }))).toBe("INVALID_ARGUMENT");
    const ok = await create(pvc(5), {
      volume_capabilities: [unsafe],
      parameters: { allowUnsafeMountOptions: "true" },
    });
    expect(ok.volume?.volume_context?.[VolumeContextKey.unsafeMountOptions]).toBe("true");
  });

  it("are refused by NodeStageVolume unless volume_context carries the StorageClass's permission", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rds-unsafe-"));
    const node = createNodeService({ nodeId: "node-a", transport: "loop", loopRoot: dir, log: silentLogger });
    try {
      const stage = (volume_context: Record<string, string>) =>
        node.NodeStageVolume(
          {
            volume_id: pvc(6),
            staging_target_path: join(dir, "staging"),
            // A target file that does not exist: an allowed option gets past validation and fails later.
            publish_context: { "rds.csi/file-path": "storage-pool/k8s/none.img" },
            volume_capability: { ...unsafe, access_type: "mount" } as never,
            secrets: {},
            volume_context,
          },
          {
            method: "NodeStageVolume",
            requestId: "t",
            log: silentLogger,
            signal: new AbortController().signal,
          },
        );
      const refused = await stage({}).catch((e: CsiError) => e);
      expect(refused).toMatchObject({
        code: Code.INVALID_ARGUMENT,
        message: expect.stringMatching(/errors=continue/),
      });
      const allowed = await stage({ [VolumeContextKey.unsafeMountOptions]: "true" }).catch(
        (e: CsiError) => e,
      );
      expect((allowed as CsiError).message).not.toMatch(/weakens data safety/);
    } finally {
      await node.close?.();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
