// Stale attachments in a cluster: the controller compares the records' attachments with the
// VolumeAttachment objects (served by a local HTTPS stand-in for the API server, test/observability/
// kube-stub.ts: the one part that cannot exist here) and releases, after two passes, what no
// VolumeAttachment backs, with an Event. Everything else is real: the controller over gRPC, SSH, the
// simulator.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttachmentReconciler, STALE_ATTACHMENT_REASON } from "../../src/controller/attachment-reconciler.ts";
import { createControllerService } from "../../src/controller/controller-service.ts";
import { StaticNodeRegistry } from "../../src/controller/node-registry.ts";
import { KubeVolumeAttachments, volumeAttachmentName } from "../../src/controller/volume-attachments.ts";
import { decodeRecord } from "../../src/controller/volume-record.ts";
import type { EventRecorder, OperatorEvent } from "../../src/observability/events.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { codeOf, DRIVER, GiB, mountCap, useControllerEnv } from "../helpers/controller-env.ts";
import { type KubeStub, startKubeStub } from "../observability/kube-stub.ts";

const env = useControllerEnv();
let kube: KubeStub;
const events: OperatorEvent[] = [];
const recorder: EventRecorder = {
  record: (e) => void events.push(e),
  flush: async () => {},
  close: async () => {},
};
const VA_PATH = "/apis/storage.k8s.io/v1/volumeattachments?limit=500";
const pvc = (n: number) => `pvc-${n.toString(16).padStart(8, "0")}-0000-4000-8000-00000000a77a`;

/** What the cluster has: VolumeAttachment objects for these (volume, node) pairs. */
function clusterHas(pairs: Array<[string, string]>): void {
  kube.objects.set(VA_PATH, {
    kind: "VolumeAttachmentList",
    metadata: {},
    items: pairs.map(([volume, node]) => ({
      metadata: { name: volumeAttachmentName(volume, DRIVER, node) },
      spec: { attacher: DRIVER, nodeName: node, source: { persistentVolumeName: volume } },
    })),
  });
}

beforeAll(async () => {
  kube = await startKubeStub();
});
afterAll(async () => {
  await kube?.close();
});

function reconciler(): AttachmentReconciler {
  // The same controller context the gRPC controller uses would do; a second one on the same appliance
  // (same instance identity) is what a restarted controller is.
  const svc = createControllerService({
    rds: env().client,
    log: silentLogger,
    nodes: new StaticNodeRegistry(["node-a", "node-b"]),
    driverName: DRIVER,
    volumePath: "storage-pool/k8s",
    nqnPrefix: "nqn.2026-01.com.mikrotik.rds-csi",
    nvmeAddress: "127.0.0.1",
    nvmePort: 4420,
  });
  const lister = new KubeVolumeAttachments({
    host: kube.host,
    port: kube.port,
    serviceAccountDir: kube.serviceAccountDir,
  });
  return new AttachmentReconciler(svc.context, lister, {
    intervalMs: 60_000,
    events: recorder,
    log: silentLogger,
  });
}

describe("attachment reconciliation against VolumeAttachments", () => {
  it("releases, on the second pass, only attachments no VolumeAttachment backs, with an Event", async () => {
    const c = env().csi.controller;
    for (const [n, node] of [
      [1, "node-a"],
      [2, "node-b"],
    ] as const) {
      await c.CreateVolume({
        name: pvc(n),
        capacity_range: { required_bytes: String(GiB) },
        volume_capabilities: [mountCap()],
      });
      await c.ControllerPublishVolume({ volume_id: pvc(n), node_id: node, volume_capability: mountCap() });
    }
    // pvc(2)'s ControllerUnpublish was lost: its VolumeAttachment is gone, the record still says node-b.
    clusterHas([[pvc(1), "node-a"]]);
    expect(await codeOf(c.DeleteVolume({ volume_id: pvc(2) }))).toBe("FAILED_PRECONDITION");

    const r = reconciler();
    expect(await r.runOnce()).toEqual([]); // first pass: only noted
    expect(await r.runOnce()).toEqual([{ volume: pvc(2), node: "node-b", generation: 1 }]);
    expect(decodeRecord((await env().client.getDisk(pvc(2)))!.comment)?.attachments).toEqual([]);
    expect(decodeRecord((await env().client.getDisk(pvc(1)))!.comment)?.attachments).toHaveLength(1);
    expect(events).toEqual([
      expect.objectContaining({
        type: "Warning",
        reason: STALE_ATTACHMENT_REASON,
        targets: [
          { kind: "volume", volumeId: pvc(2) },
          { kind: "node", name: "node-b" },
        ],
      }),
    ]);
    expect(await codeOf(c.DeleteVolume({ volume_id: pvc(2) }))).toBe("OK");
    expect(kube.requests.every((q) => q === `GET ${VA_PATH}`)).toBe(true);
  });

  it("does not release an attachment made again between the passes (new generation)", async () => {
    const c = env().csi.controller;
    clusterHas([]);
    const r = reconciler();
    expect(await r.runOnce()).toEqual([]); // pvc(1) on node-a noted as missing (generation 1)
    await c.ControllerUnpublishVolume({ volume_id: pvc(1), node_id: "node-a" });
    await c.ControllerPublishVolume({ volume_id: pvc(1), node_id: "node-a", volume_capability: mountCap() });
    expect(await r.runOnce()).toEqual([]); // generation 2 is seen for the first time
    expect(decodeRecord((await env().client.getDisk(pvc(1)))!.comment)?.attachments).toEqual([
      expect.objectContaining({ node: "node-a", generation: 2 }),
    ]);
  });

  it("a failing API server releases nothing", async () => {
    kube.objects.delete(VA_PATH); // 404
    const r = reconciler();
    await expect(r.runOnce()).rejects.toThrow(/Kubernetes API answered 404/);
    await expect(r.runOnce()).rejects.toThrow();
    expect(decodeRecord((await env().client.getDisk(pvc(1)))!.comment)?.attachments).toHaveLength(1);
  });
});
