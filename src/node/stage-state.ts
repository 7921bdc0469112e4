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
import { open, readFile, rename, rm } from "node:fs/promises";
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

/** The state in stagingPath, undefined when there is none; StateFileError when it is unreadable. */
export async function readStageState(stagingPath: string): Promise<StageState | undefined> {
  let text: string;
  try {
    text = await readFile(join(stagingPath, STATE_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR")
      return undefined;
    throw new StateFileError(`cannot read ${join(stagingPath, STATE_FILE)}: ${(err as Error).message}`);
  }
  try {
    return stateSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new StateFileError(
      `${join(stagingPath, STATE_FILE)} is not a valid rds-csi state file: ${(err as Error).message}`,
    );
  }
}

/** Atomic replace: write a temporary file, fsync, rename over, fsync the directory. */
export async function writeStageState(
  stagingPath: string,
  state: Omit<StageState, "updatedAt" | "version">,
): Promise<StageState> {
  const full: StageState = { version: 1, ...state, updatedAt: new Date().toISOString() };
  const final = join(stagingPath, STATE_FILE);
  const tmp = `${final}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(full, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, final);
  const dir = await open(stagingPath, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return full;
}

export async function removeStageState(stagingPath: string): Promise<void> {
  await rm(join(stagingPath, STATE_FILE), { force: true });
}
