// The snapshot mechanisms this driver implements, by method name. `/disk copy` is not among them (see
// docs/snapshots.md: its completion and progress reporting are undocumented, so it cannot be driven safely).
import { btrfsSubvolumeStrategy } from "./btrfs-subvolume.ts";
import { fileCopyStrategy } from "./file-copy.ts";
import type { SnapshotMethod } from "./method.ts";
import type { SnapshotStrategy } from "./strategy.ts";

export const STRATEGIES: Readonly<Record<SnapshotMethod, SnapshotStrategy>> = {
  "file-copy": fileCopyStrategy,
  "btrfs-subvolume": btrfsSubvolumeStrategy,
};
