// What the driver keeps about a snapshot, stored where real RouterOS keeps and prints it: the `comment` of
// a `/disk` item (printed as `;;; text`, the same place the volume record lives, volume-record.ts). The
// item is the snapshot's image attached as a file disk that is never exported; the record gives the
// lineage (source volume), the creation time, the exact size and how it was made. Because the item is
// added only after the image is complete, its existence is also the snapshot's commit point: an image
// without an item is a leftover of an interrupted attempt (see create-snapshot.ts).
import type { SnapshotMethod } from "./method.ts";

export interface SnapshotRecord {
  /** The CSI name the snapshot was created for. */
  name: string;
  /** Id of the volume it is a snapshot of (the volume may since have been deleted). */
  sourceVolume: string;
  /** Exact size of the source volume when the snapshot was taken. */
  sizeBytes: number;
  /** ISO time at which the snapshot was taken. */
  createdAt: string;
  method: SnapshotMethod;
}

const PREFIX = "rds-csi-snap:1:";
const METHODS: readonly SnapshotMethod[] = ["file-copy", "btrfs-subvolume"];

export function encodeSnapshotRecord(r: SnapshotRecord): string {
  const compact = { n: r.name, v: r.sourceVolume, b: r.sizeBytes, t: r.createdAt, m: r.method };
  return PREFIX + Buffer.from(JSON.stringify(compact), "utf8").toString("base64url");
}

/** undefined when the comment is not a snapshot record of ours. */
export function decodeSnapshotRecord(comment: string): SnapshotRecord | undefined {
  if (!comment.startsWith(PREFIX)) return undefined;
  try {
    const c = JSON.parse(Buffer.from(comment.slice(PREFIX.length), "base64url").toString("utf8"));
    if (typeof c?.n !== "string" || typeof c?.v !== "string" || typeof c?.b !== "number") return undefined;
    if (typeof c.t !== "string" || !METHODS.includes(c.m)) return undefined;
    return { name: c.n, sourceVolume: c.v, sizeBytes: c.b, createdAt: c.t, method: c.m };
  } catch {
    return undefined;
  }
}
