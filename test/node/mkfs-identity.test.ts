// Issue 13 item 7: between the probe (`blkid`) and `mkfs` the device node can be reused — here a loop
// device is detached and bound to another volume's file, keeping its name and major:minor, the way a
// reconnect can hand a namespace's name to another one. The probe saw an empty device; mkfs must not
// format whatever the name points to now. The node opens the device once, checks its identity (major:minor
// and what the transport says backs it: the NQN from sysfs, the loop's backing file) right before
// formatting, and formats through that open descriptor.
// A `blkid` wrapper first on PATH runs the real one and then rebinds the loop device.
import { chmod, mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code } from "../../src/csi/errors.ts";
import { createNodeService, type NodeServiceHandle } from "../../src/node/node-service.ts";
import { execEnvironmentChanged } from "../../src/util/exec.ts";
import {
  capOut,
  cleanupWorkdir,
  codeOf,
  createImage,
  ctx,
  isMounted,
  loopContext,
  MiB,
  makeWorkdir,
  mountCap,
  sh,
  sha256,
} from "./helpers.ts";

let dir: string;
let root: string;
let svc: NodeServiceHandle;
const PATH = process.env.PATH;
const realBlkid = sh("bash", ["-c", "command -v blkid"]).trim();

beforeEach(async () => {
  dir = await makeWorkdir("mkfsid");
  root = join(dir, "rds");
  await mkdir(root);
  svc = createNodeService({ nodeId: "node-a", transport: "loop", loopRoot: root, probeRetryDelayMs: 50 });
  await svc.start();
});

afterEach(async () => {
  process.env.PATH = PATH;
  execEnvironmentChanged();
  await svc?.close();
  await cleanupWorkdir(dir);
});

describe("mkfs and the device's identity", () => {
  it("does not format a device node that was rebound to another volume after the probe", async () => {
    await createImage(root, "pool/new.img", 64 * MiB);
    // Another volume's data, away from the head and tail the probe reads: only its identity tells it apart.
    const victim = await createImage(root, "pool/victim.img", 64 * MiB);
    const fh = await open(victim, "r+");
    await fh.write(Buffer.alloc(MiB, 0xab), 0, MiB, 16 * MiB);
    await fh.close();
    const before = await sha256(victim);

    const bin = join(dir, "bin");
    await mkdir(bin);
    await writeFile(
      join(bin, "blkid"),
      `#!/bin/bash\n${realBlkid} "$@"; rc=$?\ndev="\${!#}"\n` +
        `if [[ $dev == /dev/loop* ]]; then losetup -d "$dev" && losetup "$dev" ${victim}; fi\nexit $rc\n`,
    );
    await chmod(join(bin, "blkid"), 0o755);
    process.env.PATH = `${bin}:${PATH}`;
    execEnvironmentChanged();

    const staging = join(dir, "staging", "new");
    const r = await codeOf(
      svc.NodeStageVolume(
        {
          volume_id: "new",
          staging_target_path: staging,
          publish_context: loopContext("pool/new.img"),
          volume_capability: capOut(mountCap("ext4")),
          secrets: {},
          volume_context: {},
        },
        ctx(),
      ),
    );
    expect(r.code).toBe(Code.UNAVAILABLE);
    expect(r.message).toMatch(/no longer/);
    expect(await sha256(victim)).toBe(before); // not formatted
    expect(isMounted(staging)).toBe(false);
  });
});
