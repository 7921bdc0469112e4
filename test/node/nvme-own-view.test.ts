// One kernel, two host identities connected to the same subsystem (two node plugins on one machine, as
// in the e2e VM, or an administrator's manual `nvme connect`): a node sees, checks and disconnects only
// the controllers it connected with its own host NQN. Fake sysfs trees in the kernel's layout, with
// native multipath on (shared head) and off (one namespace device per controller).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findSubsystem, ownView } from "../../src/node/nvme/nvme-sysfs.ts";

const NQN = "nqn.2026-01.com.mikrotik.rds-csi:pvc-1";
const HOST_A = "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-5000-8000-000000000001";
const HOST_B = "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-5000-8000-000000000002";

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

function put(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, `${text}\n`);
}

function controller(sys: string, n: number, hostNqn: string | undefined, children: string[]): void {
  const dir = join(sys, "class/nvme", `nvme${n}`);
  put(join(dir, "subsysnqn"), NQN);
  put(join(dir, "state"), "live");
  put(join(dir, "address"), "traddr=127.0.0.1,trsvcid=4420");
  if (hostNqn) put(join(dir, "hostnqn"), hostNqn);
  for (const c of children) mkdirSync(join(dir, c), { recursive: true });
}

function blockDev(sys: string, name: string, dev: string): void {
  put(join(sys, "class/block", name, "dev"), dev);
}

describe("ownView", () => {
  it("multipath off: each host identity has its own namespace device", async () => {
    root = mkdtempSync(join(tmpdir(), "own-view-"));
    const sys = root;
    controller(sys, 0, HOST_A, ["nvme0n1"]);
    controller(sys, 1, HOST_B, ["nvme1n1"]);
    put(join(sys, "class/nvme-subsystem/nvme-subsys0/subsysnqn"), NQN);
    for (const c of ["nvme0", "nvme1"])
      mkdirSync(join(sys, "class/nvme-subsystem/nvme-subsys0", c), { recursive: true });
    blockDev(sys, "nvme0n1", "259:0");
    blockDev(sys, "nvme1n1", "259:1");
    const all = (await findSubsystem(sys, NQN))!;
    expect(all.namespaces).toEqual(["nvme0n1", "nvme1n1"]);
    expect(ownView(all, HOST_A)).toMatchObject({
      controllers: [{ name: "nvme0", hostNqn: HOST_A }],
      namespaces: ["nvme0n1"],
    });
    expect(ownView(all, HOST_B)).toMatchObject({
      controllers: [{ name: "nvme1", hostNqn: HOST_B }],
      namespaces: ["nvme1n1"],
    });
  });

  it("multipath on: both paths lead to the shared head; a host without a controller sees nothing", async () => {
    root = mkdtempSync(join(tmpdir(), "own-view-"));
    const sys = root;
    controller(sys, 0, HOST_A, ["nvme0c0n1"]);
    controller(sys, 1, HOST_B, ["nvme0c1n1"]);
    put(join(sys, "class/nvme-subsystem/nvme-subsys0/subsysnqn"), NQN);
    for (const c of ["nvme0", "nvme1", "nvme0n1"])
      mkdirSync(join(sys, "class/nvme-subsystem/nvme-subsys0", c), { recursive: true });
    blockDev(sys, "nvme0n1", "259:0");
    const all = (await findSubsystem(sys, NQN))!;
    expect(ownView(all, HOST_A).namespaces).toEqual(["nvme0n1"]);
    expect(ownView(all, HOST_B).namespaces).toEqual(["nvme0n1"]);
    expect(
      ownView(all, "nqn.2014-08.org.nvmexpress:uuid:cccccccc-0000-5000-8000-000000000003"),
    ).toMatchObject({ controllers: [], namespaces: [] });
  });

  it("controllers without a hostnqn attribute count as our own (older kernels)", async () => {
    root = mkdtempSync(join(tmpdir(), "own-view-"));
    const sys = root;
    controller(sys, 0, undefined, ["nvme0n1"]);
    blockDev(sys, "nvme0n1", "259:0");
    const all = (await findSubsystem(sys, NQN))!;
    expect(ownView(all, HOST_A)).toBe(all);
  });
});
