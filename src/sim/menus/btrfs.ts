// `/disk btrfs subvolume` (RouterOS 7.18+, docs/routeros.md §5; manual "Btrfs" page):
//   add fs=<label> name=<path> [parent=<subvolume>] [read-only=yes|no]
//   remove <numbers>          print / find / get
// `fs` is the btrfs file system label (in the simulator: the pool's name, which `/disk print` shows as
// `fs-label`). `name` is the path below the file system's top level, so `name=k8s/vol-1` on the pool
// `storage-pool` is the directory `storage-pool/k8s/vol-1` in `/file`. `parent` names a subvolume by that
// same path **[chosen: the manual's examples only use top-level names, where path and name coincide]**.
import { dirname } from "node:path/posix";
import { argBool, argText } from "../args.ts";
import { BtrfsState, type SubvolumeState } from "../btrfs.ts";
import type { CommandDef, ExecContext, MenuNode } from "../commands.ts";
import { menuNode } from "../commands.ts";
import { copyTree, removeTree, treeBytes } from "../copy.ts";
import { FAILURES, failure, noMatchingValue } from "../errors.ts";
import type { Item, Prop } from "../items.ts";
import { findCommand, getCommand, type ListSource, printCommand, selectItems } from "../list-menu.ts";
import { formatTimestamp } from "../records.ts";
import type { PoolState } from "../store.ts";
import { id, NIL } from "../values.ts";
import { poolFree } from "./disk.ts";

/** Texts chosen for failures RouterOS does not document (listed in src/sim/README.md). */
export const BTRFS_FAILURES = {
  readOnly: "read-only file system",
  nested: "subvolume contains other subvolumes, remove them first",
} as const;

const PROP_KEYS = [
  ".id",
  "name",
  "fs",
  "path",
  "read-only",
  "parent",
  "uuid",
  "parent-uuid",
  "creation-time",
];

const prop = (key: string, kind: Prop["kind"], value: Prop["value"]): Prop => ({ key, kind, value });

function subvolumeItem(sv: SubvolumeState, number: number): Item {
  return {
    id: sv.id,
    number,
    flags: "",
    props: [
      prop("name", "str", sv.name),
      prop("fs", "str", sv.pool),
      prop("path", "word", `/${BtrfsState.fullName(sv)}`),
      prop("read-only", "bool", sv.readOnly),
      prop("parent", "str", sv.parent),
      prop("uuid", "str", sv.uuid),
      prop("parent-uuid", "str", sv.parentUuid),
      prop("creation-time", "word", formatTimestamp(new Date(sv.createdAt))),
    ],
  };
}

function subvolumeSource(): ListSource {
  return {
    flagDefs: [],
    columns: [
      { title: "NAME", key: "name" },
      { title: "FS", key: "fs" },
      { title: "READ-ONLY", key: "read-only" },
      { title: "PARENT", key: "parent" },
    ],
    nameKey: "name",
    async items(ctx) {
      const state = await BtrfsState.of(ctx.services.store);
      return (await state.list()).map((sv, i) => subvolumeItem(sv, i));
    },
  };
}

/** The btrfs pool whose label is `label`; anything else is not a value `fs` accepts. */
function btrfsPool(ctx: ExecContext, label: string): PoolState {
  const pool = ctx.services.store.pools.find((p) => p.fs === "btrfs" && p.name === label);
  if (!pool) throw noMatchingValue("fs");
  return pool;
}

const addCommand: CommandDef = {
  args: {
    fs: "value",
    name: "value",
    parent: "value",
    "read-only": "value",
    mount: "value",
    mountpoint: "value",
    "copy-from": "value",
  },
  async run(ctx, call) {
    const store = ctx.services.store;
    for (const unsupported of ["mount", "mountpoint", "copy-from"]) {
      if (call.named.has(unsupported)) throw failure(`${unsupported}: ${FAILURES.unsupported}`);
    }
    const label = argText(call, "fs");
    if (!label) throw failure("fs must be specified");
    const pool = btrfsPool(ctx, label);
    const typed = argText(call, "name");
    if (!typed) throw failure("name must be specified");
    const relative = store.normalizeName(typed);
    if (!relative) throw failure(FAILURES.invalidPath);
    const full = `${pool.name}/${relative}`;
    const readOnly = argBool(call, "read-only") ?? false;

    const state = await BtrfsState.of(store);
    const subvolumes = await state.list();
    let parent: SubvolumeState | undefined;
    const parentName = argText(call, "parent");
    if (parentName) {
      const wanted = store.normalizeName(parentName);
      parent = subvolumes.find((sv) => sv.pool === pool.name && sv.name === wanted);
      if (!parent) throw noMatchingValue("parent");
    }
    if (await store.statName(full)) throw failure(FAILURES.fileExists);
    if (!(await store.statName(dirname(full)))?.isDirectory()) throw failure(FAILURES.parentMissing);
    if (await state.readOnlyContaining(full)) throw failure(BTRFS_FAILURES.readOnly);

    if (parent) {
      const parentFull = BtrfsState.fullName(parent);
      const nested = new Set((await state.nestedIn(parentFull)).map(BtrfsState.fullName));
      const skip = (n: string) => nested.has(n);
      // Thick accounting (store.ts): the copy counts in full, as the simulator counts every file.
      if ((await treeBytes(store, parentFull, skip)) > (await poolFree(ctx, pool)))
        throw failure(FAILURES.notEnoughSpace);
      await copyTree(store, parentFull, full, skip);
    } else {
      await store.makeDirectory(full);
    }
    const sv = await state.add(pool, relative, readOnly, parent);
    return id(sv.id);
  },
};

function removeCommand(src: ListSource): CommandDef {
  return {
    args: {},
    positionals: ["numbers"],
    async run(ctx, call) {
      const store = ctx.services.store;
      const state = await BtrfsState.of(store);
      const items = await selectItems(ctx, call, src);
      const all = await state.list();
      for (const item of items) {
        const sv = all.find((s) => s.id === item.id);
        if (!sv) continue;
        const full = BtrfsState.fullName(sv);
        if ((await state.nestedIn(full)).length > 0) throw failure(BTRFS_FAILURES.nested);
        if (store.disks.some((d) => d.filePath.startsWith(`${full}/`))) throw failure(FAILURES.fileInUse);
        await removeTree(store, full);
        await state.forget(sv.id);
      }
      return NIL;
    },
  };
}

export function subvolumeMenu(): MenuNode {
  const src = subvolumeSource();
  return menuNode(
    "subvolume",
    {
      add: addCommand,
      remove: removeCommand(src),
      print: printCommand(src),
      find: findCommand(src),
      get: getCommand(src),
    },
    [],
    PROP_KEYS,
  );
}

/** `/disk btrfs` with the `subvolume` menu (the simulator models no other btrfs menu). */
export function btrfsMenu(): MenuNode {
  return menuNode("btrfs", {}, [subvolumeMenu()]);
}
