// Mount propagation of the kubelet directory. The node plugin mounts staging and publish targets under
// it; kubelet and the container runtime see those mounts only if the mount holding the directory is
// shared (mountinfo `shared:N`). In the plugin container that means mountPropagation: Bidirectional; on
// the host, a shared root (systemd's default, but not every init or distribution does it).
import { realpath } from "node:fs/promises";
import { type MountEntry, readMountInfo } from "../node/mount/mountinfo.ts";
import type { HostEnv } from "./host.ts";
import { type Check, fail, ok, warn } from "./types.ts";

export const DEFAULT_KUBELET_DIR = "/var/lib/kubelet";

/** The mount that holds path: the longest mount point that is path or one of its parents (last stacked wins). */
export function mountHolding(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const under = path === mp || mp === "/" || path.startsWith(`${mp}/`);
    if (under && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

export function propagationOf(m: MountEntry): "shared" | "slave" | "private" {
  if (m.optionalFields.some((f) => f.startsWith("shared:"))) return "shared";
  if (m.optionalFields.some((f) => f.startsWith("master:"))) return "slave";
  return "private";
}

const FIX =
  "in the node DaemonSet mount the kubelet directory with mountPropagation: Bidirectional (privileged); on the host make it shared: " +
  "`mount --make-rshared /` (or the mount holding the kubelet directory), and persist it (systemd does this by default)";

export function kubeletPropagationCheck(env: HostEnv, kubeletDir: string): Check {
  return {
    id: "node.kubelet-dir.propagation",
    title: `Mount propagation of the kubelet directory (${kubeletDir})`,
    async run() {
      let dir: string;
      try {
        dir = await realpath(kubeletDir);
      } catch {
        return warn(
          `${kubeletDir} does not exist: not a Kubernetes node, another kubelet root, or not mounted into this container`,
          "give the kubelet root with --kubelet-dir (k0s: /var/lib/k0s/kubelet, MicroK8s: /var/snap/microk8s/common/var/lib/kubelet)",
        );
      }
      const m = mountHolding(await readMountInfo(env.mountinfoPath), dir);
      if (!m) return fail(`no mount in ${env.mountinfoPath} holds ${dir}`, FIX);
      const mode = propagationOf(m);
      const where = `${dir} is on mount ${m.mountPoint} (${m.optionalFields.join(" ") || "no propagation fields"})`;
      if (mode === "shared") return ok(`${where}: shared, mounts made by the plugin propagate`);
      if (mode === "slave")
        return fail(
          `${where}: slave (HostToContainer), mounts made by the plugin do not reach the host or kubelet`,
          FIX,
        );
      return fail(`${where}: private, mounts made by the plugin are invisible to kubelet and pods`, FIX);
    },
  };
}
