// Issue 13 item 6: mkfs discards the whole device by default, and a file-backed export turns discards
// into hole punches (a Linux nvmet file namespace, or here a loop device over the file): the first mkfs
// made a pre-allocated volume sparse, the pool's free space rose and capacity was overcommitted. The
// driver formats with nodiscard (`-E nodiscard`, `mkfs.xfs -K`) and never adds a `discard` mount option;
// the backing file keeps its allocated blocks through NodeStage. (The VM scenario 02 checks the same
// over NVMe/TCP.)
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { withNoDiscard } from "../../src/node/mount/mkfs.ts";
import { parseMountInfo } from "../../src/node/mount/mountinfo.ts";
import type { NodeServiceHandle } from "../../src/node/node-service.ts";
import {
  capOut,
  cleanupWorkdir,
  createImage,
  ctx,
  loopContext,
  MiB,
  mountCap,
  sh,
  startLoopNode,
} from "./helpers.ts";

let dir: string;
let root: string;
let svc: NodeServiceHandle;

beforeEach(async () => {
  ({ dir, root, svc } = await startLoopNode("discard"));
});

afterEach(async () => {
  await svc?.close();
  await cleanupWorkdir(dir);
});

const allocated = (p: string) => statSync(p).blocks * 512;

describe("pre-allocated volumes stay allocated", () => {
  it.each([
    ["ext4", 64 * MiB, ""],
    ["xfs", 320 * MiB, ""],
    ["ext4", 64 * MiB, "-E lazy_itable_init=1"],
  ])(
    "mkfs.%s of a fully allocated %d-byte file punches no holes (mkfsOptions %j)",
    async (fsType, size, mkfsOptions) => {
      const file = await createImage(root, `pool/${fsType}.img`, size);
      sh("fallocate", ["-l", String(size), file]);
      const before = allocated(file);
      expect(before).toBeGreaterThanOrEqual(size);
      const staging = join(dir, "staging", fsType);
      await svc.NodeStageVolume(
        {
          volume_id: fsType,
          staging_target_path: staging,
          publish_context: loopContext(`pool/${fsType}.img`),
          volume_capability: capOut(mountCap(fsType)),
          secrets: {},
          volume_context: mkfsOptions ? { mkfsOptions } : {},
        },
        ctx(),
      );
      const m = parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8")).find(
        (x) => x.mountPoint === staging,
      );
      expect(m?.options).not.toContain("discard");
      expect(m?.superOptions).not.toContain("discard");
      expect(allocated(file)).toBeGreaterThanOrEqual(before);
      await svc.NodeUnstageVolume({ volume_id: fsType, staging_target_path: staging }, ctx());
      expect(allocated(file)).toBeGreaterThanOrEqual(before);
    },
  );
});

describe("withNoDiscard", () => {
  it("adds nodiscard, merges it into the class's -E, and leaves an explicit discard (thin) alone", () => {
    expect(withNoDiscard("ext4", [])).toEqual(["-E", "nodiscard"]);
    expect(withNoDiscard("ext4", ["-E", "stride=8", "-L", "x"])).toEqual([
      "-E",
      "stride=8,nodiscard",
      "-L",
      "x",
    ]);
    expect(withNoDiscard("ext4", ["-E", "discard"])).toEqual(["-E", "discard"]);
    expect(withNoDiscard("xfs", ["-L", "x"])).toEqual(["-K", "-L", "x"]);
    expect(withNoDiscard("xfs", ["-K"])).toEqual(["-K"]);
  });
});
