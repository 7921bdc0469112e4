// Where volume and snapshot images live on the appliance.
//
//   flat       <pool>/<dir>/<slot>.img               the layout every volume had before snapshots
//   subvolume  <pool>/<dir>/<slot>/volume.img        the btrfs subvolume `<dir>/<slot>` holds only the image
//   snapshots  <pool>/<dir>/snapshots/<id>.img       file-copy snapshot
//              <pool>/<dir>/snapshots/<id>/volume.img  btrfs snapshot (subvolume `<dir>/snapshots/<id>`)
//
// A btrfs snapshot is of a whole subvolume, so a volume can be snapshotted that way only if its image was
// alone in its own subvolume from the start; a flat volume cannot be moved into one while it is in use
// (that would be a full copy behind the initiator's back). The layout is therefore chosen once, at
// CreateVolume, and read back from the path afterwards: nothing else has to be remembered, and volumes
// made before this code existed are simply flat.
import type { ControllerContext } from "../context.ts";
import { poolOf } from "../params.ts";
import { ensureSettled, timedOut } from "../settle.ts";

export type VolumeLayout = "flat" | "subvolume";

/** An image on the appliance. */
export interface ImageLocation {
  /** `/file` name of the image (no leading slash). */
  filePath: string;
  /** Set when the image lives alone in a btrfs subvolume: the subvolume's path below the pool. */
  subvolume?: string;
}

export const SUBVOLUME_IMAGE = "volume.img";
export const SNAPSHOT_DIR = "snapshots";

const withoutPool = (path: string): string => path.slice(path.indexOf("/") + 1);

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
function volumeDir(loc: ImageLocation): string {
  const parent = loc.filePath.slice(0, loc.filePath.lastIndexOf("/"));
  return loc.subvolume === undefined ? parent : parent.slice(0, parent.lastIndexOf("/"));
}

/** `<pool>/<dir>/snapshots`: next to the source volume, on the same pool (reflinks and btrfs need that). */
export function snapshotDir(source: ImageLocation): string {
  return `${volumeDir(source)}/${SNAPSHOT_DIR}`;
}

/** A snapshot image alone in its own subvolume below `dir`. */
export function subvolumeImageIn(dir: string, id: string): ImageLocation {
  return { filePath: `${dir}/${id}/${SUBVOLUME_IMAGE}`, subvolume: withoutPool(`${dir}/${id}`) };
}

/** The subvolume's directory as `/file` names it. */
export const subvolumeDir = (loc: ImageLocation): string | undefined =>
  loc.subvolume === undefined ? undefined : `${poolOfImage(loc)}/${loc.subvolume}`;

/** The directory that must exist before the image (or its subvolume) can be made. */
export function parentDirOf(loc: ImageLocation): string {
  const inner = subvolumeDir(loc) ?? loc.filePath;
  return inner.slice(0, inner.lastIndexOf("/"));
}

/** Removes an image (and its subvolume); missing parts are not an error. The `/disk` item must be gone. */
export async function removeImage(c: ControllerContext, loc: ImageLocation): Promise<void> {
  await c.rds.removeFile(loc.filePath);
  if (loc.subvolume === undefined) return;
  await c.rds.removeSubvolume(loc.subvolume);
  // A plain directory (not a subvolume) would survive the subvolume remove: an empty one can go as a file.
  const dir = subvolumeDir(loc)!;
  if (await c.rds.getFile(dir)) await c.rds.removeFile(dir);
}

/** Is anything of this image on the appliance (the file, or its subvolume's directory)? */
export async function imageExists(c: ControllerContext, loc: ImageLocation): Promise<boolean> {
  if (await c.rds.getFile(loc.filePath)) return true;
  const dir = subvolumeDir(loc);
  return dir !== undefined && (await c.rds.getFile(dir)) !== undefined;
}

/**
 * Removes what an interrupted attempt left at `loc` when no `/disk` item owns it: the item is added last,
 * so an image without one was never handed out and is not anybody's data. Returns true if it removed something.
 */
export async function clearLeftover(
  c: ControllerContext,
  loc: ImageLocation,
  what: string,
): Promise<boolean> {
  if (!(await imageExists(c, loc))) return false;
  await ensureSettled(c, loc.filePath); // an earlier attempt's copy may still be writing it
  c.log.warn(
    { filePath: loc.filePath, subvolume: loc.subvolume },
    `removing a leftover ${what} image with no disk item`,
  );
  await removeImage(c, loc);
  return true;
}

/**
 * Best-effort removal of a half-made volume or snapshot after a failed create; what stays (connection
 * lost) the CO's retry finishes or removes. The add may have happened with its reply lost, so an image a
 * disk item points at is never removed unless this call added that item (`added`).
 */
export async function undoHalfMade(
  c: ControllerContext,
  id: string,
  target: ImageLocation,
  added: boolean,
  what: "volume" | "snapshot",
  cause?: unknown,
): Promise<void> {
  if (timedOut(cause)) {
    // The command that failed may still be running (a timed-out copy keeps copying): removing its
    // target now could leave two writers on one file. The CO's retry removes it once it has settled.
    c.log.warn(
      { slot: id, filePath: target.filePath },
      `leaving a half-made ${what} whose last command may still run`,
    );
    return;
  }
  try {
    const disk = await c.rds.getDisk(id);
    if (disk && !added) return;
    if (disk) await c.rds.removeDisk(id);
    await removeImage(c, target);
  } catch (err) {
    c.log.warn({ slot: id, err }, `could not remove a half-made ${what}; a retry of the call will`);
  }
}

/**
 * Leftovers of an id anywhere on the appliance (any pool, any directory): `<...>/<id>.img` files and
 * `<...>/<id>` subvolume directories, for a DeleteVolume/DeleteSnapshot retried after the `/disk` item was
 * already removed. One `/file print` over the whole appliance; the id's fixed form makes matches exact.
 */
export async function removeLeftoversOf(c: ControllerContext, id: string): Promise<number> {
  let removed = 0;
  for (const f of await c.rds.findFiles(`/${id}`)) {
    if (f.type !== "directory" && f.name.endsWith(`/${id}.img`)) {
      await c.rds.removeFile(f.name);
      removed++;
    } else if (f.type === "directory" && f.name.endsWith(`/${id}`) && f.name.split("/").length >= 3) {
      await removeImage(c, { filePath: `${f.name}/${SUBVOLUME_IMAGE}`, subvolume: withoutPool(f.name) });
      removed++;
    }
  }
  return removed;
}
