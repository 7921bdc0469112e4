// The commands behind snapshots and clones, added to the menu tree only from the RouterOS version that
// has them (docs/routeros.md §1.1): `/disk btrfs subvolume` from 7.18, `/file copy` from 7.23. On an
// older simulated version they are `bad command name`, as on the appliance.
import type { MenuNode } from "../commands.ts";
import { btrfsMenu } from "./btrfs.ts";
import { fileCopyCommand } from "./file-copy.ts";

export const BTRFS_SUBVOLUME_SINCE = [7, 18] as const;
export const FILE_COPY_SINCE = [7, 23] as const;

export function versionAtLeast(version: string, min: readonly number[]): boolean {
  const parts = version.match(/\d+/g)?.map(Number) ?? [];
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** Adds `/file copy` and `/disk btrfs` to a grammar's menus for the simulated RouterOS version. */
export function installSnapshotCommands(root: MenuNode, version: string): void {
  const file = root.children.get("file");
  if (file && versionAtLeast(version, FILE_COPY_SINCE)) file.commands.set("copy", fileCopyCommand);
  const disk = root.children.get("disk");
  if (disk && versionAtLeast(version, BTRFS_SUBVOLUME_SINCE)) disk.children.set("btrfs", btrfsMenu());
}
