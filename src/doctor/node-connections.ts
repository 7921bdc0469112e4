// NVMe-oF connections this driver manages on the node (NQN with the managed prefix), read from sysfs
// like the driver itself does. Reported: orphans (a subsystem without any namespace: connected, but
// nothing to stage; the node plugin disconnects them at start), controllers that are not live (the RDS
// is unreachable and I/O queues until ctrl-loss-tmo), and connections made under another host NQN (a
// changed node id or --host-nqn: the export's allowed-host list no longer matches).
import { join } from "node:path";
import { readSysfs } from "../node/nvme/block-device.ts";
import { isOrphaned, scanNvme } from "../node/nvme/nvme-sysfs.ts";
import type { HostEnv } from "./host.ts";
import { type Check, ok, warn } from "./types.ts";

export interface ConnectionsInput {
  /** `<nqn-prefix>:`; only these subsystems are considered. */
  managedPrefix: string;
  /** The host NQN the driver connects with, when known. */
  hostNqn?: string;
}

export function nvmeConnectionsCheck(env: HostEnv, input: ConnectionsInput): Check {
  return {
    id: "node.nvme.connections",
    title: `NVMe/TCP connections managed by rds-csi (${input.managedPrefix}*)`,
    async run() {
      const all = [...(await scanNvme(env.sysfsRoot)).values()];
      const managed = all.filter((v) => v.nqn.startsWith(input.managedPrefix));
      if (managed.length === 0)
        return ok(
          `no managed NVMe subsystems connected${all.length ? ` (${all.length} other NVMe subsystems left alone)` : ""}`,
        );
      const orphans = managed.filter((v) => isOrphaned(v) && v.controllers.length > 0);
      const notLive = managed.filter((v) => v.controllers.some((c) => c.state !== "live"));
      const foreignHost: string[] = [];
      if (input.hostNqn) {
        for (const v of managed) {
          for (const c of v.controllers) {
            const h = await readSysfs(join(env.sysfsRoot, "class", "nvme", c.name, "hostnqn"));
            if (h && h !== input.hostNqn) foreignHost.push(`${v.nqn} (${c.name} connected as ${h})`);
          }
        }
      }
      const parts = [
        `${managed.length} managed subsystem(s): ${managed.map((v) => `${v.nqn} → ${v.namespaces.join(",") || "no namespace"}`).join("; ")}`,
      ];
      const fixes: string[] = [];
      if (orphans.length) {
        parts.push(`orphans (no namespace): ${orphans.map((v) => v.nqn).join(", ")}`);
        fixes.push(
          `restart the node plugin (it disconnects orphans at start) or \`nvme disconnect -n <nqn>\``,
        );
      }
      if (notLive.length) {
        parts.push(
          `not live: ${notLive.map((v) => `${v.nqn} (${v.controllers.map((c) => `${c.name}: ${c.state}`).join(", ")})`).join("; ")}`,
        );
        fixes.push(
          "check the network path to the RDS (nvme-tcp-server-port, storage VLAN) and that the export is still enabled",
        );
      }
      if (foreignHost.length) {
        parts.push(`connected under another host NQN: ${foreignHost.join("; ")}`);
        fixes.push(
          "the node id or --host-nqn changed since these were connected: drain the node so the volumes are re-staged",
        );
      }
      const detail = parts.join("; ");
      return fixes.length ? warn(detail, fixes.join("; ")) : ok(detail);
    },
  };
}
