// One interface over the snapshot mechanisms RouterOS documents (docs/snapshots.md has what each one
// guarantees). A strategy only makes the snapshot's image; the record, idempotency, locking, cleanup and
// error codes are the same for all of them (create-snapshot.ts).
import type { ControllerContext } from "../context.ts";
import type { ImageLocation } from "../volumes/layout.ts";
import type { PoolFacts, SnapshotMethod } from "./method.ts";

export interface StrategyEnv {
  c: ControllerContext;
  /** The source volume's pool: file system, label, RouterOS version. */
  facts: PoolFacts;
}

export interface SnapshotStrategy {
  readonly method: SnapshotMethod;
  /** Whether the image is a point-in-time copy even while the source is being written. */
  readonly atomic: boolean;
  /** Where a snapshot with this id of the volume at `source` keeps its image (same pool as the source). */
  locate(source: ImageLocation, snapshotId: string): ImageLocation;
  /** Free pool bytes to require before taking a snapshot of `sizeBytes` (thick copies need all of it). */
  spaceNeeded(sizeBytes: number): number;
  /** Makes the image at `target` from the image at `source`; on failure the caller removes `target`. */
  take(env: StrategyEnv, source: ImageLocation, target: ImageLocation, sizeBytes: number): Promise<void>;
}

/** Why a non-atomic copy of a published volume is refused (FAILED_PRECONDITION). */
export function notPointInTime(what: string, nodes: readonly string[]): string {
  return (
    `${what} of this volume would be made with /file copy, which is not atomic, and the volume is published ` +
    `to ${nodes.join(", ")}: the copy could be torn. Unpublish the volume (stop its pod or VM) and retry, ` +
    "or use a btrfs pool with snapshotMethod btrfs-subvolume for point-in-time copies of volumes in use"
  );
}
