// The loop transport finds the loop device a previous node plugin attached (found by the real-cluster
// suite, test/k8s scenario 6: the node plugin pod is deleted under a mounted volume). The plugin sees the
// simulator's data directory through a bind mount of its own container; once that container is gone, the
// kernel shows the loop device's backing file relative to that vanished mount ("/storage-pool/..."), not
// under the loop root. The new plugin must still recognise the device, or NodeUnstage leaks it.
// A prepared sysfs tree stands in for /sys: this is the kernel's output, which no process here can produce
// without a second mount namespace that has exited.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LoopTransport } from "../../src/node/nvme/loop.ts";
import { silentLogger } from "../../src/observability/logger.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "loop-after-restart-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function sysfsWith(loops: Record<string, string>): Promise<string> {
  const sysfs = join(dir, "sys");
  for (const [name, backing] of Object.entries(loops)) {
    await mkdir(join(sysfs, "block", name, "loop"), { recursive: true });
    await writeFile(join(sysfs, "block", name, "loop", "backing_file"), `${backing}\n`);
  }
  return sysfs;
}

describe("loop transport: devices attached by an earlier plugin container", () => {
  it("finds a device whose backing file shows relative to the vanished loop-root mount", async () => {
    const root = join(dir, "sim");
    await mkdir(root);
    const sysfsRoot = await sysfsWith({
      loop3: "/storage-pool/other/pvc-b.img",
      loop8: "/storage-pool/rds-csi/pvc-a.img",
    });
    const t = new LoopTransport({ loopRoot: root, sysfsRoot, devRoot: "/dev", log: silentLogger });
    const target = { kind: "loop", filePath: "storage-pool/rds-csi/pvc-a.img" } as const;
    expect(await t.findDevice(target)).toEqual({ name: "loop8", path: "/dev/loop8" });
  });

  it("still prefers and finds the full path, and finds nothing for a file no device holds", async () => {
    const root = join(dir, "sim");
    await mkdir(root);
    const sysfsRoot = await sysfsWith({ loop2: join(root, "storage-pool/rds-csi/pvc-a.img") });
    const t = new LoopTransport({ loopRoot: root, sysfsRoot, devRoot: "/dev", log: silentLogger });
    expect(await t.findDevice({ kind: "loop", filePath: "storage-pool/rds-csi/pvc-a.img" })).toEqual({
      name: "loop2",
      path: "/dev/loop2",
    });
    expect(await t.findDevice({ kind: "loop", filePath: "storage-pool/rds-csi/pvc-z.img" })).toBeUndefined();
  });
});
