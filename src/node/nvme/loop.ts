// Loop transport: the simulator keeps each RouterOS disk as `<loopRoot>/<file-path>`; the node attaches
// that file as a loop device. Used for tests, CI, csi-sanity and demos, where no NVMe/TCP target exists.
//
// Several node plugins on one machine (the multi-node test cluster: one kubelet per mount namespace) see
// every loop device of the machine, and a loop device's backing_file reads the same from all of them. Over
// NVMe/TCP each host has its own controller, so each node must find only the devices it attached itself:
// with a `deviceRecordDir` (node-local, e.g. beside the plugin's socket) the transport records each loop
// device it attaches by name and diskseq (the kernel's per-attach sequence number, so a loop device that
// was detached and taken by another node is not mistaken for ours) and ignores loop devices it has no
// record of. Without it, any loop device over the file is this node's (one plugin per machine).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { access, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { failedPrecondition, notFound, unavailable } from "../../csi/errors.ts";
import { decodeFilePath } from "../../csi/volume-context.ts";
import type { Logger } from "../../observability/logger.ts";
import { run } from "../../util/exec.ts";
import { sleep } from "../../util/sleep.ts";
import { readSysfs } from "./block-device.ts";
import type { AttachTarget, BlockDevice, LoopTarget, Transport, UsageCheck } from "./transport.ts";

export interface LoopOptions {
  loopRoot: string;
  sysfsRoot: string;
  devRoot: string;
  log: Logger;
  losetupCommand?: string;
  commandTimeoutMs?: number;
  /** Node-local directory recording which loop devices this plugin attached (see the file's header). */
  deviceRecordDir?: string;
}

const DELETED = " (deleted)";

function asLoop(t: AttachTarget): LoopTarget {
  if (t.kind !== "loop") throw failedPrecondition(`the loop transport cannot handle a ${t.kind} target`);
  return t;
}

export class LoopTransport implements Transport {
  readonly kind = "loop" as const;
  readonly #o: Required<Omit<LoopOptions, "log" | "deviceRecordDir">> &
    Pick<LoopOptions, "log" | "deviceRecordDir">;

  constructor(opts: LoopOptions) {
    if (!opts.loopRoot || !isAbsolute(opts.loopRoot))
      throw new Error("loop transport: loopRoot must be an absolute directory");
    this.#o = { losetupCommand: "losetup", commandTimeoutMs: 30_000, ...opts };
  }

  parseTarget(context: Record<string, string>): AttachTarget {
    return { kind: "loop", filePath: decodeFilePath(context) };
  }

  targetKey(target: AttachTarget): string {
    return target.kind === "loop" ? `file:${target.filePath}` : `nqn:${target.nqn}`;
  }

  manages(target: AttachTarget): boolean {
    return target.kind === "loop"; // parseTarget already confined it to the loop root
  }

  #rootReal?: string;

