// A StorageClass that names the NVMe/TCP target by host name, end to end below the VM: CreateVolume and
// ControllerPublish on the simulator hand the name to the node unresolved, and the node's nvme-tcp
// transport (against the fake nvme-cli that edits a fake sysfs, see test/node/fixtures/fake-nvme.sh)
// resolves it through /etc/hosts at connect and gives the kernel the number. Before the contract module,
// the node refused the name with INVALID_ARGUMENT at every NodeStageVolume.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PublishKey } from "../../src/csi/volume-context.ts";
import { deriveHostNqn, hostIdForNqn } from "../../src/node/nvme/host-nqn.ts";
import { NvmeTcpTransport } from "../../src/node/nvme/nvme-tcp.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { execEnvironmentChanged } from "../../src/util/exec.ts";
import { GiB, mountCap, useControllerEnv } from "../helpers/controller-env.ts";

const env = useControllerEnv();
const FAKE_NVME = join(import.meta.dirname, "..", "node", "fixtures", "fake-nvme.sh");
const PREFIX = "nqn.2026-01.com.mikrotik.rds-csi";
const saved = { ...process.env };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rds-hostname-"));
  for (const d of ["sys/class/nvme", "sys/class/nvme-subsystem", "sys/class/block", "dev"])
    await mkdir(join(dir, d), { recursive: true });
  Object.assign(process.env, {
    FAKE_SYSFS: join(dir, "sys"),
    FAKE_DEV: join(dir, "dev"),
    FAKE_NVME_LOG: join(dir, "nvme.log"),
  });
  execEnvironmentChanged();
});

afterAll(async () => {
  for (const k of ["FAKE_SYSFS", "FAKE_DEV", "FAKE_NVME_LOG"]) delete process.env[k];
  Object.assign(process.env, saved);
  execEnvironmentChanged();
  await rm(dir, { recursive: true, force: true });
});

describe("a target named by host name", () => {
  it("is published unresolved and resolved by the node at connect", async () => {
    const name = "pvc-0000a001-0000-4000-8000-000000000000";
    const c = env().csi.controller;
    const created = await c.CreateVolume({
      name,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mountCap()],
      parameters: { nvmeAddress: "localhost" },
    });
    const pub = await c.ControllerPublishVolume({
      volume_id: name,
      node_id: "node-a",
      volume_capability: mountCap(),
      volume_context: created.volume?.volume_context ?? {}, // as the external-attacher sends it
    });
    expect(pub.publish_context?.[PublishKey.address]).toBe("localhost");

    const hostNqn = deriveHostNqn("node-a", "rds.csi.mikrotik.com");
    const transport = new NvmeTcpTransport({
      sysfsRoot: join(dir, "sys"),
      devRoot: join(dir, "dev"),
      hostNqn,
      hostId: hostIdForNqn(hostNqn),
      managedNqnPrefix: `${PREFIX}:`,
      log: silentLogger,
      nvmeCommand: FAKE_NVME,
      pollIntervalMs: 20,
    });
    const target = transport.parseTarget(pub.publish_context ?? {});
    expect(target).toMatchObject({ address: "localhost", nqn: `${PREFIX}:${name}` });
    const device = await transport.attach(target, new AbortController().signal);
    expect(device.name).toMatch(/^nvme\d+n1$/);
    const log = existsSync(join(dir, "nvme.log")) ? await readFile(join(dir, "nvme.log"), "utf8") : "";
    expect(log).toContain(" --traddr=127.0.0.1 ");
    expect(log).not.toContain("localhost");
  });
});
