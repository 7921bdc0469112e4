// One topology segment per appliance (src/csi/topology.ts), through the real driver wiring: flags →
// config → NodeGetInfo, plugin capabilities, CreateVolume's accessible_topology and GetCapacity per
// segment. Without a segment, external-provisioner's capacity tracking churns CSIStorageCapacity objects
// and every WaitForFirstConsumer pod waited ~100 s in a real cluster (issue 17 item 1; the cluster suite
// shows the stable objects).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningDriver, startDriver } from "../../src/cli/run-driver.ts";
import { ConfigError, loadConfig } from "../../src/config/load.ts";
import { type CsiClient, connectCsi } from "../../src/csi/client.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { type EmbeddedRds, startEmbeddedRds } from "../../src/sim/embedded.ts";

const GiB = 1024 ** 3;
const KEY = "rds.csi.mikrotik.com/appliance";
const MOUNT = {
  mount: { fs_type: "ext4", mount_flags: [] },
  access_mode: { mode: "SINGLE_NODE_WRITER" as const },
};

describe("appliance topology", () => {
  let rds: EmbeddedRds;
  let dir: string;
  const running: RunningDriver[] = [];
  const clients: CsiClient[] = [];
  async function driver(mode: "controller" | "node", flags: string[]): Promise<CsiClient> {
    const sock = join(dir, `${mode}-${running.length}.sock`);
    const config = loadConfig(mode, ["--endpoint", `unix://${sock}`, ...flags], {});
    running.push(await startDriver(config, silentLogger));
    const csi = connectCsi(`unix://${sock}`);
    clients.push(csi);
    return csi;
  }
  const controllerFlags = () => [
    "--known-nodes",
    "n1",
    "--volume-path",
    "storage-pool/k8s",
    ...rds.driverFlags(),
  ];
  const nodeFlags = () => ["--node-id", "n1", "--transport", "loop", "--loop-root", rds.dataDir];

  beforeAll(async () => {
    rds = await startEmbeddedRds({ pools: [{ name: "storage-pool", sizeBytes: 100 * GiB }] });
    dir = mkdtempSync(join(tmpdir(), "topology-"));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const d of running) await d.stop();
    await rds.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(rds.dataDir, { recursive: true, force: true });
  });

  it("the node reports the appliance's segment, which kubelet turns into CSINode topology keys", async () => {
    const node = await driver("node", [...nodeFlags(), "--appliance-name", "rds-1"]);
    const info = await node.node.NodeGetInfo({});
    expect(info.accessible_topology?.segments).toEqual({ [KEY]: "rds-1" });
  });

  it("the controller advertises accessibility constraints, puts volumes in the segment and answers capacity per segment", async () => {
    const csi = await driver("controller", [...controllerFlags(), "--appliance-name", "rds-1"]);
    const caps = await csi.identity.GetPluginCapabilities({});
    expect(caps.capabilities.map((c) => c.service?.type)).toContain("VOLUME_ACCESSIBILITY_CONSTRAINTS");

    const created = await csi.controller.CreateVolume({
      name: "pvc-5d1c8a52-8a55-4b0e-9d57-2b1e0c9f0a11",
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [MOUNT],
    });
    expect(created.volume?.accessible_topology).toEqual([{ segments: { [KEY]: "rds-1" } }]);
    const listed = await csi.controller.ListVolumes({});
    expect(listed.entries[0]?.volume?.accessible_topology).toEqual([{ segments: { [KEY]: "rds-1" } }]);

    const ours = await csi.controller.GetCapacity({ accessible_topology: { segments: { [KEY]: "rds-1" } } });
    expect(Number(ours.available_capacity)).toBeGreaterThan(90 * GiB);
    const other = await csi.controller.GetCapacity({ accessible_topology: { segments: { [KEY]: "rds-2" } } });
    expect(other.available_capacity).toBe("0");
    await csi.controller.DeleteVolume({ volume_id: created.volume!.volume_id });
  });

  it("without an appliance name nothing carries topology (csi-sanity and single-appliance setups as before)", async () => {
    const node = await driver("node", nodeFlags());
    expect((await node.node.NodeGetInfo({})).accessible_topology).toBeNull();
    const csi = await driver("controller", controllerFlags());
    const caps = await csi.identity.GetPluginCapabilities({});
    expect(caps.capabilities.map((c) => c.service?.type)).not.toContain("VOLUME_ACCESSIBILITY_CONSTRAINTS");
  });

  it("refuses a name that cannot be a label value", () => {
    expect(() => loadConfig("node", [...nodeFlags(), "--appliance-name", "rds 1"], {})).toThrow(ConfigError);
    expect(() => loadConfig("node", [...nodeFlags(), "--appliance-name", "x".repeat(64)], {})).toThrow(
      /--appliance-name/,
    );
  });
});
