// What the driver must remember about a volume, stored on the appliance in the disk's `comment`, so a
// restarted controller (or a second replica) needs no local state. Encoded as base64url JSON behind a
// versioned prefix: the alphabet needs no quoting on the RouterOS command line and has no `=`, so a
// wrapped `;;; comment` line can never be mistaken for a property.

export interface Attachment {
  node: string;
  /** Single-node modes fence other nodes; multi is MULTI_NODE_MULTI_WRITER (block only, live migration). */
  mode: "single" | "multi";
  readonly: boolean;
  /** Which publish made this attachment (PublishKey.generation); 0 for attachments older than generations. */
  generation: number;
}

export interface VolumeRecord {
  /** The CSI name the volume was created for. */
  name: string;
  /** Requested bytes (CreateVolume or the last expansion), before alignment. */
  requiredBytes: number;
  /** StorageClass parameters the driver uses (validated). */
  params: Record<string, string>;
  /** Content source, once snapshots and clones exist. */
  source?: { snapshot?: string; volume?: string };
  attachments: Attachment[];
  /** The last attachment generation handed out for this volume (0: none yet); only ever grows. */
  generation: number;
  createdAt: string;
}

const PREFIX = "rds-csi:1:";

export function encodeRecord(r: VolumeRecord): string {
  const compact = {
    n: r.name,
    b: r.requiredBytes,
    p: r.params,
    s: r.source,
    a: r.attachments.map((a) => [a.node, a.mode === "multi" ? 1 : 0, a.readonly ? 1 : 0, a.generation]),
    g: r.generation || undefined,
    t: r.createdAt,
  };
  return PREFIX + Buffer.from(JSON.stringify(compact), "utf8").toString("base64url");
}

/** undefined when the comment is not one of ours (a disk someone else made, or a damaged comment). */
export function decodeRecord(comment: string): VolumeRecord | undefined {
  if (!comment.startsWith(PREFIX)) return undefined;
  try {
    const c = JSON.parse(Buffer.from(comment.slice(PREFIX.length), "base64url").toString("utf8"));
    if (typeof c?.n !== "string" || typeof c?.b !== "number") return undefined;
    const attachments: Attachment[] = Array.isArray(c.a)
      ? c.a
          .filter((x: unknown) => Array.isArray(x) && typeof x[0] === "string")
          .map((x: [string, number, number, number?]) => ({
            node: x[0],
            mode: x[1] ? "multi" : "single",
            readonly: Boolean(x[2]),
            generation: safeCount(x[3]),
          }))
      : [];
    return {
      name: c.n,
      requiredBytes: c.b,
      params: c.p ?? {},
      source: c.s,
      attachments,
      // Never below an attachment's own: a record edited by hand must not hand a number out twice.
      generation: Math.max(safeCount(c.g), ...attachments.map((a) => a.generation)),
      createdAt: typeof c.t === "string" ? c.t : "",
    };
  } catch {
    return undefined;
  }
}

function safeCount(x: unknown): number {
  return typeof x === "number" && Number.isSafeInteger(x) && x > 0 ? x : 0;
}
