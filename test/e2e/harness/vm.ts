// Host side of the e2e VM: installs the tools (apt-get, only what is missing), downloads and unpacks a
// Debian kernel (cached in .cache/e2e/), builds a tiny initramfs, and boots qemu with the host's own `/`
// as the guest's root (virtio-9p, read-only, tmpfs overlay inside). The guest therefore runs this very
// repository, its node_modules and Node 24, and the host's nvme-cli/e2fsprogs/util-linux, with nothing
// copied. Only the Debian kernel differs: it has nvmet, nvmet-tcp and nvme-tcp as modules (the host's
// kernel has no NVMe/TCP). KVM does not work on these machines (a PVM-only /dev/kvm), so qemu runs TCG.
//
// A guest "entry" is a shell script from this repository; it runs as root after the root is ready, and
// writes its results to the one read-write 9p share (`outDir`, mounted at the same path in the guest).
// The console (serial) goes to a log file; pass/fail is decided by the caller from the results the guest
// wrote, never from qemu's exit status.
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../../..");
export const CACHE = join(REPO, ".cache", "e2e");
const INIT = join(import.meta.dirname, "init.sh");

/** Debian packages the harness needs on the host (the guest uses the same binaries through 9p). */
const HOST_PACKAGES = [
  "qemu-system-x86",
  "busybox-static",
  "nvme-cli",
  "cpio",
  "kmod",
  "e2fsprogs",
  "xfsprogs",
  "util-linux",
];
/** Modules the initramfs loads itself: enough to mount a 9p root with an overlay and configfs. */
const INITRD_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay", "configfs"];

export interface VmImage {
  kernel: string;
  initrd: string;
  /** Module tree of the guest kernel, bind-mounted at /lib/modules/<release> inside the guest. */
  modulesDir: string;
  release: string;
}

export interface BootOptions {
  /** Absolute path of the guest entry script (must not be under /tmp, /run, /dev, /proc, /sys: fresh in the guest). */
  entry: string;
  /** Host directory mounted read-write at the same path in the guest (results). */
  outDir: string;
  consoleLog: string;
  timeoutMs?: number;
  memMiB?: number;
  cpus?: number;
  /** Extra kernel command line words (e.g. `e2e.filter=...`, module parameters). */
  append?: string[];
  /** qemu CPU model (default max). */
  cpuModel?: string;
  /** Copy the console to this process's stdout as it arrives. */
  echo?: boolean;
}

export interface BootResult {
  /** qemu's exit status (informational only). */
  code: number | null;
  timedOut: boolean;
  wallMs: number;
  console: string;
}

function sh(cmd: string, args: string[], opts: { cwd?: string; quiet?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(-2000)}`,
    );
  return r.stdout;
}

function log(msg: string): void {
  process.stdout.write(`e2e: ${msg}\n`);
}

/** apt-get install of the packages that are missing (needs root; apt-get update only when something is). */
export function ensureHostPackages(): void {
  const missing = HOST_PACKAGES.filter((p) => spawnSync("dpkg", ["-s", p], { stdio: "ignore" }).status !== 0);
  if (missing.length === 0) return;
  log(`installing ${missing.join(" ")} with apt-get`);
  sh("apt-get", ["update", "-qq"]);
  const r = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(" ")} failed`);
}

/** `linux-image-amd64` → the versioned package it currently depends on (the ABI moves with point releases). */
function kernelPackage(): string | undefined {
  const out = spawnSync("apt-cache", ["depends", "linux-image-amd64"], { encoding: "utf8" }).stdout ?? "";
  return /Depends: (linux-image-\d[^\s]*)/.exec(out)?.[1];
}

function ensureKernel(dir: string): void {
  if (existsSync(join(dir, "boot")) && readdirSync(join(dir, "boot")).some((f) => f.startsWith("vmlinuz-")))
    return;
  const work = join(CACHE, "download");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  let pkg = kernelPackage();
  const download = () =>
    spawnSync("apt-get", ["download", pkg ?? "linux-image-amd64"], {
      cwd: work,
      stdio: ["ignore", "ignore", "pipe"],
      encoding: "utf8",
    });
  let r = pkg ? download() : undefined;
  if (r?.status !== 0) {
    // Stale package lists: the versioned package was superseded and its .deb is gone from the mirror.
    sh("apt-get", ["update", "-qq"]);
    pkg = kernelPackage();
    if (!pkg) throw new Error("cannot resolve linux-image-amd64 to a kernel package");
    r = download();
    if (r.status !== 0) throw new Error(`apt-get download ${pkg} failed: ${r.stderr}`);
  }
  const deb = readdirSync(work).find((f) => f.endsWith(".deb"));
  if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb`);
  log(`unpacking ${deb}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  sh("dpkg-deb", ["-x", join(work, deb), dir]);
  rmSync(work, { recursive: true, force: true });
}

