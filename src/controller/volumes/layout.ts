// Where volume images live on the appliance (snapshots/layout.ts adds where snapshot images go).
//
//   flat       <pool>/<dir>/<slot>.img               the layout every volume had before snapshots
//   subvolume  <pool>/<dir>/<slot>/volume.img        the btrfs subvolume `<dir>/<slot>` holds only the image
//
// A btrfs snapshot is of a whole subvolume, so a volume can be snapshotted that way only if its image was
// alone in its own subvolume from the start; a flat volume cannot be moved into one while it is in use
// (that would be a full copy behind the initiator's back). The layout is therefore chosen once, at
// CreateVolume, and read back from the path afterwards: nothing else has to be remembered, and volumes
// made before this code existed are simply flat. Pure path arithmetic; images.ts changes the appliance.
import { poolOf } from "./path.ts";

export type VolumeLayout = "flat" | "subvolume";

/** An image on the appliance. */
export interface ImageLocation {
  /** `/file` name of the image (no leading slash). */
  filePath: string;
  /** Set when the image lives alone in a btrfs subvolume: the subvolume's path below the pool. */
  subvolume?: string;
}

export const SUBVOLUME_IMAGE = "volume.img";

/** A path below its pool: `pool/a/b` → `a/b` (how btrfs names subvolumes). */
export const withoutPool = (path: string): string => path.slice(path.indexOf("/") + 1);

/** Pool (mount point) an image is on. */
export const poolOfImage = (loc: ImageLocation): string => poolOf(loc.filePath);

/** Where a new volume's image goes. `volumePath` is `<pool>/<dir...>` without slashes at either end. */
export function volumeLocation(volumePath: string, slot: string, layout: VolumeLayout): ImageLocation {
  if (layout === "flat") return { filePath: `${volumePath}/${slot}.img` };
  return {
    filePath: `${volumePath}/${slot}/${SUBVOLUME_IMAGE}`,
    subvolume: withoutPool(`${volumePath}/${slot}`),
  };
}

/** The location of an existing volume's or snapshot's image, from its `/disk` file path and its id. */
export function imageLocation(filePath: string, id: string): ImageLocation {
  const suffix = `/${id}/${SUBVOLUME_IMAGE}`;
  if (filePath.endsWith(suffix) && filePath.split("/").length >= 4) {
    return { filePath, subvolume: withoutPool(filePath.slice(0, -`/${SUBVOLUME_IMAGE}`.length)) };
  }
  return { filePath };
}

/** The directory a volume lives in (`<pool>/<dir>`), whatever its layout. */
export function volumeDir(loc: ImageLocation): string {
  const parent = loc.filePath.slice(0, loc.filePath.lastIndexOf("/"));
  return loc.subvolume === undefined ? parent : parent.slice(0, parent.lastIndexOf("/"));
}

/** The subvolume's directory as `/file` names it. */
export const subvolumeDir = (loc: ImageLocation): string | undefined =>
  loc.subvolume === undefined ? undefined : `${poolOfImage(loc)}/${loc.subvolume}`;

/** The directory that must exist before the image (or its subvolume) can be made. */
export function parentDirOf(loc: ImageLocation): string {
  const inner = subvolumeDir(loc) ?? loc.filePath;
  return inner.slice(0, inner.lastIndexOf("/"));
}
