// Which attachment generation this node staged a volume under (issue 13 item 1).
//
// After a force-detach (ControllerUnpublish without NodeUnstage: kubelet gave up on a lost node) the
// node's kernel keeps reconnecting to the export for ctrl_loss_tmo, holding queued writes and a dirty
// page cache. If the volume is later published to this node again, that old session reconnects, and a
// NodeStage that finds the old staging mount on the same device would report it done. The controller
// numbers every attachment (publish_context `rds.csi/attachment-generation`); the node records the
// generation it staged, and a NodeStage under another generation first tears the stale session down.
//
// The record lives beside the staging path, not in it: a filesystem volume's staging directory is
// covered by its mount, and the record must be readable exactly then. It is a small file on the
// kubelet's own disk (synchronous I/O, see canonical() in context.ts), removed at NodeUnstage.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface AttachmentRecord {
  volumeId: string;
  /** A positive integer. */
  generation: number;
}

/** Exactly the written shape (checked by hand: zod cost the node plugin ~5 MiB, issue 15), else undefined. */
function parseRecord(v: unknown): AttachmentRecord | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const { volumeId, generation } = v as Record<string, unknown>;
  if (typeof volumeId !== "string" || volumeId === "") return undefined;
  if (typeof generation !== "number" || !Number.isInteger(generation) || generation < 1) return undefined;
  return { volumeId, generation };
}

export const attachmentRecordPath = (stagingPath: string): string =>
  join(dirname(stagingPath), `.${basename(stagingPath)}.rds-csi-attachment.json`);

/** The record, or undefined when there is none or it is unreadable (then nothing can be compared). */
export function readAttachmentRecord(stagingPath: string): AttachmentRecord | undefined {
  try {
    return parseRecord(JSON.parse(readFileSync(attachmentRecordPath(stagingPath), "utf8")));
  } catch {
    return undefined;
  }
}

export function writeAttachmentRecord(stagingPath: string, record: AttachmentRecord): void {
  const final = attachmentRecordPath(stagingPath);
  mkdirSync(dirname(final), { recursive: true, mode: 0o750 });
  const tmp = `${final}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(tmp, final);
}

export function removeAttachmentRecord(stagingPath: string): void {
  rmSync(attachmentRecordPath(stagingPath), { force: true });
}
