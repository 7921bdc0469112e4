// NVMe/TCP on the node. This host's kernel has no nvme_tcp module (and no /dev/nvme-fabrics), so real
// connects are impossible here: namespace resolution runs against hand-built sysfs trees, and the
// transport runs against a fake `nvme` executable on PATH (fixtures/fake-nvme.sh) that edits such a tree
// the way the kernel would. One test stages a real filesystem through that fake, with the "namespace"
// device node pointing at a real loop device, to show that everything after attach is one code path.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code } from "../../src/csi/errors.ts";
import { PublishKey } from "../../src/csi/volume-context.ts";
import { createNodeService } from "../../src/node/node-service.ts";
import { deriveHostNqn, hostIdForNqn } from "../../src/node/nvme/host-nqn.ts";
import { isOrphaned, scanNvme, subsystemOfNamespace } from "../../src/node/nvme/nvme-sysfs.ts";
import { NvmeTcpTransport } from "../../src/node/nvme/nvme-tcp.ts";
import type { AttachTarget } from "../../src/node/nvme/transport.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { execEnvironmentChanged } from "../../src/util/exec.ts";
import {
  capOut,
  cleanupWorkdir,
  codeOf,
  createImage,
  ctx,
  isMounted,
  MiB,
  makeWorkdir,
  mountCap,
  sh,
} from "./helpers.ts";

const PREFIX = "nqn.2026-01.com.mikrotik.rds-csi:";
const FAKE_NVME = join(import.meta.dirname, "fixtures", "fake-nvme.sh");
const HOST_NQN = deriveHostNqn("node-a", "rds.csi.mikrotik.com");

let dir: string;
let sysfs: string;
let dev: string;
let log: string;
const savedEnv = { ...process.env };

