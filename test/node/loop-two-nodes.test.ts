// Two node plugins on one machine (the multi-node Kubernetes suite runs one kubelet per mount namespace,
// all on this host) share one loop root: the simulator's disk files. Over NVMe/TCP each host would have its
// own controller; with loop devices, every plugin sees every loop device of the machine and the same
// backing_file, so without a record of its own devices node B took node A's device for a ReadWriteMany
// block volume, and A's NodeUnstage then detached the device under B. Real loop devices (root).
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readSysfs } from "../../src/node/nvme/block-device.ts";
import { LoopTransport } from "../../src/node/nvme/loop.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { run } from "../../src/util/exec.ts";

let dir: string;
const attached: LoopTransport[] = [];
const target = { kind: "loop", filePath: "storage-pool/rds-csi/pvc-two-nodes.img" } as const;

function nodeTransport(name: string): LoopTransport {
  const t = new LoopTransport({
    loopRoot: join(dir, "sim"),
    sysfsRoot: "/sys",
    devRoot: "/dev",
    log: silentLogger,
    deviceRecordDir: join(dir, name, "loop-devices"),
  });
  attached.push(t);
  return t;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "loop-two-nodes-"));
  await mkdir(join(dir, "sim/storage-pool/rds-csi"), { recursive: true });
  await writeFile(join(dir, "sim", target.filePath), "");
  await truncate(join(dir, "sim", target.filePath), 16 << 20);
});
afterEach(async () => {
  for (const t of attached.splice(0)) await t.detach(target).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

const backing = (name: string) => readSysfs(`/sys/block/${name}/loop/backing_file`);

describe("loop transport: two node plugins on one machine", () => {
  it("gives each node its own device for the same disk file, and a node's detach leaves the other's", async () => {
    const a = nodeTransport("node-a");
    const b = nodeTransport("node-b");
    const devA = await a.attach(target, new AbortController().signal);
    const devB = await b.attach(target, new AbortController().signal);
    expect(devB.name).not.toBe(devA.name);
    expect(await a.findDevice(target)).toEqual(devA);
    expect(await b.findDevice(target)).toEqual(devB);

    await a.detach(target);
    expect(await backing(devA.name)).toBeUndefined();
    expect(await backing(devB.name)).toBe(join(dir, "sim", target.filePath));
    expect(await a.findDevice(target)).toBeUndefined();
    expect(await b.findDevice(target)).toEqual(devB);
  });

  it("does not take back a device it once attached after another node re-attached it", async () => {
    const a = nodeTransport("node-a");
    const b = nodeTransport("node-b");
    const first = await a.attach(target, new AbortController().signal);
    // A loses its device without its own detach (as when the machine is reset), and the loop device is
    // free: B's attach is likely to take the same name. A's record names that device, its diskseq does not.
    await run("losetup", ["--detach", first.path], { timeoutMs: 10_000 });
    const devB = await b.attach(target, new AbortController().signal);
    expect(await a.findDevice(target)).toBeUndefined();
    expect(await b.findDevice(target)).toEqual(devB);
  });

  it("without a record directory, any device over the file is the node's (one plugin per machine)", async () => {
    const a = nodeTransport("node-a");
    const shared = new LoopTransport({
      loopRoot: join(dir, "sim"),
      sysfsRoot: "/sys",
      devRoot: "/dev",
      log: silentLogger,
    });
    const devA = await a.attach(target, new AbortController().signal);
    expect(await shared.findDevice(target)).toEqual(devA);
  });
});
