// Issue 13 item 1 on loop devices (the NVMe/TCP proof is VM scenario 10-fencing): a NodeStage under a new
// attachment generation tears down what an earlier attachment left staged on this node — refusing while
// it is still published — and records the new generation; the same generation again is idempotent; a
// controller without generations changes nothing.
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code } from "../../src/csi/errors.ts";
import { PublishKey } from "../../src/csi/volume-context.ts";
import { attachmentRecordPath } from "../../src/node/attachment-record.ts";
import { parseMountInfo } from "../../src/node/mount/mountinfo.ts";
import type { NodeServiceHandle } from "../../src/node/node-service.ts";
import {
  blockCap,
  capOut,
  cleanupWorkdir,
  codeOf,
  createImage,
  ctx,
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
  ({ dir, root, svc } = await startLoopNode("gen"));
});

afterEach(async () => {
  await svc?.close();
  await cleanupWorkdir(dir);
});

/** The ext4 superblock's mount count: one more after every mount. */
const mountCount = (image: string) => Number(/Mount count:\s+(\d+)/.exec(sh("dumpe2fs", ["-h", image]))?.[1]);

const mountId = (path: string) =>
  parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8")).find((m) => m.mountPoint === path)?.mountId;

function reqs(id: string, block = false) {
  const cap = capOut(block ? blockCap() : mountCap());
  const staging = join(dir, "staging", id, "globalmount");
  const target = join(dir, "pods", id, block ? "dev" : "mount");
  return {
    staging,
    target,
    stage: (generation?: number) => ({
      volume_id: id,
      staging_target_path: staging,
      publish_context: {
        ...loopContext(`pool/${id}.img`),
        ...(generation ? { [PublishKey.generation]: String(generation) } : {}),
      },
      volume_capability: cap,
      secrets: {},
      volume_context: {},
    }),
    publish: {
      volume_id: id,
      staging_target_path: staging,
      target_path: target,
      volume_capability: cap,
      readonly: false,
      secrets: {},
      publish_context: {},
      volume_context: {},
    },
  };
}

describe("attachment generations", () => {
  it("tears down a filesystem stage of an earlier generation, refusing while it is published", async () => {
    await createImage(root, "pool/fs.img", 64 * MiB);
    const r = reqs("fs");
    await svc.NodeStageVolume(r.stage(1), ctx());
    await svc.NodePublishVolume(r.publish, ctx());
    await writeFile(join(r.target, "a.txt"), "generation 1");
    sh("sync", ["-f", join(r.target, "a.txt")]);
    expect(JSON.parse(readFileSync(attachmentRecordPath(r.staging), "utf8"))).toEqual({
      volumeId: "fs",
      generation: 1,
    });
    const first = mountId(r.staging);
    const countBefore = mountCount(join(root, "pool/fs.img"));
    await svc.NodeStageVolume(r.stage(1), ctx()); // same generation: idempotent
    expect(mountId(r.staging)).toBe(first);

    // Force-detached and published here again (generation 3): the old stage is still published.
    const refused = await codeOf(svc.NodeStageVolume(r.stage(3), ctx()));
    expect(refused.code).toBe(Code.FAILED_PRECONDITION);
    expect(refused.message).toMatch(/generation 1 .*generation 3 was requested.*still published at/);
    expect(mountId(r.staging)).toBe(first); // nothing torn down

    // The stale filesystem's cache (here: a file never synced) must not reach the volume at teardown.
    await writeFile(join(r.staging, "unsynced.txt"), "stale cache");
    await svc.NodeUnpublishVolume({ volume_id: "fs", target_path: r.target }, ctx());
    await svc.NodeStageVolume(r.stage(3), ctx());
    const second = mountId(r.staging);
    expect(second).toBeDefined();
    // Unmounted, detached, attached and mounted again (mount ids are reused; the mount count is not).
    expect(mountCount(join(root, "pool/fs.img"))).toBe(countBefore + 1);
    expect(readFileSync(join(r.staging, "a.txt"), "utf8")).toBe("generation 1");
    expect(existsSync(join(r.staging, "unsynced.txt"))).toBe(false); // shut down, not flushed
    expect(JSON.parse(readFileSync(attachmentRecordPath(r.staging), "utf8")).generation).toBe(3);

    const older = await codeOf(svc.NodeStageVolume(r.stage(2), ctx())); // a late, older publish context
    expect(older.code).toBe(Code.FAILED_PRECONDITION);
    expect(older.message).toMatch(/older generation 2/);
    expect(mountId(r.staging)).toBe(second);

    await svc.NodeStageVolume(r.stage(), ctx()); // a controller without generations: as it is
    expect(mountId(r.staging)).toBe(second);

    await svc.NodeUnstageVolume({ volume_id: "fs", staging_target_path: r.staging }, ctx());
    expect(existsSync(attachmentRecordPath(r.staging))).toBe(false);
    expect(loopsUnder(root)).toEqual([]);
  });

  it("detaches a block stage of an earlier generation, refusing while its device node is published", async () => {
    await createImage(root, "pool/blk.img", 16 * MiB);
    const r = reqs("blk", true);
    await svc.NodeStageVolume(r.stage(5), ctx());
    await svc.NodePublishVolume(r.publish, ctx());
    const loopBefore = loopsUnder(root);
    expect(loopBefore).toHaveLength(1);
    const refused = await codeOf(svc.NodeStageVolume(r.stage(6), ctx()));
    expect(refused.code).toBe(Code.FAILED_PRECONDITION);
    expect(refused.message).toMatch(/generation 5 .*still published at/);
    await svc.NodeUnpublishVolume({ volume_id: "blk", target_path: r.target }, ctx());
    await svc.NodeStageVolume(r.stage(6), ctx());
    expect(loopsUnder(root)).toHaveLength(1);
    expect(JSON.parse(readFileSync(attachmentRecordPath(r.staging), "utf8")).generation).toBe(6);
    await svc.NodeUnstageVolume({ volume_id: "blk", staging_target_path: r.staging }, ctx());
    expect(loopsUnder(root)).toEqual([]);
  });
});
