// Where snapshot images live on the appliance, next to their source volume (volumes/layout.ts has the
// volumes' own layouts):
//
//   <pool>/<dir>/snapshots/<id>.img          file-copy snapshot
//   <pool>/<dir>/snapshots/<id>/volume.img   btrfs snapshot (subvolume `<dir>/snapshots/<id>`)
import { type ImageLocation, SUBVOLUME_IMAGE, volumeDir, withoutPool } from "../volumes/layout.ts";

export const SNAPSHOT_DIR = "snapshots";

/** `<pool>/<dir>/snapshots`: next to the source volume, on the same pool (reflinks and btrfs need that). */
export function snapshotDir(source: ImageLocation): string {
  return `${volumeDir(source)}/${SNAPSHOT_DIR}`;
}

/** A snapshot image alone in its own subvolume below `dir`. */
export function subvolumeImageIn(dir: string, id: string): ImageLocation {
  return { filePath: `${dir}/${id}/${SUBVOLUME_IMAGE}`, subvolume: withoutPool(`${dir}/${id}`) };
}
