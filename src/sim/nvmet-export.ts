// Real NVMe/TCP exports for the simulator: where the kernel has nvmet (configfs), every file disk with
// `nvme-tcp-export=yes` (and not disabled) becomes an nvmet subsystem on a TCP port, so the driver's node
// side can `nvme connect` to the simulator exactly as it does to an RDS. Without nvmet (mode "auto" on a
// kernel without it, or mode "off", the default) nothing here runs and the simulator behaves as before.
//
// How a disk maps to the kernel target (configfs under /sys/kernel/config/nvmet):
//   subsystems/<nqn>                     nqn = nvme-tcp-server-nqn, or the slot when unset (§7)
//     attr_allow_any_host                1 when nvme-tcp-server-allow-host-name is empty
//     allowed_hosts/<hostnqn> -> hosts/<hostnqn>   one per comma-separated allowed host otherwise
//     namespaces/1/device_path           /dev/loopN over the disk's file
//   ports/<id> (tcp, address, nvme-tcp-server-port); subsystems/<nqn> -> the subsystem (shared port)
//
// Why a loop device and not nvmet's file backend: the file backend opens with O_DIRECT unless
// `buffered_io=1`, and tmpfs/overlayfs (where test data lives) refuse O_DIRECT on 6.1 (`enable` fails
// with EIO); with buffered_io it works but mkfs logs WRITE_ZEROES I/O errors. The loop device gives
// nvmet's block backend, which behaves like a real disk, and `losetup -c` makes a grown file visible.
//
// The namespace UUID and subsystem serial are derived from the NQN, not random: a host that reconnects
// after the export was removed and re-added (the "target disappeared" case) compares the namespace ids
// and drops a namespace whose ids changed, which a real appliance would not provoke.
//
// sync() is called after every command (inside the simulator's serial queue): it compares the wanted
// exports with what it set up and changes only the difference, so a `print` costs nothing.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, readlink, rmdir, symlink, unlink, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { run, runOk } from "../util/exec.ts";
import type { LineResult } from "./line-result.ts";
import type { FileDiskState } from "./records.ts";

export type NvmetMode = "auto" | "off" | "required";
export const NVMET_MODES: readonly NvmetMode[] = ["auto", "off", "required"];

export interface NvmetOptions {
  mode: NvmetMode;
  /** Address the TCP ports listen on (default 127.0.0.1). */
  address?: string;
  /** Where configfs is mounted (default /sys/kernel/config). */
  configfsRoot?: string;
  /** Diagnostics (what was exported, what failed); default: nothing. */
  log?: (message: string) => void;
}

/** One export as the kernel has it, for tests and diagnostics. */
export interface NvmetExportInfo {
  diskId: string;
  nqn: string;
  address: string;
  port: number;
  loopDevice: string;
  sizeBytes: number;
  /** Empty = any host. */
  allowedHosts: string[];
}

/** What the simulator exposes while real exports are on. */
export interface NvmetStatus {
  readonly address: string;
  exports(): NvmetExportInfo[];
  /**
   * Whether a grown disk's namespace is revalidated at once (nvmet then raises a namespace-changed event
   * and initiators pick the size up by themselves) or only when an initiator next identifies it (a
   * rescan). The e2e suite turns it off to show that the node's own rescan grows a block volume.
   */
  resizeNotification: boolean;
}

interface Wanted {
  diskId: string;
  nqn: string;
  port: number;
  file: string;
  sizeBytes: number;
  hosts: string[];
}

interface Active extends Wanted {
  loop: string;
  portId: string;
}

// Characters the kernel and configfs accept in a directory name, without path separators.
const NQN_RE = /^[A-Za-z0-9._:-]{1,223}$/;
const CMD_TIMEOUT_MS = 15_000;
const DEFAULT_CONFIGFS = "/sys/kernel/config";

