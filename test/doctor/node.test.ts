// `rds-csi doctor` node checks. Two kinds of tests:
//  - against this machine, real parts only (its kernel, real losetup, real bind mounts with real
//    propagation flags): the expected result is derived at test time from the machine's own state, so the
//    same assertions hold on a machine that has NVMe/TCP;
//  - against prepared trees (sysfs, /proc, /lib/modules, /etc) for the states this machine cannot be in
//    (a loadable module, a placeholder host NQN, an orphaned NVMe connection).
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.ts";
import { defaultScope, nodeChecks, runDoctor } from "../../src/doctor/doctor.ts";
import { defaultHostEnv, type HostEnv } from "../../src/doctor/host.ts";
import { nvmeConnectionsCheck } from "../../src/doctor/node-connections.ts";
import { hostNqnCheck, knownSharedNqn } from "../../src/doctor/node-identity.ts";
import { fabricsDeviceCheck, kernelModulesCheck } from "../../src/doctor/node-kernel.ts";
import { kubeletPropagationCheck } from "../../src/doctor/node-kubelet.ts";
import { loopDeviceCheck } from "../../src/doctor/node-loop.ts";
import { nvmeCliCheck, parseNvmeCliVersion, toolChecks } from "../../src/doctor/node-tools.ts";
import { runCheck } from "../../src/doctor/runner.ts";
import { deriveHostNqn } from "../../src/node/nvme/host-nqn.ts";

const BIN = join(import.meta.dirname, "..", "..", "bin", "rds-csi");
const DRIVER = "rds.csi.mikrotik.com";
const PREFIX = "nqn.2026-01.com.mikrotik.rds-csi:";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rds-doctor-"));
});
afterEach(async () => {
  // Bind mounts made by a test come off before the directory goes.
  for (let i = 0; i < 4; i++) {
    const under = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4])
      .filter((mp): mp is string => !!mp && (mp === dir || mp.startsWith(`${dir}/`)));
    if (under.length === 0) break;
    for (const mp of under.sort((a, b) => b.length - a.length)) execFileSync("umount", ["-l", mp]);
  }
  await rm(dir, { recursive: true, force: true });
});

async function put(path: string, content = ""): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

/** This machine's kernel facts, read independently of the doctor's code. */
function machine() {
  let config = "";
  try {
    config = gunzipSync(readFileSync("/proc/config.gz")).toString("utf8");
  } catch {
    // no /proc/config.gz on this kernel
  }
  const symbol = (s: string) => {
    const line = config.split("\n").find((l) => l.startsWith(`${s}=`) || l === `# ${s} is not set`);
    return line?.startsWith("#") ? "n" : line?.split("=")[1];
  };
  return {
    hasConfig: config !== "",
    nvmeTcpConfig: symbol("CONFIG_NVME_TCP"),
    nvmeTcpLoaded: existsSync("/sys/module/nvme_tcp"),
    fabricsDev: existsSync("/dev/nvme-fabrics"),
    procModules: existsSync("/proc/modules"),
  };
}

