// Attach fencing, decided from the volume record alone (pure functions, unit-tested). Single-node modes
// fence every other node; MULTI_NODE_MULTI_WRITER (raw block only) allows exactly two nodes at once,
// which is what a KubeVirt live migration needs: source and destination during the hand-off.
import type { CapabilityInfo } from "../csi/capability.ts";
import { alreadyExists, failedPrecondition } from "../csi/errors.ts";
import type { Attachment } from "./volume-record.ts";

export const MAX_MULTI_NODE_ATTACHMENTS = 2;

export type AttachPlan =
  | { change: false; attachment: Attachment }
  | { change: true; attachment: Attachment; attachments: Attachment[]; generation: number };

/**
 * The attachment for nodeId: the existing one (an idempotent retry keeps its generation) or a new one
 * with the volume's next generation (`lastGeneration` + 1), which the caller stores with the record.
 */
export function planPublish(
  current: readonly Attachment[],
  lastGeneration: number,
  nodeId: string,
  cap: CapabilityInfo,
  readonly: boolean,
  volumeId: string,
): AttachPlan {
  const mode = cap.multiNode ? "multi" : "single";
  const mine = current.find((a) => a.node === nodeId);
  if (mine) {
    if (mine.readonly !== readonly || mine.mode !== mode)
      throw alreadyExists(
        `volume ${volumeId} is already published to node ${nodeId} with ${mine.readonly ? "read-only" : "read-write"} ${mine.mode}-node access`,
      );
    return { change: false, attachment: mine };
  }
  const others = current.filter((a) => a.node !== nodeId);
  if (others.length > 0) {
    if (mode === "single" || others.some((a) => a.mode === "single"))
      throw failedPrecondition(
        `volume ${volumeId} is published to node ${others.map((a) => a.node).join(", ")}; its access mode allows one node at a time`,
      );
    if (others.length >= MAX_MULTI_NODE_ATTACHMENTS)
      throw failedPrecondition(
        `volume ${volumeId} is already published to ${others.length} nodes (${others.map((a) => a.node).join(", ")}); ReadWriteMany block allows ${MAX_MULTI_NODE_ATTACHMENTS} at once (live migration)`,
      );
  }
  const generation = lastGeneration + 1;
  const attachment: Attachment = { node: nodeId, mode, readonly, generation };
  return { change: true, attachment, attachments: [...current, attachment], generation };
}
