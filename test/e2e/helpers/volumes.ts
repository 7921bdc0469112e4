// The calls the Kubernetes side makes, in its order: external-provisioner (CreateVolume/DeleteVolume),
// external-attacher (ControllerPublish/Unpublish), kubelet (NodeStage/Publish/Unpublish/Unstage), with
// kubelet-like paths. Block volumes are pinned with `losetup` on the published path, as kubelet does.
import { join } from "node:path";
import type { VolumeCapability } from "../../../src/csi/generated/csi/v1/VolumeCapability.ts";
import type { Cluster, NodePlugin } from "./cluster.ts";
import { sh } from "./kernel.ts";

export type AccessMode = "SINGLE_NODE_WRITER" | "MULTI_NODE_MULTI_WRITER" | "SINGLE_NODE_SINGLE_WRITER";

export function mountCap(fsType = "ext4", mode: AccessMode = "SINGLE_NODE_WRITER"): VolumeCapability {
  return { mount: { fs_type: fsType, mount_flags: [] }, access_mode: { mode } };
}

export function blockCap(mode: AccessMode = "SINGLE_NODE_WRITER"): VolumeCapability {
  return { block: {}, access_mode: { mode } };
}

export interface Vol {
  id: string;
  /** `nvme-tcp-server-nqn` of the export. */
  nqn: string;
  capacityBytes: number;
  cap: VolumeCapability;
  volumeContext: Record<string, string>;
}

let seq = 0;
/** A PVC-like name, unique within the run. */
export function pvcName(tag: string): string {
  seq++;
  return `pvc-${tag}-${process.pid.toString(16)}-${seq.toString().padStart(4, "0")}`;
}

export async function createVolume(
  c: Cluster,
  tag: string,
  bytes: number,
  cap: VolumeCapability,
  parameters: Record<string, string> = {},
): Promise<Vol> {
  const r = await c.controller.controller.CreateVolume({
    name: pvcName(tag),
    capacity_range: { required_bytes: String(bytes) },
    volume_capabilities: [cap],
    parameters,
  });
  const v = r.volume!;
  const disk = await c.rdsClient.getDisk(v.volume_id);
  if (!disk) throw new Error(`CreateVolume returned ${v.volume_id} but the RDS has no such disk`);
  return {
    id: v.volume_id,
    nqn: disk.nqn || disk.slot,
    capacityBytes: Number(v.capacity_bytes),
    cap,
    volumeContext: v.volume_context ?? {},
  };
}

export async function deleteVolume(c: Cluster, v: Vol): Promise<void> {
  await c.controller.controller.DeleteVolume({ volume_id: v.id });
}

/** Paths kubelet would use for a volume on a node (and a pod). */
export function kubeletPaths(n: NodePlugin, v: Vol, pod = "pod-1") {
  return {
    staging: join(n.kubeletDir, "plugins/kubernetes.io/csi", v.id, "globalmount"),
    target: join(n.kubeletDir, "pods", pod, "volumes/kubernetes.io~csi", v.id, "mount"),
    blockTarget: join(n.kubeletDir, "plugins/kubernetes.io/csi/volumeDevices/publish", v.id, pod),
  };
}

export interface Attached {
  node: NodePlugin;
  vol: Vol;
  publishContext: Record<string, string>;
  staging: string;
  target: string;
  /** Loop device kubelet attaches to a published block volume. */
  pin?: string;
}

export async function controllerPublish(c: Cluster, v: Vol, n: NodePlugin): Promise<Record<string, string>> {
  const r = await c.controller.controller.ControllerPublishVolume({
    volume_id: v.id,
    node_id: n.nodeId,
    volume_capability: v.cap,
    readonly: false,
    volume_context: v.volumeContext,
  });
  return r.publish_context ?? {};
}

export async function controllerUnpublish(c: Cluster, v: Vol, n: NodePlugin): Promise<void> {
  await c.controller.controller.ControllerUnpublishVolume({ volume_id: v.id, node_id: n.nodeId });
}

export async function nodeStage(
  n: NodePlugin,
  v: Vol,
  publishContext: Record<string, string>,
  staging: string,
): Promise<void> {
  await n.csi.node.NodeStageVolume({
    volume_id: v.id,
    staging_target_path: staging,
    volume_capability: v.cap,
    publish_context: publishContext,
    volume_context: v.volumeContext,
  });
}

export async function nodePublish(
  n: NodePlugin,
  v: Vol,
  publishContext: Record<string, string>,
  staging: string,
  target: string,
): Promise<void> {
  await n.csi.node.NodePublishVolume({
    volume_id: v.id,
    staging_target_path: staging,
    target_path: target,
    volume_capability: v.cap,
    publish_context: publishContext,
    volume_context: v.volumeContext,
    readonly: false,
  });
}

/** ControllerPublish → NodeStage → NodePublish (→ losetup for block), as for a pod starting on `n`. */
export async function attachToPod(c: Cluster, v: Vol, n: NodePlugin, pod = "pod-1"): Promise<Attached> {
  const publishContext = await controllerPublish(c, v, n);
  const p = kubeletPaths(n, v, pod);
  const block = Boolean(v.cap.block);
  const target = block ? p.blockTarget : p.target;
  await nodeStage(n, v, publishContext, p.staging);
  await nodePublish(n, v, publishContext, p.staging, target);
  const a: Attached = { node: n, vol: v, publishContext, staging: p.staging, target };
  if (block) a.pin = sh("losetup", ["--find", "--show", "--direct-io=on", target]).trim();
  return a;
}

/** losetup -d → NodeUnpublish → NodeUnstage → ControllerUnpublish, as for the pod going away. */
export async function detachFromPod(c: Cluster, a: Attached): Promise<void> {
  if (a.pin) sh("losetup", ["-d", a.pin]);
  await a.node.csi.node.NodeUnpublishVolume({ volume_id: a.vol.id, target_path: a.target });
  await a.node.csi.node.NodeUnstageVolume({ volume_id: a.vol.id, staging_target_path: a.staging });
  await controllerUnpublish(c, a.vol, a.node);
}

/** The gRPC status code of a failed call (throws if it succeeded). */
export async function codeOf(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: number; details?: string; message?: string };
    return { code: e.code ?? -1, details: e.details ?? e.message ?? "" };
  }
  throw new Error("expected the call to fail, but it succeeded");
}

export const Status = { UNAVAILABLE: 14, FAILED_PRECONDITION: 9, NOT_FOUND: 5, ALREADY_EXISTS: 6 } as const;