describe("doctor: node checks on this machine", () => {
  it("kernel modules: the verdict matches the machine's kernel", async () => {
    const m = machine();
    const r = await runCheck(kernelModulesCheck(defaultHostEnv()));
    if (m.nvmeTcpLoaded) {
      expect(r.status).not.toBe("fail");
      expect(r.detail).toMatch(/nvme_tcp: (loaded|built into the kernel)/);
    } else if (m.hasConfig && m.nvmeTcpConfig !== "m" && m.nvmeTcpConfig !== "y") {
      // This VM: a kernel built without NVMe/TCP. No package or modprobe can help; the fix says so.
      expect(r.status).toBe("fail");
      expect(r.detail).toContain(
        `nvme_tcp: not available (CONFIG_NVME_TCP ${m.nvmeTcpConfig === "n" ? "is not set" : "is absent"})`,
      );
      expect(r.detail).toContain(
        `kernel ${defaultHostEnv().kernelRelease}, config read from /proc/config.gz`,
      );
      if (!m.procModules) expect(r.detail).toMatch(/no loadable module support$/);
      expect(r.fix).toMatch(/^boot a kernel built with CONFIG_NVME_TCP=m or =y/);
    } else {
      expect(["warn", "fail"]).toContain(r.status);
      expect(r.detail).toMatch(/nvme_tcp: not (loaded but loadable|available)/);
    }
  });

  it("/dev/nvme-fabrics: present or explained", async () => {
    const m = machine();
    const r = await runCheck(fabricsDeviceCheck(defaultHostEnv()));
    if (m.fabricsDev) expect(r).toMatchObject({ status: "ok", detail: "/dev/nvme-fabrics exists" });
    else {
      expect(r.status).toBe("fail");
      if (m.hasConfig && !existsSync("/sys/module/nvme_fabrics"))
        expect(r.detail).toMatch(
          /^\/dev\/nvme-fabrics does not exist: this kernel has no nvme_fabrics \(CONFIG_NVME_FABRICS is (absent|not set)\)$/,
        );
    }
  });

  it("nvme-cli: found with its version, or missing with an install command", async () => {
    const r = await runCheck(nvmeCliCheck(defaultHostEnv()));
    let out: string | undefined;
    try {
      out = execFileSync("nvme", ["version"], { encoding: "utf8" });
    } catch {
      out = undefined;
    }
    if (out !== undefined) {
      expect(r.status).toBe("ok");
      expect(r.detail).toMatch(new RegExp(`nvme-cli ${parseNvmeCliVersion(out)!.replace(/\./g, "\\.")}$`));
    } else {
      expect(r).toMatchObject({ status: "fail", detail: "nvme is not on the PATH" });
    }
  });

  it("loop device: attaches and detaches a real one, leaving nothing behind", async () => {
    const before = loopsBackedBy("rds-csi-doctor-");
    const r = await runCheck(loopDeviceCheck(defaultHostEnv({ tmpDir: dir })));
    expect(r.status).toBe("ok");
    expect(r.detail).toMatch(/^attached and detached \/dev\/loop\d+/);
    expect(loopsBackedBy("rds-csi-doctor-")).toEqual(before);
    expect(readdirSync(dir)).toEqual([]); // the probe file is gone too
  });

  it("loop device: a losetup that fails is reported with kubelet's point of view", async () => {
    const bin = join(dir, "bin");
    await put(
      join(bin, "losetup"),
      "#!/bin/sh\necho 'losetup: cannot find an unused loop device' >&2\nexit 1\n",
    );
    execFileSync("chmod", ["+x", join(bin, "losetup")]);
    const r = await runCheck(loopDeviceCheck(defaultHostEnv({ tmpDir: dir, path: [bin] })));
    expect(r.status).toBe("fail");
    expect(r.detail).toBe(
      "losetup -f --show failed (exit status 1): losetup: cannot find an unused loop device",
    );
    expect(r.fix).toContain("kubelet needs `losetup -f` for every block volume");
  });

  it("tools: every tool this machine has is found; missing ones are named with the package", async () => {
    const reports = await Promise.all(toolChecks(defaultHostEnv()).map((c) => runCheck(c)));
    const have = (t: string) => {
      try {
        execFileSync("sh", ["-c", `command -v ${t}`]);
        return true;
      } catch {
        return false;
      }
    };
    const base = ["blkid", "mount", "umount", "losetup"].every(have);
    expect(reports.find((r) => r.id === "node.tools.base")?.status).toBe(base ? "ok" : "fail");

    // A PATH with only some of them: ext4 tools missing fail, xfs tools missing warn.
    const bin = join(dir, "bin");
    await mkdir(bin);
    for (const t of ["blkid", "mount", "umount", "losetup", "mkfs.ext4"]) {
      const p = execFileSync("sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).trim();
      await symlink(p, join(bin, t));
    }
    const partial = new Map(
      (await Promise.all(toolChecks(defaultHostEnv({ path: [bin] })).map((c) => runCheck(c)))).map((r) => [
        r.id,
        r,
      ]),
    );
    expect(partial.get("node.tools.base")?.status).toBe("ok");
    expect(partial.get("node.tools.ext4")).toMatchObject({
      status: "fail",
      detail: "missing: e2fsck or fsck.ext4, resize2fs (needed by ext4 volumes (the default fsType))",
    });
    expect(partial.get("node.tools.xfs")).toMatchObject({
      status: "warn",
      detail:
        "missing: mkfs.xfs, xfs_repair, xfs_growfs (needed by volumes of StorageClasses with fsType xfs)",
    });
  });

  it("kubelet dir propagation: shared, slave and private bind mounts, and a missing directory", async () => {
    const env = defaultHostEnv();
    const shared = join(dir, "shared");
    const slave = join(dir, "slave");
    const priv = join(dir, "private");
    for (const d of [shared, slave, priv]) await mkdir(d);
    execFileSync("mount", ["--bind", shared, shared]);
    execFileSync("mount", ["--make-shared", shared]);
    execFileSync("mount", ["--bind", shared, slave]);
    execFileSync("mount", ["--make-slave", slave]);
    execFileSync("mount", ["--bind", priv, priv]);
    execFileSync("mount", ["--make-private", priv]);
    await mkdir(join(shared, "pods"));

    const s = await runCheck(kubeletPropagationCheck(env, join(shared, "pods")));
    expect(s.status).toBe("ok");
    expect(s.detail).toMatch(
      new RegExp(
        `^${shared}/pods is on mount ${shared} \\(shared:\\d+\\): shared, mounts made by the plugin propagate$`,
      ),
    );
    const sl = await runCheck(kubeletPropagationCheck(env, slave));
    expect(sl.status).toBe("fail");
    expect(sl.detail).toMatch(/\(master:\d+\): slave \(HostToContainer\)/);
    expect(sl.fix).toContain("mountPropagation: Bidirectional");
    const p = await runCheck(kubeletPropagationCheck(env, priv));
    expect(p.status).toBe("fail");
    expect(p.detail).toBe(
      `${priv} is on mount ${priv} (no propagation fields): private, mounts made by the plugin are invisible to kubelet and pods`,
    );
    expect(p.fix).toContain("mount --make-rshared /");
    const missing = await runCheck(kubeletPropagationCheck(env, join(dir, "nope")));
    expect(missing.status).toBe("warn");
    expect(missing.fix).toContain("--kubelet-dir");
  });

  it("the whole node run and the executable agree with each other and with the exit status", async () => {
    const config = loadConfig("node", ["--node-id", "node-a"], {}, { relaxed: true });
    expect(defaultScope(config)).toEqual({ node: true, controller: false });
    const reports = await runDoctor({ config, env: { tmpDir: dir } });
    expect(reports.map((r) => r.id)).toEqual(nodeChecks(config).map((c) => c.id));
    const out = await spawnJson(["doctor", "--node", "--json", "--node-id", "node-a"]);
    const byId = new Map<string, { status: string }>(
      out.doc.checks.map((c: { id: string; status: string }) => [c.id, c]),
    );
    for (const r of reports) expect(byId.get(r.id)?.status, r.id).toBe(r.status);
    expect(out.status).toBe(reports.some((r) => r.status === "fail") ? 1 : 0);
    const nqn = reports.find((r) => r.id === "node.host-nqn")!;
    expect(nqn.detail).toContain(
      `rds-csi uses ${deriveHostNqn("node-a", DRIVER)} (derived from node id node-a)`,
    );
  });
});

describe("doctor: node checks on prepared trees", () => {
  /** A host whose kernel lacks nothing but whose state is written by the test. */
  async function fakeHost(files: Record<string, string>): Promise<HostEnv> {
    for (const [p, content] of Object.entries(files)) await put(join(dir, p), content);
    for (const d of ["host", "sys", "proc", "dev"]) await mkdir(join(dir, d), { recursive: true });
    return defaultHostEnv({
      hostRoot: join(dir, "host"),
      sysfsRoot: join(dir, "sys"),
      procRoot: join(dir, "proc"),
      devRoot: join(dir, "dev"),
      kernelRelease: "6.8.0-1009-aws",
      path: [],
    });
  }
  const UBUNTU = 'ID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 24.04 LTS"\n';

  it("loaded modules (from /proc/modules) pass", async () => {
    const env = await fakeHost({
      "proc/modules":
        "nvme_tcp 53248 0 - Live 0x0\nnvme_fabrics 36864 1 nvme_tcp, Live 0x0\nnvme_core 212992 2 nvme_tcp,nvme_fabrics, Live 0x0\n",
    });
    expect(await runCheck(kernelModulesCheck(env))).toMatchObject({
      status: "ok",
      detail: "nvme_core: loaded; nvme_fabrics: loaded; nvme_tcp: loaded",
    });
  });

  it("a module listed in modules.dep but not loaded warns with the distribution's way to load it", async () => {
    const dep =
      "kernel/drivers/nvme/host/nvme-tcp.ko.zst: kernel/drivers/nvme/host/nvme-fabrics.ko.zst\n" +
      "kernel/drivers/nvme/host/nvme-fabrics.ko.zst:\n";
    const files = {
      "proc/modules": "nvme_core 212992 0 - Live 0x0\n",
      "host/lib/modules/6.8.0-1009-aws/modules.dep": dep,
    };
    const talos = await fakeHost({ ...files, "host/etc/os-release": "ID=talos\nNAME=Talos\n" });
    const r = await runCheck(kernelModulesCheck(talos));
    expect(r.status).toBe("warn");
    expect(r.detail).toBe(
      "nvme_core: loaded; nvme_fabrics: not loaded but loadable (listed in " +
        `${join(dir, "host")}/lib/modules/6.8.0-1009-aws/modules.dep); nvme_tcp: not loaded but loadable (listed in ${join(dir, "host")}/lib/modules/6.8.0-1009-aws/modules.dep)`,
    );
    expect(r.fix).toContain("machine.kernel.modules: [{name: nvme_tcp}]");
    await put(join(dir, "host/etc/os-release"), "ID=nixos\n");
    expect((await runCheck(kernelModulesCheck(talos))).fix).toContain('boot.kernelModules = [ "nvme-tcp" ];');
  });

  it("a module the kernel has as =m but that is not installed fails with the package to install (Ubuntu)", async () => {
    const env = await fakeHost({
      "proc/modules": "nvme_core 212992 0 - Live 0x0\nnvme_fabrics 1 0 - Live 0x0\n",
      "host/etc/os-release": UBUNTU,
      "host/boot/config-6.8.0-1009-aws":
        "CONFIG_MODULES=y\nCONFIG_NVME_CORE=m\nCONFIG_NVME_FABRICS=m\nCONFIG_NVME_TCP=m\n",
      "host/lib/modules/6.8.0-1009-aws/modules.dep": "kernel/drivers/nvme/host/nvme-core.ko.zst:\n",
    });
    const r = await runCheck(kernelModulesCheck(env));
    expect(r.status).toBe("fail");
    expect(r.detail).toContain(
      `nvme_tcp: not available (not found under ${join(dir, "host")}/lib/modules/6.8.0-1009-aws although CONFIG_NVME_TCP=m)`,
    );
    expect(r.fix).toContain("apt install linux-modules-extra-$(uname -r)");
  });

  it("no /lib/modules for the running kernel fails and says so", async () => {
    const env = await fakeHost({ "proc/modules": "", "host/etc/os-release": UBUNTU });
    const r = await runCheck(kernelModulesCheck(env));
    expect(r.status).toBe("fail");
    expect(r.detail).toContain(
      `nvme_tcp: not available (${join(dir, "host")}/lib/modules/6.8.0-1009-aws does not exist)`,
    );
    expect(r.fix).toContain("mount the host's /lib/modules read-only");
  });

  it("host NQN: derived per node, a placeholder --host-nqn fails, a shared /etc/nvme/hostnqn warns", async () => {
    const env = await fakeHost({});
    const derived = await runCheck(hostNqnCheck(env, { nodeId: "worker-1", driverName: DRIVER }));
    expect(derived).toMatchObject({
      status: "ok",
      detail: `rds-csi uses ${deriveHostNqn("worker-1", DRIVER)} (derived from node id worker-1); ${join(dir, "host")}/etc/nvme/hostnqn: absent`,
    });
    const zero = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000000";
    const explicit = await runCheck(
      hostNqnCheck(env, { nodeId: "worker-1", driverName: DRIVER, hostNqn: zero }),
    );
    expect(explicit.status).toBe("fail");
    expect(explicit.detail).toContain(
      `--host-nqn ${zero} is not usable: its UUID 00000000-0000-0000-0000-000000000000 is a placeholder shared by many machines`,
    );
    await put(
      join(dir, "host/etc/nvme/hostnqn"),
      "nqn.2014-08.org.nvmexpress:uuid:03000200-0400-0500-0006-000700080009\n",
    );
    const etc = await runCheck(hostNqnCheck(env, { nodeId: "worker-1", driverName: DRIVER }));
    expect(etc.status).toBe("warn");
    expect(etc.fix).toContain("nvme gen-hostnqn > /etc/nvme/hostnqn");
    expect(
      knownSharedNqn("nqn.2014-08.org.nvmexpress:uuid:4f724172-6c04-4b27-9339-c92cb2f4c1c7"),
    ).toBeUndefined();
    expect(knownSharedNqn("nqn.2014-08.org.nvmexpress:uuid:11111111-1111-1111-1111-111111111111")).toMatch(
      /repeated digit/,
    );
  });

  it("NVMe connections: orphans, dead controllers and a foreign host NQN are reported; other subsystems are left alone", async () => {
    const hostNqn = deriveHostNqn("worker-1", DRIVER);
    const env = await fakeHost({
      // A healthy managed volume: subsystem, live controller, namespace with a block device.
      "sys/class/nvme-subsystem/nvme-subsys0/subsysnqn": `${PREFIX}pvc-a\n`,
      "sys/class/nvme-subsystem/nvme-subsys0/nvme0/.keep": "",
      "sys/class/nvme-subsystem/nvme-subsys0/nvme0n1/.keep": "",
      "sys/class/nvme/nvme0/subsysnqn": `${PREFIX}pvc-a\n`,
      "sys/class/nvme/nvme0/state": "live\n",
      "sys/class/nvme/nvme0/address": "traddr=10.0.0.5,trsvcid=4420\n",
      "sys/class/nvme/nvme0/hostnqn": `${hostNqn}\n`,
      "sys/class/block/nvme0n1/dev": "259:0\n",
      // An orphan: connected, no namespace, controller connecting, made under another host NQN.
      "sys/class/nvme-subsystem/nvme-subsys1/subsysnqn": `${PREFIX}pvc-b\n`,
      "sys/class/nvme-subsystem/nvme-subsys1/nvme1/.keep": "",
      "sys/class/nvme/nvme1/subsysnqn": `${PREFIX}pvc-b\n`,
      "sys/class/nvme/nvme1/state": "connecting\n",
      "sys/class/nvme/nvme1/address": "traddr=10.0.0.5,trsvcid=4420\n",
      "sys/class/nvme/nvme1/hostnqn":
        "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000000\n",
      // Somebody else's (a boot disk over NVMe-oF): never ours to report.
      "sys/class/nvme-subsystem/nvme-subsys2/subsysnqn": "nqn.2019-01.example:boot\n",
    });
    const r = await runCheck(nvmeConnectionsCheck(env, { managedPrefix: PREFIX, hostNqn }));
    expect(r.status).toBe("warn");
    expect(r.detail).toBe(
      `2 managed subsystem(s): ${PREFIX}pvc-a → nvme0n1; ${PREFIX}pvc-b → no namespace; ` +
        `orphans (no namespace): ${PREFIX}pvc-b; not live: ${PREFIX}pvc-b (nvme1: connecting); ` +
        `connected under another host NQN: ${PREFIX}pvc-b (nvme1 connected as nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000000)`,
    );
    expect(r.fix).toContain("nvme disconnect -n <nqn>");
    const none = await runCheck(nvmeConnectionsCheck(await fakeHost({}), { managedPrefix: `${PREFIX}x` }));
    expect(none.status).toBe("ok");
  });

  it("nvme-cli version strings of 1.x and 2.x", () => {
    expect(parseNvmeCliVersion("nvme version 2.3 (git 2.3)\nlibnvme version 1.3 (git 1.3)\n")).toBe("2.3");
    expect(parseNvmeCliVersion("nvme version 1.16\n")).toBe("1.16");
    expect(parseNvmeCliVersion("something else")).toBeUndefined();
  });

  it("--transport=loop skips the NVMe checks and runs the loop transport's own start-up check", async () => {
    const root = join(dir, "loop-root");
    await mkdir(root);
    const config = loadConfig(
      "node",
      ["--node-id", "n", "--transport", "loop", "--loop-root", root],
      {},
      { relaxed: true },
    );
    const reports = await runDoctor({
      config,
      scope: { node: true, controller: false },
      env: { tmpDir: dir },
      kubeletDir: dir,
    });
    const byId = new Map(reports.map((r) => [r.id, r]));
    for (const id of ["node.kernel.nvme-modules", "node.kernel.nvme-fabrics-device", "node.tools.nvme-cli"])
      expect(byId.get(id)).toMatchObject({
        status: "skip",
        detail: "--transport=loop: NVMe/TCP is not used",
      });
    expect(byId.get("node.transport.loop")).toMatchObject({
      status: "ok",
      detail: `loop root ${root} usable`,
    });
  });
});

function loopsBackedBy(fragment: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync("/sys/block")) {
    if (!e.startsWith("loop")) continue;
    try {
      if (readFileSync(`/sys/block/${e}/loop/backing_file`, "utf8").includes(fragment)) out.push(e);
    } catch {
      // not bound
    }
  }
  return out;
}

async function spawnJson(
  args: string[],
): Promise<{ status: number | null; doc: { checks: Array<{ id: string; status: string }> } }> {
  const { spawn } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, TMPDIR: dir },
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, doc: JSON.parse(stdout) }));
  });
}