function buildInitrd(kdir: string, release: string, initrd: string): void {
  const stamp = `${initrd}.stamp`;
  const want = `${release} ${statSync(INIT).mtimeMs}`;
  if (existsSync(initrd) && existsSync(stamp) && readFileSync(stamp, "utf8") === want) return;
  const root = join(CACHE, "initrd-root");
  rmSync(root, { recursive: true, force: true });
  for (const d of ["bin", "mods", "proc", "sys", "dev"]) mkdirSync(join(root, d), { recursive: true });
  copyFileSync("/bin/busybox", join(root, "bin", "busybox"));
  copyFileSync(INIT, join(root, "init"));
  sh("chmod", ["755", join(root, "init"), join(root, "bin", "busybox")]);
  const deps = sh("modprobe", ["-d", kdir, "-S", release, "-a", "--show-depends", ...INITRD_MODULES]);
  const order: string[] = [];
  for (const line of deps.split("\n")) {
    const m = /^insmod (\S+)/.exec(line);
    if (!m?.[1]) continue;
    const name = m[1].split("/").pop()!.replace(/\.ko$/, "");
    if (order.includes(name)) continue;
    copyFileSync(m[1], join(root, "mods", `${name}.ko`));
    order.push(name);
  }
  writeFileSync(join(root, "mods", "order"), `${order.join("\n")}\n`);
  const cpio = spawnSync("sh", ["-c", "find . | cpio -o -H newc --quiet | gzip -1"], {
    cwd: root,
    maxBuffer: 256 << 20,
  });
  if (cpio.status !== 0) throw new Error(`initramfs: ${cpio.stderr}`);
  writeFileSync(initrd, cpio.stdout);
  writeFileSync(stamp, want);
  rmSync(root, { recursive: true, force: true });
}

/** Everything needed before a boot; cheap (a few stat calls) once cached. */
export function prepareVm(): VmImage {
  ensureHostPackages();
  mkdirSync(CACHE, { recursive: true });
  const kdir = join(CACHE, "kernel");
  ensureKernel(kdir);
  const vmlinuz = readdirSync(join(kdir, "boot")).find((f) => f.startsWith("vmlinuz-"))!;
  const release = vmlinuz.slice("vmlinuz-".length);
  const modulesDir = join(kdir, "lib", "modules", release);
  // The .deb ships no modules.dep: depmod writes it next to the modules.
  if (!existsSync(join(modulesDir, "modules.dep"))) sh("depmod", ["-b", kdir, release]);
  const initrd = join(CACHE, "initrd.img");
  buildInitrd(kdir, release, initrd);
  return { kernel: join(kdir, "boot", vmlinuz), initrd, modulesDir, release };
}

const GUEST_FRESH = /^\/(tmp|run|dev|proc|sys)(\/|$)/;

/** Boots the VM, runs `entry` inside, and resolves when the guest powers off (or the timeout kills it). */
export function bootVm(image: VmImage, o: BootOptions): Promise<BootResult> {
  const entry = resolve(o.entry);
  const outDir = resolve(o.outDir);
  // Paths inside the repository are fine even under /tmp: init.sh binds the repository back in.
  for (const p of [entry, outDir])
    if (GUEST_FRESH.test(p) && !p.startsWith(`${REPO}/`))
      throw new Error(
        `${p} is a fresh tmpfs/pseudo file system inside the guest; use a path under the repository`,
      );
  if (/\s/.test(entry + outDir + image.modulesDir + REPO))
    throw new Error("paths on the kernel command line must not contain spaces");
  mkdirSync(outDir, { recursive: true });
  const append = [
    "console=ttyS0",
    "panic=-1",
    "quiet",
    "loglevel=4",
    `e2e.entry=${entry}`,
    `e2e.modules=${image.modulesDir}`,
    `e2e.out=${outDir}`,
    `e2e.repo=${REPO}`,
    ...(o.append ?? []),
  ].join(" ");
  const args = [
    "-accel",
    "tcg,thread=multi",
    "-cpu",
    o.cpuModel ?? "max",
    "-m",
    String(o.memMiB ?? 3072),
    "-smp",
    String(o.cpus ?? 2),
    "-nographic",
    "-no-reboot",
    "-nic",
    "none",
    "-kernel",
    image.kernel,
    "-initrd",
    image.initrd,
    "-append",
    append,
    "-virtfs",
    "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
    "-virtfs",
    `local,path=${outDir},mount_tag=e2eout,security_model=none,multidevs=remap`,
  ];
  const started = performance.now();
  const timeoutMs = o.timeoutMs ?? 15 * 60_000;
  return new Promise((resolvePromise, reject) => {
    const qemu = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
    const file = createWriteStream(o.consoleLog);
    let text = "";
    const onData = (d: Buffer) => {
      const s = d.toString("utf8");
      text += s;
      file.write(s);
      if (o.echo) process.stdout.write(s);
    };
    qemu.stdout.on("data", onData);
    qemu.stderr.on("data", onData);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill("SIGKILL");
    }, timeoutMs);
    qemu.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    qemu.on("close", (code) => {
      clearTimeout(timer);
      file.end(() => resolvePromise({ code, timedOut, wallMs: performance.now() - started, console: text }));
    });
  });
}
