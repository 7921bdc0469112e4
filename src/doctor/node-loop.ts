// Can a loop device be made? kubelet pins every published block volume with `losetup -f --show <path>`
// (makeLoopDevice); when that fails, every block PVC and every KubeVirt VM on the node is stuck although
// the driver did its part (prior-art §9: NixOS, `losetup -f ... exit status 1`). The check does what
// kubelet does, on a small temporary file, and detaches again.
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../util/exec.ts";
import { exists, type HostEnv, readText, which } from "./host.ts";
import { type Check, fail, ok } from "./types.ts";

const FIX =
  "kubelet needs `losetup -f` for every block volume: the loop driver (CONFIG_BLK_DEV_LOOP, `modprobe loop`), " +
  "/dev/loop-control, free loop devices (raise max_loop: `loop.max_loop=64` on the kernel command line), and util-linux losetup " +
  "on kubelet's PATH (NixOS: add pkgs.util-linux to the kubelet service path)";

export function loopDeviceCheck(env: HostEnv): Check {
  return {
    id: "node.loop-device",
    title: "Loop device for block volumes (what kubelet does: losetup -f --show)",
    async run() {
      const losetup = await which(env, "losetup");
      if (!losetup) return fail("losetup is not on the PATH", FIX);
      const control = join(env.devRoot, "loop-control");
      const hasControl = await exists(control);
      const dir = await mkdtemp(join(env.tmpDir, "rds-csi-doctor-"));
      const file = join(dir, "loop-probe.img");
      try {
        await writeFile(file, "");
        await truncate(file, 1024 * 1024);
        const r = await run(losetup, ["-f", "--show", file], { timeoutMs: 15_000 });
        const dev = r.stdout.trim();
        if (r.code !== 0 || !/^\/dev\/loop\d+$/.test(dev))
          return fail(
            `losetup -f --show failed (exit status ${r.code}): ${r.stderr.trim().slice(0, 300) || "no output"}${hasControl ? "" : `; ${control} does not exist`}`,
            FIX,
          );
        const d = await run(losetup, ["-d", dev], { timeoutMs: 15_000 });
        if (d.code !== 0)
          return fail(
            `attached ${dev} but could not detach it: ${d.stderr.trim()}`,
            "detach it by hand: losetup -d " + dev,
          );
        const maxLoop = (
          await readText(join(env.sysfsRoot, "module", "loop", "parameters", "max_loop"))
        )?.trim();
        return ok(
          `attached and detached ${dev}${maxLoop && maxLoop !== "0" ? ` (max_loop=${maxLoop})` : ""}`,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
