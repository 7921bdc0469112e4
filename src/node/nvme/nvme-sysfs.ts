// NVMe subsystem/controller/namespace discovery through sysfs. Never through `nvme list -o json`: its
// layout changed across nvme-cli 1.x, 2.x, 2.6/2.7 and 2.11 (csi-field-notes §0.1). sysfs is the kernel's
// own view and has been stable for years:
//   /sys/class/nvme-subsystem/nvme-subsysN/{subsysnqn, nvmeC (controllers), nvmeNnM (multipath heads)}
//   /sys/class/nvme/nvmeC/{subsysnqn, state, address, nvmeCnM (plain namespace), nvmeNcCnM (hidden path)}
// A hidden multipath path `nvmeXcYnZ` (subsystem X, controller Y, namespace Z) is served by /dev/nvmeXnZ.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readSysfs } from "./block-device.ts";

export interface NvmeController {
  name: string;
  /** live, connecting, resetting, deleting, new, dead ... */
  state: string;
  /** `traddr=10.0.0.1,trsvcid=4420[,src_addr=...]`. */
  address: string;
  /** The host NQN it was connected with (`hostnqn` attribute of fabrics controllers); undefined when absent. */
  hostNqn?: string;
  /** Usable namespace devices reached through this controller (heads when multipath is on). */
  namespaces: string[];
}

export interface NvmeSubsystemView {
  nqn: string;
  controllers: NvmeController[];
  /** Block device names of the namespaces (heads), sorted by namespace id; nsid 1 first. */
  namespaces: string[];
}

const CTRL = /^nvme\d+$/;
const NS = /^nvme(\d+)n(\d+)$/;
const HIDDEN = /^nvme(\d+)c\d+n(\d+)$/;

/** Synchronous on purpose: sysfs, see block-device.ts. */
async function list(dir: string): Promise<string[]> {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function nsid(name: string): number {
  const m = NS.exec(name);
  return m ? Number(m[2]) : Number.MAX_SAFE_INTEGER;
}

/** Every NVMe subsystem the kernel knows, keyed by NQN, with controllers and usable namespace devices. */
export async function scanNvme(sysfsRoot: string): Promise<Map<string, NvmeSubsystemView>> {
  const byNqn = new Map<string, { controllers: Map<string, NvmeController>; namespaces: Set<string> }>();
  const entry = (nqn: string) => {
    let e = byNqn.get(nqn);
    if (!e) {
      e = { controllers: new Map(), namespaces: new Set() };
      byNqn.set(nqn, e);
    }
    return e;
  };
  const readController = async (name: string): Promise<NvmeController> => {
    const dir = join(sysfsRoot, "class", "nvme", name);
    const hostNqn = await readSysfs(join(dir, "hostnqn"));
    return {
      name,
      state: (await readSysfs(join(dir, "state"))) ?? "unknown",
      address: (await readSysfs(join(dir, "address"))) ?? "",
      ...(hostNqn ? { hostNqn } : {}),
      namespaces: [],
    };
  };

  // Subsystems (present with and without native multipath on any kernel that has NVMe-oF).
  const subsysDir = join(sysfsRoot, "class", "nvme-subsystem");
  for (const s of await list(subsysDir)) {
    const nqn = await readSysfs(join(subsysDir, s, "subsysnqn"));
    if (!nqn) continue;
    const e = entry(nqn);
    for (const child of await list(join(subsysDir, s))) {
      if (CTRL.test(child) && !e.controllers.has(child))
        e.controllers.set(child, await readController(child));
      else if (NS.test(child)) e.namespaces.add(child);
    }
  }
  // Controllers: plain namespaces (multipath off) and hidden paths (multipath on) live under them.
  const ctrlDir = join(sysfsRoot, "class", "nvme");
  for (const c of await list(ctrlDir)) {
    if (!CTRL.test(c)) continue;
    const nqn = await readSysfs(join(ctrlDir, c, "subsysnqn"));
    if (!nqn) continue;
    const e = entry(nqn);
    let ctrl = e.controllers.get(c);
    if (!ctrl) {
      ctrl = await readController(c);
      e.controllers.set(c, ctrl);
    }
    for (const child of await list(join(ctrlDir, c))) {
      const hidden = HIDDEN.exec(child);
      const ns = hidden ? `nvme${hidden[1]}n${hidden[2]}` : NS.test(child) ? child : undefined;
      if (!ns) continue;
      e.namespaces.add(ns);
      if (!ctrl.namespaces.includes(ns)) ctrl.namespaces.push(ns);
    }
  }

  const out = new Map<string, NvmeSubsystemView>();
  for (const [nqn, e] of byNqn) {
    // Only names the block layer really has: a hidden path's head may not exist yet during a scan.
    const usable: string[] = [];
    for (const ns of e.namespaces)
      if ((await readSysfs(join(sysfsRoot, "class", "block", ns, "dev"))) !== undefined) usable.push(ns);
    const byNsid = (a: string, b: string) => nsid(a) - nsid(b) || a.localeCompare(b);
    usable.sort(byNsid);
    const controllers = [...e.controllers.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const c of controllers) c.namespaces = c.namespaces.filter((n) => usable.includes(n)).sort(byNsid);
    out.set(nqn, { nqn, controllers, namespaces: usable });
  }
  return out;
}

export async function findSubsystem(sysfsRoot: string, nqn: string): Promise<NvmeSubsystemView | undefined> {
  return (await scanNvme(sysfsRoot)).get(nqn);
}

/** The subsystem that serves a namespace block device name, if it is an NVMe one. */
export async function subsystemOfNamespace(
  sysfsRoot: string,
  deviceName: string,
): Promise<NvmeSubsystemView | undefined> {
  if (!NS.test(deviceName)) return undefined;
  for (const view of (await scanNvme(sysfsRoot)).values())
    if (view.namespaces.includes(deviceName)) return view;
  return undefined;
}

/**
 * The part of a subsystem that one host identity connected. The same kernel can hold connections to one
 * subsystem under several host NQNs (two node plugins on one machine in tests, or an administrator's
 * manual `nvme connect` with the default /etc/nvme/hostnqn): a node must find, check and disconnect only
 * its own. A controller without a `hostnqn` attribute (not a fabrics controller, or an old kernel)
 * counts as ours, as before. A controller being deleted (state `deleting`, e.g. after ctrl_loss_tmo,
 * which may wait for a filesystem on its namespace to be unmounted) belongs to nobody: it never serves
 * I/O again and goes by itself. Its attributes may no longer be readable at all (seen on 6.1: state and
 * hostnqn unreadable while the removal waits), so a controller whose state cannot be read counts as that.
 */
export function ownView(view: NvmeSubsystemView, hostNqn: string): NvmeSubsystemView {
  const own = view.controllers.filter(
    (c) =>
      c.state !== "unknown" &&
      !c.state.startsWith("deleting") &&
      (c.hostNqn === undefined || c.hostNqn === hostNqn),
  );
  if (own.length === view.controllers.length) return view;
  const reachable = new Set(own.flatMap((c) => c.namespaces));
  return { nqn: view.nqn, controllers: own, namespaces: view.namespaces.filter((n) => reachable.has(n)) };
}

/** Subsystems that have controllers but no usable namespace: connected, yet nothing to stage. */
export function isOrphaned(view: NvmeSubsystemView): boolean {
  return view.namespaces.length === 0;
}

/** `traddr=1.2.3.4,trsvcid=4420` → { traddr, trsvcid }. */
export function parseControllerAddress(address: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of address.split(",")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}
