// The controller over gRPC against the RouterOS simulator over real SSH: lifecycle, idempotency,
// concurrency, crash recovery and restart with no local state.
import { existsSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PublishKey } from "../../src/csi/volume-context.ts";
import { blockCap, codeOf, GiB, mountCap, useControllerEnv } from "../helpers/controller-env.ts";

const env = useControllerEnv();

const NO_HOST = "nqn.2026-01.com.mikrotik.rds-csi:no-host";
const pvc = (n: number) => `pvc-${n.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`;

describe("volume lifecycle", () => {
  it("creates, lists, publishes, expands, unpublishes and deletes a volume, leaving nothing behind", async () => {
    const name = pvc(1);
    const before = await env().csi.controller.GetCapacity({});
    const created = await env().csi.controller.CreateVolume({
      name,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mountCap()],
    });
    expect(created.volume?.volume_id).toBe(name);
    expect(created.volume?.capacity_bytes).toBe(String(GiB));

    const file = env().rds.sim.localPath(`storage-pool/k8s/${name}.img`);
    expect(statSync(file).size).toBe(GiB);
    const disk = await env().client.getDisk(name);
    expect(disk?.allowedHosts).toEqual([NO_HOST]); // exported, but nobody may connect before ControllerPublish
    expect(disk).toMatchObject({
      slot: name,
      sizeBytes: GiB,
      nvmeExport: true,
      nvmePort: 4420,
      nqn: `nqn.2026-01.com.mikrotik.rds-csi:${name}`,
    });
    const after = await env().csi.controller.GetCapacity({});
    expect(Number(before.available_capacity) - Number(after.available_capacity)).toBe(GiB);

    const listed = await env().csi.controller.ListVolumes({});
    expect(listed.entries.map((e) => e.volume?.volume_id)).toContain(name);

    const pub = await env().csi.controller.ControllerPublishVolume({
      volume_id: name,
      node_id: "node-a",
      volume_capability: mountCap(),
      readonly: false,
    });
    expect(pub.publish_context).toMatchObject({
      [PublishKey.nqn]: `nqn.2026-01.com.mikrotik.rds-csi:${name}`,
      [PublishKey.address]: "127.0.0.1",
      [PublishKey.port]: "4420",
      [PublishKey.filePath]: `storage-pool/k8s/${name}.img`,
    });
    expect((await env().client.getDisk(name))?.allowedHosts).toHaveLength(1);
    const got = await env().csi.controller.ControllerGetVolume({ volume_id: name });
    expect(got.status?.published_node_ids).toEqual(["node-a"]);
    expect(got.status?.volume_condition?.abnormal).toBe(false);

    const grown = await env().csi.controller.ControllerExpandVolume({
      volume_id: name,
      capacity_range: { required_bytes: String(2 * GiB + 4096) },
      volume_capability: mountCap(),
    });
    expect(Number(grown.capacity_bytes)).toBeGreaterThanOrEqual(2 * GiB + 4096);
    expect(grown.node_expansion_required).toBe(true);
    expect(statSync(file).size).toBe(Number(grown.capacity_bytes));

    const beforeUnpublish = env().rds.sim.commandLog.length;
    await env().csi.controller.ControllerUnpublishVolume({ volume_id: name, node_id: "node-a" });
    // Nobody attached: the export admits nobody (an empty list would mean any host) and was bounced, so a
    // node still connected despite the detach is cut off.
    expect((await env().client.getDisk(name))?.allowedHosts).toEqual([NO_HOST]);
    const unpublishLine =
      env()
        .rds.sim.commandLog.slice(beforeUnpublish)
        .find((e) => e.command.includes("allow-host-name"))?.command ?? "";
    expect(unpublishLine).toMatch(/nvme-tcp-export=no;.*nvme-tcp-export=yes/);
    await env().csi.controller.DeleteVolume({ volume_id: name });
    expect(await env().client.getDisk(name)).toBeUndefined();
    expect(existsSync(file)).toBe(false);
    expect(await env().client.getFile(`storage-pool/k8s/${name}.img`)).toBeUndefined();
    const final = await env().csi.controller.GetCapacity({});
    expect(final.available_capacity).toBe(before.available_capacity);
  });

  it("sends sizes as exact bytes and rounds up only within limit_bytes", async () => {
    const odd = 1536 * 1024 * 1024 + 1; // 1.5 GiB + 1 byte: a unit-truncating driver would lose data here
    const v = await env().csi.controller.CreateVolume({
      name: pvc(2),
      capacity_range: { required_bytes: String(odd) },
      volume_capabilities: [blockCap()],
    });
    expect(Number(v.volume?.capacity_bytes)).toBeGreaterThanOrEqual(odd);
    expect(
      env().rds.sim.commandLog.some(
        (e) => /file-size=\d+\b/.test(e.command) && e.command.includes(String(v.volume?.capacity_bytes)),
      ),
    ).toBe(true);
    const tight = await env().csi.controller.CreateVolume({
      name: pvc(3),
      capacity_range: { required_bytes: String(odd), limit_bytes: String(odd + 4000) },
      volume_capabilities: [blockCap()],
    });
    expect(Number(tight.volume?.capacity_bytes)).toBeGreaterThanOrEqual(odd);
    expect(Number(tight.volume?.capacity_bytes)).toBeLessThanOrEqual(odd + 4000);
    expect(
      await codeOf(
        env().csi.controller.CreateVolume({
          name: pvc(4),
          capacity_range: { required_bytes: String(odd), limit_bytes: String(odd + 10) },
          volume_capabilities: [blockCap()],
        }),
      ),
    ).toBe("OUT_OF_RANGE");
    for (const n of [2, 3]) await env().csi.controller.DeleteVolume({ volume_id: pvc(n) });
  });

  it("is idempotent: same name and size returns the same volume, another size is ALREADY_EXISTS", async () => {
    const req = {
      name: "sanity-idempotent-" + "x".repeat(110),
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mountCap()],
    };
    const first = await env().csi.controller.CreateVolume(req);
    for (let i = 0; i < 10; i++)
      expect((await env().csi.controller.CreateVolume(req)).volume?.volume_id).toBe(first.volume?.volume_id);
    expect(
      await codeOf(
        env().csi.controller.CreateVolume({ ...req, capacity_range: { required_bytes: String(2 * GiB) } }),
      ),
    ).toBe("ALREADY_EXISTS");
    const disks = await env().client.listDisks("csi-");
    expect(disks.filter((d) => d.slot === first.volume?.volume_id)).toHaveLength(1);
    for (let i = 0; i < 10; i++)
      await env().csi.controller.DeleteVolume({ volume_id: first.volume!.volume_id! });
    expect(await env().client.getDisk(first.volume!.volume_id!)).toBeUndefined();
  });

  it("creates 50 volumes concurrently without errors", async () => {
    const names = Array.from({ length: 50 }, (_, i) => pvc(1000 + i));
    const results = await Promise.all(
      names.map((name) =>
        env().csi.controller.CreateVolume({
          name,
          capacity_range: { required_bytes: String(64 * 1024 * 1024) },
          volume_capabilities: [blockCap()],
        }),
      ),
    );
    expect(results.map((r) => r.volume?.volume_id).sort()).toEqual([...names].sort());
    const disks = await env().client.listDisks("pvc-");
    expect(disks.filter((d) => names.includes(d.slot))).toHaveLength(50);
    await Promise.all(names.map((volume_id) => env().csi.controller.DeleteVolume({ volume_id })));
    expect((await env().client.listDisks("pvc-")).filter((d) => names.includes(d.slot))).toHaveLength(0);
  });

  it("makes one disk when the same name races: the losers get ABORTED and a retry returns the winner", async () => {
    const name = pvc(77);
    const req = { name, capacity_range: { required_bytes: String(GiB) }, volume_capabilities: [mountCap()] };
    const codes = await Promise.all(
      Array.from({ length: 8 }, () => codeOf(env().csi.controller.CreateVolume(req))),
    );
    expect(codes.filter((c) => c === "OK").length).toBeGreaterThanOrEqual(1);
    expect(codes.every((c) => c === "OK" || c === "ABORTED")).toBe(true);
    expect((await env().csi.controller.CreateVolume(req)).volume?.volume_id).toBe(name);
    expect((await env().client.listDisks("pvc-")).filter((d) => d.slot === name)).toHaveLength(1);
    await env().csi.controller.DeleteVolume({ volume_id: name });
  });

  it("recovers when the connection drops right after /disk add: the retry returns the disk that was made", async () => {
    const name = pvc(88);
    const req = { name, capacity_range: { required_bytes: String(GiB) }, volume_capabilities: [mountCap()] };
    env().rds.sim.faults.dropConnection(/\/disk add/, { after: true, times: 1 });
    const first = await codeOf(env().csi.controller.CreateVolume(req));
    env().rds.sim.faults.clear();
    expect(first).toBe("UNAVAILABLE");
    expect(await env().client.getDisk(name)).toBeDefined(); // the add did happen on the appliance
    const retry = await env().csi.controller.CreateVolume(req);
    expect(retry.volume?.volume_id).toBe(name);
    expect((await env().client.listDisks("pvc-")).filter((d) => d.slot === name)).toHaveLength(1);
    await env().csi.controller.DeleteVolume({ volume_id: name });
  });

  it("finishes a delete that crashed between /disk remove and /file remove", async () => {
    const name = pvc(99);
    await env().csi.controller.CreateVolume({
      name,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mountCap()],
    });
    // DeleteVolume removes the disk item and the file in one exec; a line cut short after the disk's
    // removal (or an older driver that used two execs) leaves what the first removal leaves:
    await env().client.removeDisk(name);
    expect(await env().client.getFile(`storage-pool/k8s/${name}.img`)).toBeDefined(); // RouterOS left the file
    await env().csi.controller.DeleteVolume({ volume_id: name });
    expect(await env().client.getFile(`storage-pool/k8s/${name}.img`)).toBeUndefined();
  });

  it("finishes a delete whose removal line was lost on the way", async () => {
    const name = pvc(98);
    await env().csi.controller.CreateVolume({
      name,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [mountCap()],
    });
    env().rds.sim.faults.dropConnection(/\/disk remove/, { times: 1 });
    expect(await codeOf(env().csi.controller.DeleteVolume({ volume_id: name }))).toBe("UNAVAILABLE");
    env().rds.sim.faults.clear();
    expect(await env().client.getDisk(name)).toBeDefined(); // the line never ran
    await env().csi.controller.DeleteVolume({ volume_id: name });
    expect(await env().client.getDisk(name)).toBeUndefined();
    expect(await env().client.getFile(`storage-pool/k8s/${name}.img`)).toBeUndefined();
  });

  it("keeps everything on the appliance: a restarted controller sees volumes and attachments", async () => {
    const name = pvc(123);
    await env().csi.controller.CreateVolume({
      name,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: [blockCap("MULTI_NODE_MULTI_WRITER")],
    });
    await env().csi.controller.ControllerPublishVolume({
      volume_id: name,
      node_id: "node-a",
      volume_capability: blockCap("MULTI_NODE_MULTI_WRITER"),
    });
    await env().restartController();
    const got = await env().csi.controller.ControllerGetVolume({ volume_id: name });
    expect(got.status?.published_node_ids).toEqual(["node-a"]);
    // the fencing state survived too: a third node is still refused after the second joins
    await env().csi.controller.ControllerPublishVolume({
      volume_id: name,
      node_id: "node-b",
      volume_capability: blockCap("MULTI_NODE_MULTI_WRITER"),
    });
    expect(
      await codeOf(
        env().csi.controller.ControllerPublishVolume({
          volume_id: name,
          node_id: "node-c",
          volume_capability: blockCap("MULTI_NODE_MULTI_WRITER"),
        }),
      ),
    ).toBe("FAILED_PRECONDITION");
    for (const node_id of ["node-a", "node-b"])
      await env().csi.controller.ControllerUnpublishVolume({ volume_id: name, node_id });
    await env().csi.controller.DeleteVolume({ volume_id: name });
  });
});
