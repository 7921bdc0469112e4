// A command whose outcome is unknown may still be running on the appliance. Closing the SSH channel of a
// timed-out `/disk add` (which allocates the whole file) or `/file copy` does not stop it: the file keeps
// growing, and a disk item may appear when it is done. Removing such a "leftover" would leave a disk item
// pointing at a deleted file, or two writers on one file. So, before any clean-up of a file that has no
// disk item, this establishes that nothing can still be writing it:
//  - this controller remembers every mutation on a file that timed out and touches that file only after
//    a quiet period since the command started (a dropped connection leaves no mark: a short command has
//    finished by then, and a long one is caught by the size check);
//  - whoever started it (another replica, a controller before a restart), the file's size must not
//    change over a probe interval.
// Otherwise the call answers ABORTED and the CO retries later; by then the command has finished (the
// retry then finds the disk item) or failed (the leftover is removed).
import { aborted } from "../csi/errors.ts";
import { RdsError } from "../rds/types.ts";
import { sleep } from "../util/sleep.ts";
import type { ControllerContext } from "./context.ts";

/** Defaults: a timed-out command gets 10 minutes; a size is watched for 1 s. */
export const SETTLE_DEFAULTS = { quietMs: 10 * 60_000, probeMs: 1000 } as const;

/** A command that timed out may still be running on the appliance (its channel was closed, not it). */
export function timedOut(err: unknown): boolean {
  return err instanceof RdsError && err.kind === "timeout";
}

/** Runs a mutation that writes `filePath`; a timeout marks the file as possibly still being written. */
export async function writingFile<T>(
  c: ControllerContext,
  filePath: string,
  run: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  try {
    return await run();
  } catch (err) {
    if (timedOut(err)) c.unsettled.set(filePath, started);
    throw err;
  }
}

/** Throws ABORTED unless nothing can still be writing `filePath` (see above). */
export async function ensureSettled(c: ControllerContext, filePath: string): Promise<void> {
  const quietMs = c.opts.settle?.quietMs ?? SETTLE_DEFAULTS.quietMs;
  const probeMs = c.opts.settle?.probeMs ?? SETTLE_DEFAULTS.probeMs;
  const since = c.unsettled.get(filePath);
  if (since !== undefined) {
    const left = since + quietMs - Date.now();
    if (left > 0)
      throw aborted(
        `an earlier command on ${filePath} timed out ${Math.round((Date.now() - since) / 1000)} s ago and may still be running on the RDS; not touching the file for another ${Math.ceil(left / 1000)} s`,
      );
  }
  const before = await c.rds.getFile(filePath);
  if (!before) return;
  await sleep(probeMs);
  const after = await c.rds.getFile(filePath);
  if (after && after.sizeBytes !== before.sizeBytes)
    throw aborted(
      `${filePath} is still growing (${before.sizeBytes} → ${after.sizeBytes} bytes): a command from an earlier attempt is still writing it; retry later`,
    );
  c.unsettled.delete(filePath);
}
