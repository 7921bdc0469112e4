// A filesystem smaller than its device (a restore or clone at a larger size, or an expansion while the
// volume was not staged) is grown when the volume is staged, so the claim gets the capacity it asked for.
import { execFileSync } from "node:child_process";
import { mkdirSync, statfsSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filesystemBytes } from "../../src/node/mount/superblock.ts";
import {
  cleanupWorkdir,
  codeOf,
  createImage,
  hasCapSysResource,
  isMounted,
  loopContext,
  MiB,
  makeWorkdir,
  mountCap,
  type NodeServer,
  startNodeServer,
} from "./helpers.ts";

let dir: string;
let root: string;
let srv: NodeServer;
beforeAll(async () => {
  dir = await makeWorkdir("grow");
  root = join(dir, "rds");
  mkdirSync(root);
  srv = await startNodeServer(dir, root);
});
afterAll(async () => {
  await srv?.stop();
  await cleanupWorkdir(dir);
});

describe("filesystemBytes", () => {
  it("reads the size from ext4 and xfs superblocks", async () => {
    const ext = await createImage(root, "sb/ext.img", 64 * MiB);
    execFileSync("mkfs.ext4", ["-q", "-F", "-b", "4096", ext]);
    expect(await filesystemBytes(ext, "ext4")).toBe(64 * MiB);
    const xfs = await createImage(root, "sb/xfs.img", 320 * MiB);
    execFileSync("mkfs.xfs", ["-q", "-f", xfs]);
    expect(await filesystemBytes(xfs, "xfs")).toBe(320 * MiB);
    expect(await filesystemBytes(ext, "xfs")).toBeUndefined();
  });
});

describe.each([
  ["xfs", 320 * MiB, true],
  ["ext4", 64 * MiB, hasCapSysResource()],
] as const)("%s restored into a larger volume", (fsType, size, canGrowOnline) => {
  it(
    canGrowOnline
      ? "is grown to the device when staged"
      : "is refused with the reason and left unmounted (no CAP_SYS_RESOURCE here)",
    async () => {
      const file = `storage-pool/k8s/pvc-restored-${fsType}.img`;
      const img = await createImage(root, file, size);
      execFileSync(fsType === "xfs" ? "mkfs.xfs" : "mkfs.ext4", ["-q", fsType === "xfs" ? "-f" : "-F", img]);
      truncateSync(img, 2 * size); // the restore made the volume twice the snapshot's size
      const staging = join(dir, `staging-${fsType}`);
      execFileSync("mkdir", ["-p", staging]);
      const req = {
        volume_id: `pvc-restored-${fsType}`,
        staging_target_path: staging,
        volume_capability: mountCap(fsType),
        publish_context: loopContext(file),
      };
      if (canGrowOnline) {
        await srv.node.NodeStageVolume(req);
        const st = statfsSync(staging);
        expect(st.blocks * st.bsize).toBeGreaterThan(1.5 * size);
        await srv.node.NodeUnstageVolume({ volume_id: req.volume_id, staging_target_path: staging });
        expect(await filesystemBytes(img, fsType)).toBe(2 * size);
      } else {
        const r = await codeOf(srv.node.NodeStageVolume(req));
        expect(r.message).toMatch(/CAP_SYS_RESOURCE/);
        expect(isMounted(staging)).toBe(false);
        expect(await filesystemBytes(img, fsType)).toBe(size);
      }
    },
  );
});
