// Guarded access to the staging state file: never through a mounted staging path (that would read a
// file inside the user's filesystem), and a damaged file is a clear FAILED_PRECONDITION, not a crash.
import { failedPrecondition, internal } from "../csi/errors.ts";
import { mounts, type NodeContext } from "./context.ts";
import { mountAt } from "./mount/mountinfo.ts";
import type { AttachTarget } from "./nvme/transport.ts";
import { readStageState, type StageState, StateFileError } from "./stage-state.ts";

export async function readState(nc: NodeContext, stagingPath: string): Promise<StageState | undefined> {
  if (mountAt(await mounts(nc), stagingPath))
    throw internal(`refusing to read driver state through the mounted staging path ${stagingPath}`);
  try {
    return await readStageState(stagingPath);
  } catch (err) {
    if (err instanceof StateFileError)
      throw failedPrecondition(
        `${err.message}; remove it after checking that nothing is attached for this volume`,
      );
    throw err;
  }
}

/** Why a request does not match what is staged at this path, or undefined when it does (or nothing is). */
export function stateMismatch(
  nc: NodeContext,
  prev: StageState | undefined,
  volumeId: string,
  accessType: "block" | "mount",
  target: AttachTarget,
): string | undefined {
  if (!prev) return undefined;
  if (prev.volumeId !== volumeId) return `staging path is in use by volume ${prev.volumeId}`;
  if (prev.accessType !== accessType)
    return `volume ${volumeId} is staged as ${prev.accessType === "block" ? "a block volume" : "a filesystem"} here`;
  const before = nc.transport.targetKey(prev.target);
  const now = nc.transport.targetKey(target);
  if (before !== now) return `volume ${volumeId} was staged from ${before}; this request names ${now}`;
  return undefined;
}
