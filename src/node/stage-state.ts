// A small state file in the staging directory, written BEFORE the device is attached (an intent record)
// and removed last on unstage, so a crash at any point leaves enough behind for the next call:
//  - NodeUnstage gets no publish context; the file says which target (NQN or disk file) to detach.
//  - an interrupted mkfs leaves a device without a recognisable filesystem but with data; `formatting`
//    marks it as our own half-made filesystem, the only case where such a device may be formatted again.
//  - block volumes record their published device nodes (SINGLE_NODE_SINGLE_WRITER checks).
// For filesystem volumes the file lies under the staging mount once mounted, hidden from everyone and
// never part of the user's filesystem. It is only read or written while the staging path is NOT a mount
// point (callers check), otherwise it would be a file inside the user's filesystem.
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

export const STATE_FILE = ".rds-csi-stage.json";

const targetSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("nvme-tcp"),
    nqn: z.string().min(1),
    address: z.string(),
    port: z.number().int(),
    ctrlLossTmo: z.number().int(),
    reconnectDelay: z.number().int(),
    keepAliveTmo: z.number().int().optional(),
    nrIoQueues: z.number().int().optional(),
  }),
  z.object({ kind: z.literal("loop"), filePath: z.string().min(1) }),
]);

const stateSchema = z.object({
  version: z.literal(1),
  volumeId: z.string().min(1),
  accessType: z.enum(["block", "mount"]),
  target: targetSchema,
  fsType: z.string().optional(),
  formatting: z.boolean().default(false),
  publishedTargets: z.array(z.string()).default([]),
  updatedAt: z.string(),
});

export type StageState = z.infer<typeof stateSchema>;

export class StateFileError extends Error {}

// The file is small and lives on the kubelet's own disk, never on a volume: plain reads, writes and renames
// are synchronous (microseconds, where each fs/promises call is a ~60-300 µs thread-pool round trip).
// Only fsync, which can wait on a busy disk, goes through the thread pool.

/** The state in stagingPath, undefined when there is none; StateFileError when it is unreadable. */
export async function readStageState(stagingPath: string): Promise<StageState | undefined> {
  const path = join(stagingPath, STATE_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR")
      return undefined;
    throw new StateFileError(`cannot read ${path}: ${(err as Error).message}`);
  }
  // Empty or zero-filled: written without fsync (see writeStageState) just before the node crashed. Such a
  // record described attachments and mounts that the crash ended, so there is nothing left to describe.
  if (/^\0*$/.test(text)) return undefined;
  try {
    return stateSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new StateFileError(`${path} is not a valid rds-csi state file: ${(err as Error).message}`);
  }
}

/**
 * Atomic replace: write a temporary file and rename it over the old one, so a reader sees the old or the
 * new record, never a mix. Durable (fsync of file and directory, ~1 ms or more) only for a record with
 * `formatting: true`: that marker must be on disk before mkfs writes the first byte, because it is what
 * allows formatting a half-made filesystem again after a power loss. Every other field describes
 * attachments and mounts, which a power loss ends anyway; losing their last update is harmless.
 */
export async function writeStageState(
  stagingPath: string,
  state: Omit<StageState, "updatedAt" | "version">,
): Promise<StageState> {
  const full: StageState = { version: 1, ...state, updatedAt: new Date().toISOString() };
  const final = join(stagingPath, STATE_FILE);
  const tmp = `${final}.${randomBytes(4).toString("hex")}.tmp`;
  const text = `${JSON.stringify(full, null, 2)}\n`;
  if (!full.formatting) {
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, final);
    return full;
  }
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  renameSync(tmp, final);
  const dir = await open(stagingPath, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return full;
}

export async function removeStageState(stagingPath: string): Promise<void> {
  rmSync(join(stagingPath, STATE_FILE), { force: true });
}
