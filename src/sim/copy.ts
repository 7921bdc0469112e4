// Copying files and directory trees inside the simulated appliance, for `/file copy` and btrfs snapshots.
//
// - Reflink first (`FICLONE`: XFS with reflink=1, btrfs): instant, shares extents, like a CoW copy on the
//   RDS. When the host file system cannot (ext4, tmpfs, across file systems) the copy is a full copy of
//   the data that keeps holes (`cp --sparse=always`): the same bytes, without turning a mostly empty 10 GiB
//   image into 10 GiB of written zeros on the test machine.
// - Space is accounted thick either way (store.ts): the destination is first created through the store
//   with the source's size, so the pool's `free` drops by the full size, as the RouterOS pool would for a
//   thick copy. A failed copy removes what it made, giving the space back.
import { constants } from "node:fs";
import { copyFile, readdir } from "node:fs/promises";
import { runOk } from "../util/exec.ts";
import type { SimStore } from "./store.ts";

export type CopyMode = "reflink" | "full";

/** Counters for benchmarks and tests: how the simulator's copies were made on this host. */
export const copyStats = { reflink: 0, full: 0, bytes: 0 };

/** A full copy of a large image can take a while on a slow disk; it still must not hang forever. */
const FULL_COPY_TIMEOUT_MS = 30 * 60_000;

/**
 * Copies one regular file `src` to the new file `dst` (normalized names; `dst` must not exist and its
 * directory must). Returns how it was copied. On failure nothing is left at `dst`.
 */
export async function copyOneFile(store: SimStore, src: string, dst: string): Promise<CopyMode> {
  const st = await store.statName(src);
  if (!st?.isFile()) throw new Error(`copy source ${src} is not a file`);
  await store.createSparseFile(dst, st.size); // reserves the space (thick) and fails if dst exists
  const from = store.localPath(src);
  const to = store.localPath(dst);
  try {
    let mode: CopyMode;
    try {
      await copyFile(from, to, constants.COPYFILE_FICLONE_FORCE);
      mode = "reflink";
    } catch {
      await runOk("cp", ["--sparse=always", "--reflink=never", "--", from, to], {
        timeoutMs: FULL_COPY_TIMEOUT_MS,
      });
      mode = "full";
    }
    copyStats[mode]++;
    copyStats.bytes += st.size;
    return mode;
  } catch (err) {
    await store.removeFile(dst).catch(() => undefined);
    throw err;
  }
}

/**
 * Copies a file or a whole directory tree. `skipDir(name)` returns true for directories to recreate empty
 * instead of copying (btrfs: a nested subvolume shows up in a snapshot as an empty directory).
 * On failure everything made so far is removed again.
 */
export async function copyTree(
  store: SimStore,
  src: string,
  dst: string,
  skipDir: (name: string) => boolean = () => false,
): Promise<void> {
  const made: Array<{ name: string; dir: boolean }> = [];
  const visit = async (from: string, to: string): Promise<void> => {
    const st = await store.statName(from);
    if (!st) throw new Error(`copy source ${from} does not exist`);
    if (!st.isDirectory()) {
      await copyOneFile(store, from, to);
      made.push({ name: to, dir: false });
      return;
    }
    await store.makeDirectory(to);
    made.push({ name: to, dir: true });
    if (from !== src && skipDir(from)) return;
    for (const child of await childrenOf(store, from)) await visit(`${from}/${child}`, `${to}/${child}`);
  };
  try {
    await visit(src, dst);
  } catch (err) {
    for (const m of made.reverse()) {
      await (m.dir ? store.removeDirectory(m.name) : store.removeFile(m.name)).catch(() => undefined);
    }
    throw err;
  }
}

/** Total apparent size of the regular files under a name (what a thick copy of it needs). */
export async function treeBytes(
  store: SimStore,
  name: string,
  skipDir: (name: string) => boolean = () => false,
): Promise<number> {
  const st = await store.statName(name);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const child of await childrenOf(store, name)) {
    const childName = `${name}/${child}`;
    if (skipDir(childName)) continue;
    total += await treeBytes(store, childName, skipDir);
  }
  return total;
}

/** Removes a directory tree through the store (so the pool's usage stays exact). */
export async function removeTree(store: SimStore, name: string): Promise<void> {
  const st = await store.statName(name);
  if (!st) return;
  if (!st.isDirectory()) {
    await store.removeFile(name);
    return;
  }
  for (const child of await childrenOf(store, name)) await removeTree(store, `${name}/${child}`);
  await store.removeDirectory(name);
}

async function childrenOf(store: SimStore, dir: string): Promise<string[]> {
  const entries = await readdir(store.localPath(dir), { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() || e.isDirectory())
    .map((e) => e.name)
    .sort();
}
