// Issue 13 item 2: a device whose target is gone blocks every read of it in the kernel. Such reads must
// not run on libuv's thread pool (four threads): four of them would leave every asynchronous fs call of
// every RPC of the node waiting. Here the hung devices are FIFOs with no writer (an open for reading
// blocks until one appears, exactly like a read of a suspended device-mapper table; the host kernel of
// this machine has no device-mapper — the VM scenario 09-node-safety uses real `dmsetup suspend`).
// The unrelated volume is a real ext4 on a loop device, staged and published through the node service.
import { spawnSync } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkFilesystem } from "../../src/node/mount/fsck.ts";
import { filesystemBytes, readExtSuperblock } from "../../src/node/mount/superblock.ts";
import type { NodeServiceHandle } from "../../src/node/node-service.ts";
import {
  capOut,
  cleanupWorkdir,
  createImage,
  ctx,
  loopContext,
  MiB,
  mountCap,
  startLoopNode,
} from "./helpers.ts";

let dir: string;
let root: string;
let svc: NodeServiceHandle;

beforeEach(async () => {
  ({ dir, root, svc } = await startLoopNode("hung"));
});

afterEach(async () => {
  await svc?.close();
  await cleanupWorkdir(dir);
});

/** Resolves with the value, or with "timeout" after ms. */
function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe("hung devices", () => {
  it("four reads of hung devices do not stall NodeGetVolumeStats of an unrelated volume", async () => {
    await createImage(root, "pool/ok.img", 64 * MiB);
    const staging = join(dir, "staging", "ok");
    const target = join(dir, "target", "ok");
    await svc.NodeStageVolume(
      {
        volume_id: "ok",
        staging_target_path: staging,
        publish_context: loopContext("pool/ok.img"),
        volume_capability: capOut(mountCap()),
        secrets: {},
        volume_context: {},
      },
      ctx(),
    );
    await svc.NodePublishVolume(
      {
        volume_id: "ok",
        staging_target_path: staging,
        target_path: target,
        volume_capability: capOut(mountCap()),
        readonly: false,
        secrets: {},
        publish_context: {},
        volume_context: {},
      },
      ctx(),
    );
    // Healthy baseline.
    const first = await svc.NodeGetVolumeStats(
      { volume_id: "ok", volume_path: target, staging_target_path: "" },
      ctx(),
    );
    expect(first.volume_condition?.abnormal).toBe(false);

    const hung = [0, 1, 2, 3].map((i) => join(dir, `hung${i}`));
    for (const f of hung) expect(spawnSync("mkfifo", [f]).status).toBe(0);
    // What NodeStage does with a device before mounting it: superblock reads and the health check.
    const reads = [
      readExtSuperblock(hung[0] as string).catch(() => undefined),
      filesystemBytes(hung[1] as string, "xfs"),
      filesystemBytes(hung[2] as string, "ext4"),
      checkFilesystem(hung[3] as string, "ext4", { mode: "full", timeoutMs: 30_000 }),
    ];
    try {
      await new Promise((r) => setTimeout(r, 200)); // let all four reach the kernel
      const started = performance.now();
      const stats = await within(
        svc.NodeGetVolumeStats({ volume_id: "ok", volume_path: target, staging_target_path: "" }, ctx()),
        1000,
      );
      expect(stats, "NodeGetVolumeStats did not answer within 1 s").not.toBe("timeout");
      expect(performance.now() - started).toBeLessThan(1000);
      if (stats !== "timeout") {
        expect(stats.volume_condition?.abnormal).toBe(false);
        expect(Number(stats.usage?.[0]?.total)).toBeGreaterThan(50 * MiB);
      }
    } finally {
      // "The target comes back": a writer appears and every blocked read ends (EOF).
      for (const f of hung) closeSync(openSync(f, constants.O_RDWR | constants.O_NONBLOCK));
      await Promise.all(reads);
    }
    await svc.NodeUnpublishVolume({ volume_id: "ok", target_path: target }, ctx());
    await svc.NodeUnstageVolume({ volume_id: "ok", staging_target_path: staging }, ctx());
  });
});
