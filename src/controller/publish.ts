// ControllerPublishVolume / ControllerUnpublishVolume: attach fencing recorded on the appliance, the
// export's allowed hosts following the attachments, and a publish_context with everything the node needs.
import { describeCapability } from "../csi/capability.ts";
import { failedPrecondition, invalidArgument, notFound, required, resourceExhausted } from "../csi/errors.ts";
import type { ControllerPublishVolumeRequest__Output } from "../csi/generated/csi/v1/ControllerPublishVolumeRequest.ts";
import type { ControllerPublishVolumeResponse } from "../csi/generated/csi/v1/ControllerPublishVolumeResponse.ts";
import type { ControllerUnpublishVolumeRequest__Output } from "../csi/generated/csi/v1/ControllerUnpublishVolumeRequest.ts";
import { decodeVolumeContext, encodePublishContext } from "../csi/volume-context.ts";
import { isVolumeId } from "../csi/volume-id.ts";
import { allowedHostsFor } from "./allowed-hosts.ts";
import { planPublish } from "./attachments.ts";
import type { ControllerContext, Volume } from "./context.ts";
import { type Attachment, NODE_ID_MAX_BYTES } from "./volume-record.ts";
import { listVolumes, loadVolume, saveVolume } from "./volume-store.ts";

/** What the node needs for this attachment, through the contract module's validation (volume-context.ts). */
export function publishContext(
  c: ControllerContext,
  v: Volume,
  attachment: Attachment,
  volumeContext: Record<string, string> = {},
): Record<string, string> {
  const p = v.record.params;
  const num = (x: string | undefined) => (x === undefined ? undefined : Number(x));
  try {
    return encodePublishContext({
      nqn: v.disk.nqn || v.disk.slot,
      // A version-1 record kept the StorageClass's address; newer ones leave it to volume_context.
      address: p.nvmeAddress ?? decodeVolumeContext(volumeContext).nvmeAddress ?? c.opts.nvmeAddress,
      port: v.disk.nvmePort ?? c.opts.nvmePort,
      filePath: v.disk.filePath,
      ctrlLossTmo: num(p.ctrlLossTmo),
      reconnectDelay: num(p.reconnectDelay),
      keepAliveTmo: num(p.keepAliveTmo),
      nrIoQueues: num(p.nrIoQueues),
      ...(attachment.generation ? { generation: attachment.generation } : {}),
    });
  } catch (err) {
    // Only a damaged record or a bad --nvme-address gets here (parameters were validated at CreateVolume).
    throw failedPrecondition(
      `volume ${v.disk.slot} cannot be published: ${(err as Error).message} (check --nvme-address and the volume's record)`,
    );
  }
}

async function saveAttachments(
  c: ControllerContext,
  v: Volume,
  attachments: Attachment[],
  generation = v.record.generation,
): Promise<void> {
  const record = { ...v.record, attachments, generation };
  // nvmet checks allowed hosts only at connect time: when the last node leaves, the export is turned off
  // and on again so that a node that is still connected (a dead or partitioned node the CO force-detached)
  // is cut off before another node gets the volume. With nodes remaining (the end of a live migration),
  // no bounce: the destination keeps its connection.
  const lastLeft = attachments.length === 0 && v.record.attachments.length > 0;
  // Re-assert the export too: an appliance that lost it (reboot, manual change) gets it back on attach.
  await saveVolume(c, v, record, {
    allowedHosts: allowedHostsFor(attachments, c.opts),
    ...(v.disk.nvmeExport ? {} : { nvmeExport: true }),
    ...(lastLeft && v.disk.nvmeExport ? { reexport: true } : {}),
  });
}

export async function controllerPublish(
  c: ControllerContext,
  req: ControllerPublishVolumeRequest__Output,
): Promise<ControllerPublishVolumeResponse> {
  const id = required(req.volume_id, "volume_id");
  const nodeId = required(req.node_id, "node_id");
  // CSI caps node ids at 256 bytes; the volume record's size budget relies on it (volume-record.ts).
  if (Buffer.byteLength(nodeId) > NODE_ID_MAX_BYTES)
    throw invalidArgument(`node_id is longer than ${NODE_ID_MAX_BYTES} bytes`);
  if (!req.volume_capability) throw invalidArgument("volume_capability is required");
  const cap = describeCapability(req.volume_capability);
  if (!isVolumeId(id)) throw notFound(`volume ${id} does not exist`);
  return c.exclusive([`vol:${id}`], async () => {
    const v = await loadVolume(c, id);
    if (!v) throw notFound(`volume ${id} does not exist`);
    if (!(await c.opts.nodes.has(nodeId)))
      throw notFound(`node ${nodeId} does not exist (${c.opts.nodes.description})`);
    const plan = planPublish(
      v.record.attachments,
      v.record.generation,
      nodeId,
      cap,
      Boolean(req.readonly),
      id,
    );
    if (plan.change) {
      await checkAttachLimit(c, nodeId, id);
      await saveAttachments(c, v, plan.attachments, plan.generation);
    } else if (!v.disk.nvmeExport) await saveAttachments(c, v, v.record.attachments);
    return { publish_context: publishContext(c, v, plan.attachment, req.volume_context ?? {}) };
  });
}

// NVMe/TCP hosts have a finite number of controllers; an operator can cap volumes per node. The count
// comes from the volume records on the appliance (one listing), so it holds across controller restarts.
async function checkAttachLimit(c: ControllerContext, nodeId: string, volumeId: string): Promise<void> {
  const max = c.opts.maxVolumesPerNode ?? 0;
  if (!max) return;
  const attached = (await listVolumes(c)).filter(
    (v) => v.disk.slot !== volumeId && v.record.attachments.some((a) => a.node === nodeId),
  );
  if (attached.length >= max)
    throw resourceExhausted(
      `node ${nodeId} already has ${attached.length} volumes attached, the limit is ${max} (--max-volumes-per-node)`,
    );
}

export async function controllerUnpublish(
  c: ControllerContext,
  req: ControllerUnpublishVolumeRequest__Output,
): Promise<Record<string, never>> {
  const id = required(req.volume_id, "volume_id");
  if (!isVolumeId(id)) return {};
  // An empty node_id means "from every node" (CSI allows it when the CO lost track).
  await releaseAttachments(c, id, req.node_id ? { node: req.node_id } : {});
  return {};
}

/**
 * Removes attachments from a volume's record (ControllerUnpublish, the reconciler and `rds-csi
 * attachments release`): of one node, or all. `generation` releases the attachment only if it is still
 * the one that was seen (a node published again meanwhile keeps its new attachment). Returns the nodes
 * released; none when the volume is gone or nothing matched.
 */
export async function releaseAttachments(
  c: ControllerContext,
  id: string,
  which: { node?: string; generation?: number },
): Promise<string[]> {
  return c.exclusive([`vol:${id}`], async () => {
    const v = await loadVolume(c, id);
    if (!v) return []; // gone: nothing is attached to it any more
    const gone = v.record.attachments.filter(
      (a) =>
        (which.node === undefined || a.node === which.node) &&
        (which.generation === undefined || a.generation === which.generation),
    );
    if (gone.length === 0) return [];
    await saveAttachments(
      c,
      v,
      v.record.attachments.filter((a) => !gone.includes(a)),
    );
    return gone.map((a) => a.node);
  });
}
