// btrfs-subvolume: the volume's image lives alone in the subvolume `<dir>/<slot>`; a snapshot is
// `/disk btrfs subvolume add fs=<label> parent=<dir>/<slot> name=<dir>/snapshots/<id>` (RouterOS 7.18+,
// pool formatted btrfs). Atomic and copy-on-write: instant, and it uses space only as the volume and the
// snapshot diverge (a deleted or overwritten block stays allocated while a snapshot still holds it).
//
// The snapshot subvolume is made writable (no `read-only=yes`) on purpose: its image must be attachable as
// the `/disk` item that carries the snapshot's record (snapshot-record.ts), and whether RouterOS can attach
// a file on a read-only subvolume is undocumented. Nothing writes to it: the item is never exported.
import { snapshotDir, subvolumeImageIn } from "./layout.ts";
import type { SnapshotStrategy } from "./strategy.ts";

export const btrfsSubvolumeStrategy: SnapshotStrategy = {
  method: "btrfs-subvolume",
  atomic: true,
  locate: (source, id) => subvolumeImageIn(snapshotDir(source), id),
  spaceNeeded: () => 0, // metadata only; a full file system still fails the add, and that is reported
  async take(env, source, target) {
    if (source.subvolume === undefined || target.subvolume === undefined || !env.facts.fsLabel)
      throw new Error("btrfs-subvolume snapshot of an image that is not alone in a subvolume");
    await env.c.rds.addSubvolume({
      fsLabel: env.facts.fsLabel,
      mountPoint: env.facts.mountPoint,
      name: target.subvolume,
      parent: source.subvolume,
    });
  },
};