async function put(path: string, content = ""): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${content}\n`);
}

async function controller(n: number, nqn: string, children: string[] = [], state = "live"): Promise<void> {
  await put(join(sysfs, "class/nvme", `nvme${n}`, "subsysnqn"), nqn);
  await put(join(sysfs, "class/nvme", `nvme${n}`, "state"), state);
  await put(join(sysfs, "class/nvme", `nvme${n}`, "address"), "traddr=10.0.0.5,trsvcid=4420");
  for (const c of children) await mkdir(join(sysfs, "class/nvme", `nvme${n}`, c), { recursive: true });
}

async function subsystem(n: number, nqn: string, children: string[]): Promise<void> {
  await put(join(sysfs, "class/nvme-subsystem", `nvme-subsys${n}`, "subsysnqn"), nqn);
  for (const c of children)
    await mkdir(join(sysfs, "class/nvme-subsystem", `nvme-subsys${n}`, c), { recursive: true });
}

async function blockDev(name: string, devnum: string): Promise<void> {
  await put(join(sysfs, "class/block", name, "dev"), devnum);
  await put(join(sysfs, "class/block", name, "size"), "2048");
}

function target(name: string, extra: Partial<Record<string, string>> = {}): AttachTarget {
  return {
    kind: "nvme-tcp",
    nqn: `${PREFIX}${name}`,
    address: "10.0.0.5",
    port: 4420,
    ctrlLossTmo: 1800,
    reconnectDelay: 5,
    ...extra,
  } as AttachTarget;
}

function transport(opts: Partial<ConstructorParameters<typeof NvmeTcpTransport>[0]> = {}): NvmeTcpTransport {
  return new NvmeTcpTransport({
    sysfsRoot: sysfs,
    devRoot: dev,
    hostNqn: HOST_NQN,
    hostId: hostIdForNqn(HOST_NQN),
    managedNqnPrefix: PREFIX,
    log: silentLogger,
    pollIntervalMs: 20,
    ...opts,
  });
}

const calls = async (): Promise<string[]> =>
  existsSync(log) ? (await readFile(log, "utf8")).split("\n").filter(Boolean) : [];

beforeEach(async () => {
  dir = await makeWorkdir("nvme");
  sysfs = join(dir, "sys");
  dev = join(dir, "dev");
  log = join(dir, "nvme.log");
  await mkdir(join(sysfs, "class/nvme"), { recursive: true });
  await mkdir(join(sysfs, "class/nvme-subsystem"), { recursive: true });
  await mkdir(join(sysfs, "class/block"), { recursive: true });
  await mkdir(dev, { recursive: true });
  await mkdir(join(dir, "bin"));
  await symlink(FAKE_NVME, join(dir, "bin", "nvme"));
  process.env.PATH = `${join(dir, "bin")}:${savedEnv.PATH}`;
  process.env.FAKE_SYSFS = sysfs;
  process.env.FAKE_DEV = dev;
  process.env.FAKE_NVME_LOG = log;
  delete process.env.FAKE_NVME_MODE;
  delete process.env.FAKE_NVME_DEVNUM;
  execEnvironmentChanged(); // helpers run tools in a snapshot of the environment
});

afterEach(async () => {
  for (const k of [
    "PATH",
    "FAKE_SYSFS",
    "FAKE_DEV",
    "FAKE_NVME_LOG",
    "FAKE_NVME_MODE",
    "FAKE_NVME_DEVNUM",
    "FAKE_NVME_SECTORS",
  ]) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  execEnvironmentChanged();
  await cleanupWorkdir(dir);
});

describe("namespace discovery through sysfs", () => {
  it("finds plain, multipath-head and hidden-path namespaces, orders by nsid, and spots orphans", async () => {
    // Multipath off: namespace under its controller.
    await subsystem(0, `${PREFIX}plain`, ["nvme0"]);
    await controller(0, `${PREFIX}plain`, ["nvme0n1"]);
    await blockDev("nvme0n1", "259:0");
    // Native multipath: head nvme3n1 in the subsystem, hidden paths nvme3c1n1 / nvme3c2n1 under two controllers.
    await subsystem(3, `${PREFIX}multi`, ["nvme1", "nvme2", "nvme3n1"]);
    await controller(1, `${PREFIX}multi`, ["nvme3c1n1"]);
    await controller(2, `${PREFIX}multi`, ["nvme3c2n1"], "connecting");
    await blockDev("nvme3n1", "259:1");
    // Only a hidden path is listed (head not yet in the subsystem dir): nvme5c4n2 → /dev/nvme5n2.
    await controller(4, `${PREFIX}hidden`, ["nvme5c4n2"]);
    await blockDev("nvme5n2", "259:2");
    // Two namespaces: nsid 1 first whatever the directory order.
    await controller(7, `${PREFIX}two`, ["nvme7n2", "nvme7n1"]);
    await blockDev("nvme7n2", "259:4");
    await blockDev("nvme7n1", "259:3");
    // Connected, no namespace: an orphaned subsystem. And a namespace dir whose block device is gone.
    await controller(6, `${PREFIX}orphan`);
    await controller(8, `${PREFIX}gone`, ["nvme8n1"]);

    const view = await scanNvme(sysfs);
    expect(view.get(`${PREFIX}plain`)?.namespaces).toEqual(["nvme0n1"]);
    expect(view.get(`${PREFIX}multi`)?.namespaces).toEqual(["nvme3n1"]);
    expect(view.get(`${PREFIX}multi`)?.controllers.map((c) => `${c.name}:${c.state}`)).toEqual([
      "nvme1:live",
      "nvme2:connecting",
    ]);
    expect(view.get(`${PREFIX}hidden`)?.namespaces).toEqual(["nvme5n2"]);
    expect(view.get(`${PREFIX}two`)?.namespaces).toEqual(["nvme7n1", "nvme7n2"]);
    expect(isOrphaned(view.get(`${PREFIX}orphan`)!)).toBe(true);
    expect(isOrphaned(view.get(`${PREFIX}gone`)!)).toBe(true);
    expect(isOrphaned(view.get(`${PREFIX}multi`)!)).toBe(false);
    expect((await subsystemOfNamespace(sysfs, "nvme3n1"))?.nqn).toBe(`${PREFIX}multi`);
    expect(await subsystemOfNamespace(sysfs, "loop0")).toBeUndefined();
  });
});

describe("nvme-tcp transport (fake nvme-cli)", () => {
  it("connects with the host identity and tuning, then reuses the connection", async () => {
    const t = transport();
    const d = await t.attach(target("vol1"), new AbortController().signal);
    expect(d).toEqual({ name: "nvme0n1", path: join(dev, "nvme0n1") });
    expect(await calls()).toEqual([
      `connect --transport=tcp --traddr=10.0.0.5 --trsvcid=4420 --nqn=${PREFIX}vol1 --hostnqn=${HOST_NQN} --hostid=${hostIdForNqn(HOST_NQN)} --ctrl-loss-tmo=120 --reconnect-delay=5`,
    ]);
    expect(await t.attach(target("vol1"), new AbortController().signal)).toEqual(d);
    expect(await t.findDevice(target("vol1"))).toEqual(d);
    expect(await calls()).toHaveLength(1); // already connected: found in sysfs, no second connect
    expect(await t.identify("nvme0n1")).toMatchObject({
      nqn: `${PREFIX}vol1`,
      address: "10.0.0.5",
      port: 4420,
    });
  });

  it("treats 'already connected' from nvme-cli as success", async () => {
    await controller(0, `${PREFIX}vol1`, ["nvme0c0n1"]); // connected, namespace known, /dev node not there yet
    await subsystem(0, `${PREFIX}vol1`, ["nvme0", "nvme0n1"]);
    await blockDev("nvme0n1", "240:0");
    process.env.FAKE_NVME_MODE = "already";
    execEnvironmentChanged(); // helpers run tools in a snapshot of the environment
    const d = await transport().attach(target("vol1"), new AbortController().signal);
    expect(d.name).toBe("nvme0n1");
  });

  it("reconnects a subsystem that is connected without a namespace (orphaned)", async () => {
    await controller(0, `${PREFIX}vol1`);
    const d = await transport().attach(target("vol1"), new AbortController().signal);
    expect(d.name).toBe("nvme0n1");
    const c = await calls();
    expect(c[0]).toBe(`disconnect --nqn=${PREFIX}vol1`);
    expect(c[1]).toMatch(/^connect /);
  });

  it("times out cleanly when the namespace never appears, and disconnects again", async () => {
    process.env.FAKE_NVME_MODE = "no-namespace";
    execEnvironmentChanged(); // helpers run tools in a snapshot of the environment
    const r = await codeOf(
      transport({ deviceTimeoutMs: 300 }).attach(target("vol1"), new AbortController().signal),
    );
    expect(r.code).toBe(Code.UNAVAILABLE);
    expect(r.message).toMatch(/no namespace block device appeared within 300 ms; disconnected/);
    expect((await calls()).at(-1)).toBe(`disconnect --nqn=${PREFIX}vol1`);
    expect((await scanNvme(sysfs)).size).toBe(0);
  });

  it("reports a refused connection as UNAVAILABLE with nvme-cli's words", async () => {
    process.env.FAKE_NVME_MODE = "fail";
    execEnvironmentChanged(); // helpers run tools in a snapshot of the environment
    const r = await codeOf(transport().attach(target("vol1"), new AbortController().signal));
    expect(r.code).toBe(Code.UNAVAILABLE);
    expect(r.message).toMatch(/Connection refused/);
  });

  it("disconnects only managed NQNs, idempotently", async () => {
    const t = transport();
    const foreign: AttachTarget = { ...target("x"), nqn: "nqn.2014-08.org.nixos:root-disk" } as AttachTarget;
    await controller(5, foreign.kind === "nvme-tcp" ? foreign.nqn : "", ["nvme5n1"]);
    expect((await codeOf(t.detach(foreign))).code).toBe(Code.FAILED_PRECONDITION);
    expect(t.manages(foreign)).toBe(false);
    await t.attach(target("vol1"), new AbortController().signal);
    await t.detach(target("vol1"));
    await t.detach(target("vol1"));
    expect((await calls()).filter((c) => c.startsWith("disconnect"))).toEqual([
      `disconnect --nqn=${PREFIX}vol1`,
    ]);
    expect((await scanNvme(sysfs)).has(`${PREFIX}vol1`)).toBe(false);
    expect((await scanNvme(sysfs)).has("nqn.2014-08.org.nixos:root-disk")).toBe(true);
  });

  it("cleans up only managed orphans at startup", async () => {
    await controller(1, `${PREFIX}orphan`);
    await controller(2, "nqn.2014-08.org.nixos:boot");
    await subsystem(3, `${PREFIX}live`, ["nvme3", "nvme3n1"]);
    await controller(3, `${PREFIX}live`, ["nvme3c3n1"]);
    await blockDev("nvme3n1", "240:3");
    const removed = await transport().cleanupOrphans(async () => []);
    expect(removed).toEqual([`${PREFIX}orphan`]);
    const left = await scanNvme(sysfs);
    expect(new Set(left.keys())).toEqual(new Set([`${PREFIX}live`, "nqn.2014-08.org.nixos:boot"]));
  });

  it("rescans every controller of a namespace and reports controller health", async () => {
    await subsystem(3, `${PREFIX}multi`, ["nvme1", "nvme2", "nvme3n1"]);
    await controller(1, `${PREFIX}multi`, ["nvme3c1n1"], "connecting");
    await controller(2, `${PREFIX}multi`, ["nvme3c2n1"], "resetting");
    await blockDev("nvme3n1", "240:9");
    const t = transport();
    const d = { name: "nvme3n1", path: join(dev, "nvme3n1") };
    await t.rescan(d);
    for (const c of ["nvme1", "nvme2"])
      expect(readFileSync(join(sysfs, "class/nvme", c, "rescan_controller"), "utf8")).toBe("1");
    expect(await t.condition(d)).toMatch(/not live \(nvme1: connecting, nvme2: resetting\)/);
    await writeFile(join(sysfs, "class/nvme/nvme2/state"), "live\n");
    expect(await t.condition(d)).toBeUndefined();
  });

  it("checks the kernel and tools and says how to fix what is missing", async () => {
    const r = await codeOf(transport({ modprobeCommand: "false" }).check());
    expect(r.code).toBe(Code.FAILED_PRECONDITION);
    expect(r.message).toMatch(/kernel module nvme_tcp is not loaded/);
    expect(r.message).toMatch(/nvme-fabrics does not exist/);
    expect(r.message).toMatch(/modprobe nvme_tcp/);
    await mkdir(join(sysfs, "module", "nvme_tcp"), { recursive: true });
    await writeFile(join(dev, "nvme-fabrics"), "");
    await transport().check();
  });

  // This VM's kernel has no nvme_tcp, and nvme-cli is not installed: starting the real service fails
  // with FAILED_PRECONDITION and a fix, rather than at the first NodeStageVolume.
  it.runIf(!existsSync("/sys/module/nvme_tcp"))(
    "refuses to start on this host (no NVMe/TCP) with a fix in the message",
    async () => {
      process.env.PATH = savedEnv.PATH;
      execEnvironmentChanged(); // helpers run tools in a snapshot of the environment
      const svc = createNodeService({
        nodeId: "node-a",
        transport: "nvme-tcp",
        hostNqn: HOST_NQN,
        managedNqnPrefix: PREFIX,
      });
      try {
        const r = await codeOf(svc.start());
        expect(r.code).toBe(Code.FAILED_PRECONDITION);
        expect(r.message).toMatch(/NVMe\/TCP is not available on this node: .*Fix: load the module/);
      } finally {
        await svc.close();
      }
    },
  );
});

describe("staging through the nvme-tcp transport", () => {
  it("formats, mounts, unmounts and disconnects a namespace exactly like a loop device", async () => {
    // The fake "namespace" node points at a real loop device, so mkfs and mount really happen.
    const img = await createImage(dir, "backing.img", 64 * MiB);
    const loop = sh("losetup", ["-f", "--show", img]).trim();
    const devnum = readFileSync(`/sys/class/block/${loop.slice(5)}/dev`, "utf8").trim();
    process.env.FAKE_NVME_DEVNUM = devnum;
    process.env.FAKE_NVME_SECTORS = String((64 * MiB) / 512);
    execEnvironmentChanged(); // helpers run tools in a snapshot of the environment
    await mkdir(join(sysfs, "module", "nvme_tcp"), { recursive: true });
    await writeFile(join(dev, "nvme-fabrics"), "");
    const svc = createNodeService({
      nodeId: "node-a",
      transport: "nvme-tcp",
      hostNqn: HOST_NQN,
      managedNqnPrefix: PREFIX,
      sysfsRoot: sysfs,
      devRoot: dev,
    });
    try {
      await svc.start();
      const staging = join(dir, "staging");
      const req = {
        volume_id: "pvc-n",
        staging_target_path: staging,
        publish_context: {
          [PublishKey.nqn]: `${PREFIX}pvc-n`,
          [PublishKey.address]: "10.0.0.5",
          [PublishKey.port]: "4420",
          [PublishKey.ctrlLossTmo]: "-1",
        },
        volume_capability: capOut(mountCap("ext4")),
        secrets: {},
        volume_context: {},
      };
      await svc.NodeStageVolume(req, ctx());
      await svc.NodeStageVolume(req, ctx());
      expect(isMounted(staging)).toBe(true);
      expect(sh("blkid", ["-p", "-o", "value", "-s", "TYPE", img]).trim()).toBe("ext4");
      expect((await calls()).filter((c) => c.startsWith("connect"))).toHaveLength(1);
      expect((await calls())[1]).toMatch(/--ctrl-loss-tmo=120 --reconnect-delay=5$/); // -1 is capped
      await svc.NodeUnstageVolume({ volume_id: "pvc-n", staging_target_path: staging }, ctx());
      expect(isMounted(staging)).toBe(false);
      expect((await calls()).at(-1)).toBe(`disconnect --nqn=${PREFIX}pvc-n`);
      expect((await scanNvme(sysfs)).size).toBe(0);
    } finally {
      await svc.close();
      sh("losetup", ["-d", loop]);
    }
  });
});
