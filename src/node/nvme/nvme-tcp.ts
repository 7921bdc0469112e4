// NVMe/TCP transport: `nvme connect` / `nvme disconnect` from nvme-cli, every lookup through sysfs.
import { readFileSync, writeFileSync } from "node:fs";
import { access, open, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { failedPrecondition, unavailable } from "../../csi/errors.ts";
import { isVolumeId } from "../../csi/volume-id.ts";
import type { Logger } from "../../observability/logger.ts";
import { run } from "../../util/exec.ts";
import { sleep } from "../../util/sleep.ts";
import { isBlockNode } from "./block-device.ts";
import {
  findSubsystem,
  isOrphaned,
  type NvmeSubsystemView,
  ownView,
  parseControllerAddress,
  scanNvme,
  subsystemOfNamespace,
} from "./nvme-sysfs.ts";
import {
  buildConnectArgs,
  buildFabricsOptions,
  ctrlLossTmo,
  fastIoFailTmo,
  parseNvmeTarget,
  resolveTargetAddress,
} from "./nvme-target.ts";
import type { AttachTarget, BlockDevice, NvmeTcpTarget, Transport, UsageCheck } from "./transport.ts";

export interface NvmeTcpOptions {
  sysfsRoot: string;
  devRoot: string;
  hostNqn: string;
  hostId: string;
  /** Only subsystems whose NQN starts with this are ever disconnected (diskless hosts boot from NVMe-oF). */
  managedNqnPrefix: string;
  log: Logger;
  /** nvme-cli executable (PATH lookup by default). */
  nvmeCommand?: string;
  modprobeCommand?: string;
  /** How long to wait for the namespace block device after connect. */
  deviceTimeoutMs?: number;
  pollIntervalMs?: number;
  commandTimeoutMs?: number;
}

// What nvme-cli / the kernel say when the same connection already exists (nvme-cli 1.x: EALREADY from
// /dev/nvme-fabrics; 2.x: "already connected").
const ALREADY = /already connected|operation already in progress|EALREADY/i;

function asNvme(t: AttachTarget): NvmeTcpTarget {
  if (t.kind !== "nvme-tcp")
    throw failedPrecondition(`the nvme-tcp transport cannot handle a ${t.kind} target`);
  return t;
}

export class NvmeTcpTransport implements Transport {
  readonly kind = "nvme-tcp" as const;
  readonly #o: Required<Omit<NvmeTcpOptions, "log">> & { log: Logger };

  constructor(opts: NvmeTcpOptions) {
    if (!opts.managedNqnPrefix)
      throw new Error(
        "nvme-tcp transport: managedNqnPrefix is required (it guards which subsystems may be disconnected)",
      );
    this.#o = {
      nvmeCommand: "nvme",
      modprobeCommand: "modprobe",
      deviceTimeoutMs: 30_000,
      pollIntervalMs: 250,
      commandTimeoutMs: 30_000,
      ...opts,
    };
  }

  parseTarget(context: Record<string, string>): AttachTarget {
    return parseNvmeTarget(context);
  }

  targetKey(target: AttachTarget): string {
    return target.kind === "nvme-tcp" ? `nqn:${target.nqn}` : `file:${target.filePath}`;
  }

  isManaged(nqn: string): boolean {
    // Before RouterOS 7.21 an export's NQN is its slot, which is one of our volume ids.
    return nqn.startsWith(this.#o.managedNqnPrefix) || isVolumeId(nqn);
  }

  manages(target: AttachTarget): boolean {
    return target.kind === "nvme-tcp" && this.isManaged(target.nqn);
  }

  async check(): Promise<void> {
    const { sysfsRoot, devRoot } = this.#o;
    const missing: string[] = [];
    const has = async (p: string) =>
      access(p).then(
        () => true,
        () => false,
      );
    if (!(await has(join(sysfsRoot, "module", "nvme_tcp")))) {
      // Try once; the plugin image may carry kmod and the host /lib/modules, or may not.
      const tried = await run(this.#o.modprobeCommand, ["nvme_tcp"], { timeoutMs: 15_000 }).then(
        (r) => (r.code === 0 ? "" : r.stderr.trim() || `exit status ${r.code}`),
        (e: Error) => e.message,
      );
      if (!(await has(join(sysfsRoot, "module", "nvme_tcp"))))
        missing.push(
          `kernel module nvme_tcp is not loaded and could not be loaded here (modprobe nvme_tcp: ${tried || "no effect"})`,
        );
    }
    if (!(await has(join(devRoot, "nvme-fabrics"))))
      missing.push(
        `${join(devRoot, "nvme-fabrics")} does not exist (it appears when nvme_fabrics/nvme_tcp are loaded)`,
      );
    const cli = await run(this.#o.nvmeCommand, ["version"], { timeoutMs: 10_000 }).then(
      (r) => (r.code === 0 ? "" : `exit status ${r.code}`),
      (e: Error) => e.message,
    );
    if (cli) missing.push(`nvme-cli is not usable (${this.#o.nvmeCommand} version: ${cli})`);
    if (missing.length === 0) return;
    throw failedPrecondition(
      `NVMe/TCP is not available on this node: ${missing.join("; ")}. Fix: load the module on the host with ` +
        "`modprobe nvme_tcp` and make it persistent (`echo nvme_tcp > /etc/modules-load.d/nvme-tcp.conf`; NixOS: " +
        'boot.kernelModules = [ "nvme-tcp" ]; Ubuntu cloud kernels ship it in linux-modules-extra-$(uname -r); ' +
        "Talos: machine.kernel.modules: [{name: nvme_tcp}]), and run the node plugin with the host's /dev and /sys and nvme-cli in its image.",
    );
  }

  /** This node's part of a subsystem (controllers connected with its host NQN); see ownView. */
  async #find(nqn: string): Promise<NvmeSubsystemView | undefined> {
    const view = await findSubsystem(this.#o.sysfsRoot, nqn);
    return view && ownView(view, this.#o.hostNqn);
  }

  async findDevice(target: AttachTarget): Promise<BlockDevice | undefined> {
    const view = await this.#find(asNvme(target).nqn);
    return view ? this.#deviceOf(view) : undefined;
  }

  async #deviceOf(view: NvmeSubsystemView): Promise<BlockDevice | undefined> {
    const name = view.namespaces[0];
    if (!name) return undefined;
    const path = join(this.#o.devRoot, name);
    return (await isBlockNode(path)) ? { name, path } : undefined;
  }

  async attach(target: AttachTarget, signal: AbortSignal): Promise<BlockDevice> {
    const t = asNvme(target);
    const log = this.#o.log.child({ nqn: t.nqn });
    const all = await findSubsystem(this.#o.sysfsRoot, t.nqn);
    const existing = all && ownView(all, this.#o.hostNqn);
    if (existing) {
      const dev = await this.#deviceOf(existing);
      if (dev) {
        const addr = existing.controllers
          .map((c) => parseControllerAddress(c.address).traddr)
          .filter(Boolean);
        if (addr.length && isIP(t.address) && !addr.includes(t.address))
          log.warn(
            { connectedTo: addr, requested: t.address },
            "subsystem already connected through another address; using the existing connection",
          );
        this.#failFast(t, existing);
        return dev;
      }
      if (existing.controllers.length > 0 && isOrphaned(existing)) {
        // Connected but no namespace: a stale controller (export removed and re-added, ACL fixed later,
        // namespace never scanned). Reconnecting is the only way to get a fresh namespace scan.
        log.warn(
          { controllers: existing.controllers.map((c) => `${c.name}:${c.state}`) },
          "subsystem connected without a namespace; reconnecting",
        );
        await this.detach(t);
      }
    }
    const host = { hostNqn: this.#o.hostNqn, hostId: this.#o.hostId };
    // A host name is resolved at each connect (volume-context.ts explains why), never stored.
    const numeric = { ...t, address: await resolveTargetAddress(t.address) };
    if (all && existing && all.controllers.length > existing.controllers.length) {
      // Another host identity is connected to this subsystem on this kernel. nvme-cli (libnvme) takes
      // that for "already connected" and connects nothing, even with --duplicate-connect, although
      // the kernel tells host NQNs apart. So write the connect options to /dev/nvme-fabrics ourselves,
      // which is what nvme-cli does underneath (a stable kernel interface; the kernel bounds the wait).
      await this.#connectDirect(t, buildFabricsOptions(numeric, host));
      return this.#connected(t, signal);
    }
    const args = buildConnectArgs(numeric, host);
    const r = await run(this.#o.nvmeCommand, args, { timeoutMs: this.#o.commandTimeoutMs }).catch(
      (e: Error) => {
        throw unavailable(`nvme connect to ${t.address}:${t.port} ${t.nqn} failed: ${e.message}`);
      },
    );
    if (r.code !== 0 && !ALREADY.test(`${r.stderr}\n${r.stdout}`))
      throw unavailable(
        `nvme connect to ${t.address}:${t.port} ${t.nqn} failed (exit status ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`,
      );
    return this.#connected(t, signal);
  }

  async #connected(t: NvmeTcpTarget, signal: AbortSignal): Promise<BlockDevice> {
    const dev = await this.#waitForDevice(t, signal);
    const view = await this.#find(t.nqn);
    if (view) this.#failFast(t, view);
    return dev;
  }

  /**
   * ctrl_loss_tmo and fast_io_fail_tmo of this node's controllers of the subsystem, as nvme-target.ts
   * (MAX_SESSION_LOSS_S) says. fast_io_fail_tmo through sysfs (writable since Linux 5.10) because
   * nvme-cli 2.3 has no option for it; ctrl_loss_tmo again for a connection made before the cap. A
   * controller keeps both across reconnects. A kernel without the attributes: logged.
   */
  #failFast(t: NvmeTcpTarget, view: NvmeSubsystemView): void {
    const want: Array<[string, string]> = [
      ["ctrl_loss_tmo", String(ctrlLossTmo(t))],
      ["fast_io_fail_tmo", String(fastIoFailTmo(t))],
    ];
    for (const c of view.controllers) {
      for (const [name, value] of want) {
        const attr = join(this.#o.sysfsRoot, "class", "nvme", c.name, name);
        try {
          if (readFileSync(attr, "utf8").trim() !== value) writeFileSync(attr, value);
        } catch (err) {
          this.#o.log.warn(
            { err: (err as Error).message, controller: c.name, attribute: name },
            "cannot set the controller's loss timeouts; I/O to a lost target may stay queued longer",
          );
        }
      }
    }
  }

  async #connectDirect(t: NvmeTcpTarget, options: string): Promise<void> {
    const fabrics = join(this.#o.devRoot, "nvme-fabrics");
    try {
      const fh = await open(fabrics, "r+");
      try {
        await fh.write(options);
      } finally {
        await fh.close();
      }
    } catch (e) {
      throw unavailable(
        `nvme connect to ${t.address}:${t.port} ${t.nqn} through ${fabrics} failed: ${(e as Error).message}`,
      );
    }
  }

  async #waitForDevice(t: NvmeTcpTarget, signal: AbortSignal): Promise<BlockDevice> {
    const deadline = Date.now() + this.#o.deviceTimeoutMs;
    for (;;) {
      const view = await this.#find(t.nqn);
      const dev = view ? await this.#deviceOf(view) : undefined;
      if (dev) return dev;
      if (Date.now() >= deadline) {
        const connected = (view?.controllers.length ?? 0) > 0;
        if (connected) {
          // Do not leave a half-made connection behind: the next attempt starts clean.
          await this.detach(t).catch((e: unknown) =>
            this.#o.log.warn({ err: e, nqn: t.nqn }, "could not disconnect after the device wait timed out"),
          );
        }
        throw unavailable(
          connected
            ? `connected to ${t.nqn} but no namespace block device appeared within ${this.#o.deviceTimeoutMs} ms; disconnected again. ` +
                "Check that the export has its disk attached and that this node's host NQN is allowed."
            : `no controller for ${t.nqn} appeared within ${this.#o.deviceTimeoutMs} ms after nvme connect`,
        );
      }
      await sleep(this.#o.pollIntervalMs, signal);
    }
  }

  async detach(target: AttachTarget): Promise<void> {
    const t = asNvme(target);
    if (!this.isManaged(t.nqn))
      throw failedPrecondition(
        `refusing to disconnect ${t.nqn}: it does not start with the managed NQN prefix ${this.#o.managedNqnPrefix}`,
      );
    const all = await findSubsystem(this.#o.sysfsRoot, t.nqn);
    const own = all && ownView(all, this.#o.hostNqn);
    if (!all || !own?.controllers.length) return;
    // `--nqn` disconnects every controller of the subsystem, whoever connected it; when another host
    // identity shares the subsystem on this kernel, only this node's controllers go, one by one.
    const argSets =
      own.controllers.length === all.controllers.length
        ? [["disconnect", `--nqn=${t.nqn}`]]
        : own.controllers.map((c) => ["disconnect", `--device=${c.name}`]);
    let r = { code: 0 as number | null, stderr: "" };
    for (const args of argSets)
      r = await run(this.#o.nvmeCommand, args, { timeoutMs: this.#o.commandTimeoutMs }).catch((e: Error) => {
        throw unavailable(`nvme disconnect ${t.nqn} failed: ${e.message}`);
      });
    // The exit status of disconnect differs between nvme-cli versions; sysfs tells the truth.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const view = await this.#find(t.nqn);
      if (!view || view.controllers.length === 0) return;
      if (Date.now() >= deadline)
        throw unavailable(
          `nvme disconnect ${t.nqn}: controllers ${view.controllers.map((c) => c.name).join(", ")} still present (exit status ${r.code}: ${r.stderr.trim().slice(0, 300)})`,
        );
      await sleep(this.#o.pollIntervalMs);
    }
  }

  async rescan(device: BlockDevice): Promise<void> {
    const view = await subsystemOfNamespace(this.#o.sysfsRoot, device.name);
    if (!view) throw failedPrecondition(`${device.name} is not an NVMe namespace this node knows`);
    // Writing the sysfs attribute is what `nvme ns-rescan` does, without parsing anything.
    for (const c of view.controllers) {
      await writeFile(join(this.#o.sysfsRoot, "class", "nvme", c.name, "rescan_controller"), "1").catch(
        (e: Error) => {
          throw unavailable(`rescan of ${c.name} failed: ${e.message}`);
        },
      );
    }
  }

  async identify(deviceName: string): Promise<AttachTarget | undefined> {
    const view = await subsystemOfNamespace(this.#o.sysfsRoot, deviceName);
    if (!view) return undefined;
    const addr = parseControllerAddress(view.controllers[0]?.address ?? "");
    // Enough to find and detach it; the tuning values only matter for a connect.
    return {
      kind: "nvme-tcp",
      nqn: view.nqn,
      address: addr.traddr ?? "",
      port: Number(addr.trsvcid ?? 4420),
      ctrlLossTmo: 0,
      reconnectDelay: 0,
    };
  }

  async condition(device: BlockDevice): Promise<string | undefined> {
    const found = await subsystemOfNamespace(this.#o.sysfsRoot, device.name);
    const view = found && ownView(found, this.#o.hostNqn);
    if (!view) return `NVMe namespace ${device.name} is no longer known to the kernel`;
    if (view.controllers.length === 0)
      return `no NVMe controller serves ${device.name} (${view.nqn}); I/O fails`;
    if (!view.controllers.some((c) => c.state === "live"))
      return `NVMe controllers for ${view.nqn} are not live (${view.controllers.map((c) => `${c.name}: ${c.state}`).join(", ")}): the RDS is unreachable and I/O is queued until ctrl-loss-tmo`;
    return undefined;
  }

  async cleanupOrphans(_inUse: UsageCheck): Promise<string[]> {
    const removed: string[] = [];
    for (const all of (await scanNvme(this.#o.sysfsRoot)).values()) {
      const view = ownView(all, this.#o.hostNqn);
      // Only managed subsystems without any namespace: there is no device, so nothing can use it.
      if (!this.isManaged(view.nqn) || !isOrphaned(view) || view.controllers.length === 0) continue;
      try {
        await this.detach({
          kind: "nvme-tcp",
          nqn: view.nqn,
          address: "",
          port: 0,
          ctrlLossTmo: 0,
          reconnectDelay: 0,
        });
        removed.push(view.nqn);
      } catch (err) {
        this.#o.log.warn({ err, nqn: view.nqn }, "could not disconnect orphaned subsystem");
      }
    }
    return removed;
  }
}
