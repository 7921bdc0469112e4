// Issue 13 item 4: a filesystem after an XFS forced shutdown answers stat() of its mount points with EIO.
// The mount table, not stat, must decide whether a target is mounted: NodeUnpublish unmounts it (and
// only then says OK), NodeGetVolumeStats reports the volume abnormal with the reason instead of
// NOT_FOUND, and NodeUnstage can then finish. Real loop device, mkfs.xfs, mount and `xfs_io -x -c shutdown`.
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NodeServiceHandle } from "../../src/node/node-service.ts";
import {
  capOut,
  cleanupWorkdir,
  createImage,
  ctx,
  exists,
  isMounted,
  loopContext,
  loopsUnder,
  MiB,
  mountCap,
  sh,
  startLoopNode,
} from "./helpers.ts";

let dir: string;
let root: string;
let svc: NodeServiceHandle;

beforeEach(async () => {
  ({ dir, root, svc } = await startLoopNode("shutdown"));
});

afterEach(async () => {
  await svc?.close();
  await cleanupWorkdir(dir);
});

describe("a filesystem after a forced shutdown", () => {
  it("is unpublished (really unmounted), reported abnormal by stats, and can be unstaged", async () => {
    await createImage(root, "pool/x.img", 320 * MiB);
    const cap = capOut(mountCap("xfs"));
    const staging = join(dir, "staging", "x");
    const target = join(dir, "target", "x");
    await svc.NodeStageVolume(
      {
        volume_id: "x",
        staging_target_path: staging,
        publish_context: loopContext("pool/x.img"),
        volume_capability: cap,
        secrets: {},
        volume_context: {},
      },
      ctx(),
    );
    const pub = {
      volume_id: "x",
      staging_target_path: staging,
      target_path: target,
      volume_capability: cap,
      readonly: false,
      secrets: {},
      publish_context: {},
      volume_context: {},
    };
    await svc.NodePublishVolume(pub, ctx());
    sh("xfs_io", ["-x", "-c", "shutdown", staging]);
    expect(() => sh("stat", [target])).toThrow(/Input\/output error/); // what the driver sees

    const stats = await svc.NodeGetVolumeStats(
      { volume_id: "x", volume_path: target, staging_target_path: staging },
      ctx(),
    );
    expect(stats.volume_condition?.abnormal).toBe(true);
    expect(stats.volume_condition?.message).toMatch(/input\/output error|EIO/i);

    await svc.NodeUnpublishVolume({ volume_id: "x", target_path: target }, ctx());
    expect(isMounted(target)).toBe(false);
    expect(exists(target)).toBe(false);
    await svc.NodeUnpublishVolume({ volume_id: "x", target_path: target }, ctx()); // idempotent

    await svc.NodeUnstageVolume({ volume_id: "x", staging_target_path: staging }, ctx());
    expect(isMounted(staging)).toBe(false);
    expect(loopsUnder(root)).toEqual([]);
  });
});
