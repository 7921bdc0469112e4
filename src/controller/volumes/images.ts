// Image operations on the appliance shared by volumes and snapshots: existence, removal, clearing what an
// interrupted attempt left, undoing a half-made create, and finding leftovers of a deleted id.
import type { Removal } from "../../rds/types.ts";
import type { ControllerContext } from "../context.ts";
import { ensureSettled, timedOut } from "../settle.ts";
import { type ImageLocation, SUBVOLUME_IMAGE, subvolumeDir, withoutPool } from "./layout.ts";

/**
 * What removing an image takes, in order: the file, then its subvolume (with what is left in it), then
 * the subvolume's directory: a plain directory (not a subvolume) would survive the subvolume remove, and
 * an empty one can go as a file. Missing parts are not an error (an empty `[find]` is a no-op).
 */
export function imageRemovals(loc: ImageLocation): Removal[] {
  const dir = subvolumeDir(loc);
  if (loc.subvolume === undefined || dir === undefined) return [{ file: loc.filePath }];
  return [{ file: loc.filePath }, { subvolume: loc.subvolume }, { file: dir }];
}

/** Removes an image (and its subvolume) in one exec. The `/disk` item must be gone. */
export async function removeImage(c: ControllerContext, loc: ImageLocation): Promise<void> {
  await c.rds.removeAll(imageRemovals(loc));
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
    // The disk item (when this call added it) and the image, in one exec.
    await c.rds.removeAll([...(disk ? [{ disk: id }] : []), ...imageRemovals(target)]);
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