  /** The loop root with symlinks resolved, as backing_file shows it; resolved once, it does not move. */
  async #root(): Promise<string> {
    this.#rootReal ??= await realpath(this.#o.loopRoot);
    return this.#rootReal;
  }

  async #backingPath(t: LoopTarget): Promise<string> {
    return join(await this.#root(), t.filePath);
  }

  async check(): Promise<void> {
    const problems: string[] = [];
    const r = await run(this.#o.losetupCommand, ["--version"], { timeoutMs: 10_000 }).then(
      (x) => (x.code === 0 ? "" : `exit status ${x.code}`),
      (e: Error) => e.message,
    );
    if (r) problems.push(`losetup is not usable (${r}); install util-linux`);
    if (
      !(await access(join(this.#o.devRoot, "loop-control")).then(
        () => true,
        () => false,
      ))
    )
      problems.push(`${join(this.#o.devRoot, "loop-control")} is missing (modprobe loop)`);
    const root = await stat(this.#o.loopRoot).catch(() => undefined);
    if (!root?.isDirectory()) problems.push(`loop root ${this.#o.loopRoot} is not a directory`);
    if (problems.length) throw failedPrecondition(`loop transport not usable: ${problems.join("; ")}`);
  }

  /** The kernel's sequence number of the device's current attachment (`/sys/block/<name>/diskseq`). */
  #diskseq(name: string): Promise<string | undefined> {
    return readSysfs(join(this.#o.sysfsRoot, "block", name, "diskseq"));
  }

  /** Records that this node attached `name` (written before the caller can use the device). */
  async #recordOwn(name: string): Promise<void> {
    const dir = this.#o.deviceRecordDir;
    if (!dir) return;
    const seq = await this.#diskseq(name);
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, `${seq ?? ""}\n`);
    renameSync(tmp, join(dir, name));
  }

  #forgetOwn(name: string): void {
    if (this.#o.deviceRecordDir) rmSync(join(this.#o.deviceRecordDir, name), { force: true });
  }

  /** Whether this node attached `name` in its current attachment (always, without a record directory). */
  async #isOwn(name: string): Promise<boolean> {
    const dir = this.#o.deviceRecordDir;
    if (!dir) return true;
    let recorded: string;
    try {
      recorded = readFileSync(join(dir, name), "utf8").trim();
    } catch {
      return false;
    }
    return recorded === ((await this.#diskseq(name)) ?? "");
  }

  /** Loop devices with their backing file, from /sys/block/loop*\/loop/backing_file; only this node's. */
  async #loops(): Promise<Array<{ name: string; backing: string }>> {
    const out: Array<{ name: string; backing: string }> = [];
    let entries: string[] = [];
    try {
      entries = readdirSync(join(this.#o.sysfsRoot, "block")); // sysfs: synchronous, see block-device.ts
    } catch {
      return out;
    }
    for (const name of entries) {
      if (!/^loop\d+$/.test(name)) continue;
      const backing = await readSysfs(join(this.#o.sysfsRoot, "block", name, "loop", "backing_file"));
      if (backing && (await this.#isOwn(name))) out.push({ name, backing });
    }
    return out.sort((a, b) => Number(a.name.slice(4)) - Number(b.name.slice(4)));
  }

  async findDevice(target: AttachTarget): Promise<BlockDevice | undefined> {
    const t = asLoop(target);
    const file = await this.#backingPath(t);
    // A device attached by an earlier plugin container shows its backing file relative to that container's
    // (now vanished) bind mount of the loop root: `/<filePath>` (test/k8s scenario 6). File paths are unique
    // volume ids under the root, so that form names the same file.
    const orphaned = `/${t.filePath}`;
    const loops = await this.#loops();
    const hit = loops.find((l) => l.backing === file) ?? loops.find((l) => l.backing === orphaned);
    return hit ? { name: hit.name, path: join(this.#o.devRoot, hit.name) } : undefined;
  }

  async attach(target: AttachTarget, _signal: AbortSignal): Promise<BlockDevice> {
    const t = asLoop(target);
    const existing = await this.findDevice(t);
    if (existing) return existing;
    const file = await this.#backingPath(t);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) throw notFound(`backing file ${t.filePath} does not exist under ${this.#o.loopRoot}`);
    // --direct-io=off: the simulator copies disk files (clones, snapshots) with ordinary buffered I/O;
    // a buffered loop device shares that page cache, so a copy sees every write the device acknowledged.
    // It also works on tmpfs, where O_DIRECT does not.
    for (let attempt = 0; ; attempt++) {
      const r = await run(this.#o.losetupCommand, ["--find", "--show", "--direct-io=off", file], {
        timeoutMs: this.#o.commandTimeoutMs,
      });
      const path = r.stdout.trim();
      if (r.code === 0 && /^\/dev\/loop\d+$/.test(path)) {
        const name = path.slice("/dev/".length);
        await this.#recordOwn(name);
        return { name, path: join(this.#o.devRoot, name) };
      }
      // Two attaches racing for the same free loop device: one gets EBUSY; try again.
      if (attempt < 3 && /busy|resource temporarily/i.test(r.stderr)) {
        await sleep(50 * (attempt + 1));
        continue;
      }
      throw unavailable(
        `losetup ${t.filePath} failed (exit status ${r.code}): ${r.stderr.trim().slice(0, 300)}`,
      );
    }
  }

  async detach(target: AttachTarget): Promise<void> {
    const dev = await this.findDevice(asLoop(target));
    if (!dev) return;
    const r = await run(this.#o.losetupCommand, ["--detach", dev.path], {
      timeoutMs: this.#o.commandTimeoutMs,
    });
    // losetup -d on a busy device only sets autoclear and exits 0; wait until the binding is really gone.
    const deadline = Date.now() + 5_000;
    // Usually gone at once or within a few ms: poll fast first, then back off to 50 ms.
    for (
      let wait = 2;
      await readSysfs(join(this.#o.sysfsRoot, "block", dev.name, "loop", "backing_file"));
      wait = Math.min(50, wait * 2)
    ) {
      if (Date.now() >= deadline)
        throw unavailable(
          `loop device ${dev.name} is still attached after losetup -d (exit status ${r.code}: ${r.stderr.trim()})`,
        );
      await sleep(wait);
    }
    this.#forgetOwn(dev.name);
  }

  async rescan(device: BlockDevice): Promise<void> {
    const r = await run(this.#o.losetupCommand, ["--set-capacity", device.path], {
      timeoutMs: this.#o.commandTimeoutMs,
    });
    if (r.code !== 0) throw unavailable(`losetup --set-capacity ${device.name} failed: ${r.stderr.trim()}`);
  }

  async identify(deviceName: string): Promise<AttachTarget | undefined> {
    if (!/^loop\d+$/.test(deviceName)) return undefined;
    const backing = await readSysfs(join(this.#o.sysfsRoot, "block", deviceName, "loop", "backing_file"));
    if (!backing) return undefined;
    const rel = relative(
      await this.#root(),
      backing.endsWith(DELETED) ? backing.slice(0, -DELETED.length) : backing,
    );
    if (!rel || rel.startsWith("..") || isAbsolute(rel)) return undefined;
    return { kind: "loop", filePath: rel.split(sep).join("/") };
  }

  async condition(device: BlockDevice): Promise<string | undefined> {
    const backing = await readSysfs(join(this.#o.sysfsRoot, "block", device.name, "loop", "backing_file"));
    if (!backing) return `loop device ${device.name} is no longer attached`;
    if (backing.endsWith(DELETED))
      return `the disk file behind ${device.name} was deleted on the RDS side (${backing})`;
    return undefined;
  }

  async cleanupOrphans(inUse: UsageCheck): Promise<string[]> {
    const root = await this.#root();
    const removed: string[] = [];
    for (const l of await this.#loops()) {
      // Ours and orphaned: the disk file under our root was deleted while attached.
      if (!l.backing.startsWith(`${root}/`) || !l.backing.endsWith(DELETED)) continue;
      const dev = { name: l.name, path: join(this.#o.devRoot, l.name) };
      const users = await inUse(dev);
      if (users.length) {
        this.#o.log.warn({ device: l.name, users }, "orphaned loop device is still in use; leaving it");
        continue;
      }
      await run(this.#o.losetupCommand, ["--detach", dev.path], { timeoutMs: this.#o.commandTimeoutMs });
      this.#forgetOwn(l.name);
      removed.push(l.name);
    }
    return removed;
  }
}