function uuidFrom(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function hostsOf(disk: FileDiskState): string[] {
  return [
    ...new Set(
      disk.allowHost
        .split(",")
        .map((h) => h.trim())
        .filter(Boolean),
    ),
  ].sort();
}

const sameHosts = (a: readonly string[], b: readonly string[]) => a.join(",") === b.join(",");

async function ensureKernelSupport(root: string): Promise<string | undefined> {
  const nvmet = join(root, "nvmet");
  if (!existsSync(nvmet)) {
    await run("modprobe", ["nvmet"], { timeoutMs: CMD_TIMEOUT_MS }).catch(() => undefined);
    // configfs is normally mounted at boot; mount it only at its standard place, never elsewhere.
    if (!existsSync(nvmet) && root === DEFAULT_CONFIGFS && existsSync(root))
      await run("mount", ["-t", "configfs", "configfs", root], { timeoutMs: CMD_TIMEOUT_MS }).catch(
        () => undefined,
      );
  }
  if (!existsSync(nvmet)) return `${nvmet} does not exist (no nvmet module, or configfs not mounted)`;
  if (!existsSync("/sys/module/nvmet_tcp")) {
    const r = await run("modprobe", ["nvmet-tcp"], { timeoutMs: CMD_TIMEOUT_MS }).catch((e: Error) => ({
      code: -1,
      stderr: e.message,
    }));
    if (!existsSync("/sys/module/nvmet_tcp"))
      return `nvmet-tcp is not available (modprobe nvmet-tcp: ${r.stderr.trim() || `exit ${r.code}`})`;
  }
  return undefined;
}

export class NvmetExporter implements NvmetStatus {
  readonly address: string;
  resizeNotification = true;
  readonly #root: string;
  readonly #log: (m: string) => void;
  readonly #active = new Map<string, Active>();
  /** Ports this exporter created (port number → configfs id); reused ports of others are never removed. */
  readonly #ownPorts = new Map<number, string>();
  readonly #portIds = new Map<number, string>();
  readonly #ownHosts = new Set<string>();
  /** Disk id → the wanted export (JSON) whose setup failed last time. */
  readonly #failed = new Map<string, string>();

  private constructor(address: string, configfsRoot: string, log: (m: string) => void) {
    this.address = address;
    this.#root = join(configfsRoot, "nvmet");
    this.#log = log;
  }

  /** undefined when exports are off, or unavailable in mode "auto"; throws in mode "required". */
  static async open(o: NvmetOptions): Promise<NvmetExporter | undefined> {
    if (o.mode === "off") return undefined;
    const address = o.address ?? "127.0.0.1";
    if (!isIP(address))
      throw new Error(`nvmet address must be an IP address, got ${JSON.stringify(address)}`);
    const root = o.configfsRoot ?? DEFAULT_CONFIGFS;
    const log = o.log ?? (() => {});
    const missing = await ensureKernelSupport(root);
    if (missing) {
      if (o.mode === "required") throw new Error(`nvmet exports are required but unavailable: ${missing}`);
      log(`nvmet exports off: ${missing}`);
      return undefined;
    }
    log(`nvmet exports on ${address}`);
    return new NvmetExporter(address, root, log);
  }

  exports(): NvmetExportInfo[] {
    return [...this.#active.values()].map((a) => ({
      diskId: a.diskId,
      nqn: a.nqn,
      address: this.address,
      port: a.port,
      loopDevice: a.loop,
      sizeBytes: a.sizeBytes,
      allowedHosts: [...a.hosts],
    }));
  }

  /** Brings the kernel's exports in line with the disks; throws one error naming every export that failed. */
  async sync(disks: readonly FileDiskState[], localPath: (fileName: string) => string): Promise<void> {
    const wanted = new Map<string, Wanted>();
    for (const d of disks) {
      if (!d.nvmeExport || d.disabled) continue;
      wanted.set(d.id, {
        diskId: d.id,
        nqn: d.nqn || d.slot,
        port: d.nvmePort,
        file: localPath(d.filePath),
        sizeBytes: d.fileSize,
        hosts: hostsOf(d),
      });
    }
    const errors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message}`);
      }
    };
    for (const a of [...this.#active.values()]) {
      const w = wanted.get(a.diskId);
      if (!w || w.nqn !== a.nqn || w.file !== a.file)
        await attempt(`unexport ${a.nqn}`, () => this.#teardown(a));
    }
    for (const w of wanted.values()) {
      // An export that failed is reported by the command that asked for it, not by every later command
      // (a `/disk print` must not fail because of another disk); it is retried when its settings change.
      const signature = JSON.stringify(w);
      if (this.#failed.get(w.diskId) === signature) continue;
      const before = errors.length;
      const a = this.#active.get(w.diskId);
      if (!a) await attempt(`export ${w.nqn}`, () => this.#setup(w));
      else await attempt(`update ${w.nqn}`, () => this.#update(a, w));
      if (errors.length > before) this.#failed.set(w.diskId, signature);
      else this.#failed.delete(w.diskId);
    }
    for (const id of [...this.#failed.keys()]) if (!wanted.has(id)) this.#failed.delete(id);
    await this.#dropUnusedPorts();
    if (errors.length) {
      for (const e of errors) this.#log(`nvmet: ${e}`);
      throw new Error(errors.join("; "));
    }
  }

  /** Removes every export this simulator made (the kernel state outlives the process otherwise). */
  async close(): Promise<void> {
    const errors: string[] = [];
    for (const a of [...this.#active.values()])
      await this.#teardown(a).catch((e: Error) => errors.push(`${a.nqn}: ${e.message}`));
    await this.#dropUnusedPorts();
    if (errors.length) throw new Error(`nvmet teardown: ${errors.join("; ")}`);
  }

  #subsys(nqn: string): string {
    return join(this.#root, "subsystems", nqn);
  }

  async #setup(w: Wanted): Promise<void> {
    if (!NQN_RE.test(w.nqn)) throw new Error(`${JSON.stringify(w.nqn)} is not a valid NQN for nvmet`);
    for (const h of w.hosts)
      if (!NQN_RE.test(h)) throw new Error(`allowed host ${JSON.stringify(h)} is not a valid host NQN`);
    const sub = this.#subsys(w.nqn);
    if (existsSync(sub))
      throw new Error(`subsystem ${w.nqn} already exists in nvmet (exported by someone else)`);
    const loop = (
      await runOk("losetup", ["--find", "--show", w.file], { timeoutMs: CMD_TIMEOUT_MS })
    ).stdout.trim();
    const active: Active = { ...w, hosts: [], loop, portId: "" };
    this.#active.set(w.diskId, active);
    try {
      await mkdir(sub);
      await writeFile(
        join(sub, "attr_serial"),
        createHash("sha256").update(w.nqn).digest("hex").slice(0, 20),
      );
      await writeFile(join(sub, "attr_model"), "RDS2216 (rds-csi simulator)");
      await this.#setHosts(active, w.hosts);
      const ns = join(sub, "namespaces", "1");
      await mkdir(ns);
      await writeFile(join(ns, "device_path"), loop);
      await writeFile(join(ns, "device_uuid"), uuidFrom(`rds-sim/${w.nqn}`));
      await writeFile(join(ns, "enable"), "1");
      await this.#link(active, w.port);
      this.#log(`nvmet: exported ${w.nqn} (${loop}, ${w.sizeBytes} bytes) on ${this.address}:${w.port}`);
    } catch (err) {
      await this.#teardown(active).catch(() => undefined);
      throw err;
    }
  }

  async #update(a: Active, w: Wanted): Promise<void> {
    if (!sameHosts(a.hosts, w.hosts)) {
      for (const h of w.hosts)
        if (!NQN_RE.test(h)) throw new Error(`allowed host ${JSON.stringify(h)} is not a valid host NQN`);
      await this.#setHosts(a, w.hosts);
    }
    if (a.port !== w.port) {
      await this.#unlink(a);
      await this.#link(a, w.port);
    }
    if (a.sizeBytes !== w.sizeBytes) {
      // The file already grew (store.resizeFile); the loop device re-reads its size, then nvmet's
      // namespace (revalidate_size, 5.10+) picks it up and raises a namespace-changed event, so an
      // initiator sees the new size after a rescan (or on its own after the event).
      await runOk("losetup", ["-c", a.loop], { timeoutMs: CMD_TIMEOUT_MS });
      if (this.resizeNotification)
        await writeFile(join(this.#subsys(a.nqn), "namespaces", "1", "revalidate_size"), "1");
      a.sizeBytes = w.sizeBytes;
      this.#log(`nvmet: ${a.nqn} grown to ${w.sizeBytes} bytes`);
    }
  }

  /**
   * nvmet refuses allowed_hosts links while attr_allow_any_host=1 and refuses allow_any_host=1 while
   * links exist, so the order matters. Existing connections are not affected (nvmet checks at connect).
   */
  async #setHosts(a: Active, hosts: string[]): Promise<void> {
    const sub = this.#subsys(a.nqn);
    const dir = join(sub, "allowed_hosts");
    const current = new Set(await readdir(dir));
    if (hosts.length) await writeFile(join(sub, "attr_allow_any_host"), "0");
    for (const h of hosts) {
      if (current.has(h)) continue;
      const host = join(this.#root, "hosts", h);
      if (!existsSync(host)) {
        await mkdir(host);
        this.#ownHosts.add(h);
      }
      await symlink(host, join(dir, h));
    }
    for (const h of current) if (!hosts.includes(h)) await unlink(join(dir, h));
    if (!hosts.length) await writeFile(join(sub, "attr_allow_any_host"), "1");
    a.hosts = [...hosts];
    await this.#dropUnusedHosts();
  }

  async #portIdFor(port: number): Promise<string> {
    const known = this.#portIds.get(port);
    if (known && existsSync(join(this.#root, "ports", known))) return known;
    const ports = join(this.#root, "ports");
    const ids = await readdir(ports);
    for (const id of ids) {
      const addr = await readFile(join(ports, id, "addr_traddr"), "utf8").catch(() => "");
      const svc = await readFile(join(ports, id, "addr_trsvcid"), "utf8").catch(() => "");
      const type = await readFile(join(ports, id, "addr_trtype"), "utf8").catch(() => "");
      if (addr.trim() === this.address && svc.trim() === String(port) && type.trim() === "tcp") {
        this.#portIds.set(port, id);
        return id;
      }
    }
    let n = 1;
    while (ids.includes(String(n))) n++;
    const id = String(n);
    const dir = join(ports, id);
    await mkdir(dir);
    await writeFile(join(dir, "addr_trtype"), "tcp");
    await writeFile(join(dir, "addr_adrfam"), isIP(this.address) === 6 ? "ipv6" : "ipv4");
    await writeFile(join(dir, "addr_traddr"), this.address);
    await writeFile(join(dir, "addr_trsvcid"), String(port));
    this.#ownPorts.set(port, id);
    this.#portIds.set(port, id);
    return id;
  }

  async #link(a: Active, port: number): Promise<void> {
    const id = await this.#portIdFor(port);
    // The first link enables the port: a port already in use by another listener fails here.
    await symlink(this.#subsys(a.nqn), join(this.#root, "ports", id, "subsystems", a.nqn));
    a.port = port;
    a.portId = id;
  }

  async #unlink(a: Active): Promise<void> {
    if (!a.portId) return;
    const link = join(this.#root, "ports", a.portId, "subsystems", a.nqn);
    if (await readlink(link).catch(() => undefined)) await unlink(link);
    a.portId = "";
  }

  async #teardown(a: Active): Promise<void> {
    const sub = this.#subsys(a.nqn);
    await this.#unlink(a);
    if (existsSync(sub)) {
      for (const h of await readdir(join(sub, "allowed_hosts"))) await unlink(join(sub, "allowed_hosts", h));
      const ns = join(sub, "namespaces", "1");
      if (existsSync(ns)) {
        await writeFile(join(ns, "enable"), "0");
        await rmdir(ns);
      }
      await rmdir(sub);
    }
    if (a.loop) await runOk("losetup", ["-d", a.loop], { timeoutMs: CMD_TIMEOUT_MS });
    this.#active.delete(a.diskId);
    await this.#dropUnusedHosts();
    this.#log(`nvmet: removed ${a.nqn}`);
  }

  async #dropUnusedHosts(): Promise<void> {
    const used = new Set([...this.#active.values()].flatMap((a) => a.hosts));
    for (const h of [...this.#ownHosts]) {
      if (used.has(h)) continue;
      // Another subsystem (not ours) may still link it: then it stays.
      if (
        await rmdir(join(this.#root, "hosts", h)).then(
          () => true,
          () => false,
        )
      )
        this.#ownHosts.delete(h);
    }
  }

  async #dropUnusedPorts(): Promise<void> {
    for (const [port, id] of [...this.#ownPorts]) {
      const dir = join(this.#root, "ports", id);
      if ((await readdir(join(dir, "subsystems")).catch(() => ["?"])).length) continue;
      await rmdir(dir).catch(() => undefined);
      this.#ownPorts.delete(port);
      this.#portIds.delete(port);
    }
  }
}

/** Commands that can change what is exported: the exports are brought in line right after each. */
const CHANGES_EXPORTS = /^\/disk (add|set|remove|enable|disable)\b/;

/**
 * The simulator's hook, after each command (RunOptions.afterCommand): bring the exports in line. A failed
 * export is the error of the command that asked for it (`failure: nvme-tcp export: ...`), which stops the
 * line there, as an appliance would refuse the change; the store keeps the change, and the export is tried
 * again when its settings change.
 */
export async function exportRefusal(
  exporter: NvmetExporter,
  disks: readonly FileDiskState[],
  localPath: (fileName: string) => string,
  command: string,
): Promise<string | undefined> {
  if (!CHANGES_EXPORTS.test(command)) return undefined;
  try {
    await exporter.sync(disks, localPath);
    return undefined;
  } catch (err) {
    return `failure: nvme-tcp export: ${(err as Error).message}`;
  }
}

/** After the whole line: anything a command changed without the per-command hook seeing it. */
export async function syncExportsAfter(
  exporter: NvmetExporter,
  disks: readonly FileDiskState[],
  localPath: (fileName: string) => string,
  result: LineResult,
): Promise<LineResult> {
  try {
    await exporter.sync(disks, localPath);
    return result;
  } catch (err) {
    return result.error !== undefined
      ? result
      : { output: result.output, error: `failure: nvme-tcp export: ${(err as Error).message}` };
  }
}
