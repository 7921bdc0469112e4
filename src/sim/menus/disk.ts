// `/disk` for ROSE file-backed disks (docs/routeros.md §1.2–1.6). Pools are pre-existing RAID disks;
// file disks are added, changed and removed here. `remove` deletes the item only: the file stays in /file.
import { dirname } from "node:path/posix";
import { argBool, argFileSize, argInt, argText } from "../args.ts";
import type { Call, CommandDef, ExecContext, MenuNode } from "../commands.ts";
import { menuNode } from "../commands.ts";
import { FAILURES, failure, noMatchingValue } from "../errors.ts";
import type { Item } from "../items.ts";
import { findCommand, getCommand, type ListSource, printCommand, selectItems } from "../list-menu.ts";
import {
  DISK_COLUMNS,
  DISK_FLAGS,
  DISK_PROP_KEYS,
  type FileDiskState,
  fileDiskItem,
  poolItem,
} from "../records.ts";
import type { PoolState, SimStore } from "../store.ts";
import { id, NIL } from "../values.ts";

const DISK_TYPES = [
  "raid",
  "nvme-tcp",
  "iscsi",
  "nfs",
  "smb",
  "partition",
  "tmpfs",
  "ramdisk",
  "crypted",
  "sshfs",
  "file",
  "hardware",
];

/** Settings the simulator accepts but does not model: only their default (off) value is allowed. */
const OFF_ONLY = [
  "iscsi-export",
  "nfs-sharing",
  "smb-sharing",
  "media-sharing",
  "swap",
  "mount-filesystem",
  "mount-read-only",
  "compress",
];

const COMMON_ARGS = {
  comment: "value",
  disabled: "value",
  slot: "value",
  "file-size": "value",
  "file-offset": "value",
  "nvme-tcp-export": "value",
  "nvme-tcp-server-port": "value",
  "nvme-tcp-server-nqn": "value",
  "nvme-tcp-server-allow-host-name": "value",
  "nvme-tcp-server-password": "value",
  ...Object.fromEntries(OFF_ONLY.map((k) => [k, "value"])),
} as const;

/** Free bytes of a pool: size minus every file on it (thick); 0 while the disk-full fault is on. */
export async function poolFree(ctx: ExecContext, pool: PoolState): Promise<number> {
  if (ctx.services.diskFull()) return 0;
  const { usedBytes } = await ctx.services.store.poolUsage(pool);
  return Math.max(0, pool.sizeBytes - usedBytes);
}

const isPool = (store: SimStore, item: Item): boolean => store.pools.some((p) => p.id === item.id);

function diskSource(): ListSource {
  return {
    flagDefs: DISK_FLAGS,
    columns: DISK_COLUMNS,
    nameKey: "slot",
    async items(ctx) {
      const store = ctx.services.store;
      const items: Item[] = [];
      for (const pool of store.pools) {
        const { entries } = await store.poolUsage(pool);
        const freeBytes = await poolFree(ctx, pool);
        items.push(poolItem({ ...pool, freeBytes, entries }, items.length));
      }
      for (const d of store.disks) items.push(fileDiskItem(d, items.length));
      return items;
    },
  };
}

/** Default slot (§1.2): `file-` + the path as typed with `/` and `.` replaced by `-`. */
export function defaultSlot(filePathAsTyped: string): string {
  return `file-${filePathAsTyped.replace(/[/.]/g, "-")}`;
}

function checkOffOnly(call: Call): void {
  for (const key of OFF_ONLY) if (argBool(call, key)) throw failure(`${key}: ${FAILURES.unsupported}`);
}

interface ExportSettings {
  nvmeExport?: boolean;
  nvmePort?: number;
  nqn?: string;
  allowHost?: string;
  password?: string;
}

function exportArgs(call: Call): ExportSettings {
  return {
    nvmeExport: argBool(call, "nvme-tcp-export"),
    nvmePort: argInt(call, "nvme-tcp-server-port", 1, 65535),
    nqn: argText(call, "nvme-tcp-server-nqn"),
    allowHost: argText(call, "nvme-tcp-server-allow-host-name"),
    password: argText(call, "nvme-tcp-server-password"),
  };
}

/** An exported disk's NQN is `nvme-tcp-server-nqn`, or the slot when unset (§7); it must be unique. */
function checkNqnUnique(store: SimStore, disk: FileDiskState): void {
  if (!disk.nvmeExport) return;
  const nqn = disk.nqn || disk.slot;
  if (store.disks.some((d) => d.id !== disk.id && d.nvmeExport && (d.nqn || d.slot) === nqn)) {
    throw failure(FAILURES.duplicateNqn);
  }
}

function checkSlotFree(store: SimStore, slot: string, self?: string): void {
  if (store.pools.some((p) => p.name === slot) || store.disks.some((d) => d.slot === slot && d.id !== self)) {
    throw failure(FAILURES.duplicateSlot);
  }
}

const addCommand: CommandDef = {
  args: { type: "value", "file-path": "value", parent: "value", "copy-from": "value", ...COMMON_ARGS },
  async run(ctx, call) {
    const store = ctx.services.store;
    const type = argText(call, "type");
    if (type === undefined) throw failure("disk type must be specified");
    if (!DISK_TYPES.includes(type)) throw noMatchingValue("type");
    if (type !== "file") throw failure(FAILURES.onlyFileType);
    if (call.named.has("copy-from")) throw failure(`copy-from: ${FAILURES.unsupported}`);
    if (argText(call, "parent")) throw failure(`parent: ${FAILURES.unsupported}`);
    checkOffOnly(call);

    const typedPath = argText(call, "file-path");
    if (!typedPath) throw failure(FAILURES.filePathRequired);
    const name = store.normalizeName(typedPath);
    if (!name) throw failure(FAILURES.invalidPath);
    const pool = store.poolOf(name);
    if (!pool || name === pool.name) throw failure(FAILURES.notOnDisk);

    const slot = argText(call, "slot") || defaultSlot(typedPath);
    const exp = exportArgs(call);
    const size = argFileSize(call, "file-size");
    const offset = argInt(call, "file-offset", 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const disabled = argBool(call, "disabled") ?? false;
    const comment = argText(call, "comment") || undefined;

    checkSlotFree(store, slot);
    if (store.disks.some((d) => d.filePath === name)) throw failure(FAILURES.duplicateFilePath);
    const disk: FileDiskState = {
      id: "",
      slot,
      filePath: name,
      fileSize: 0,
      fileOffset: offset,
      comment,
      disabled,
      nvmeExport: exp.nvmeExport ?? false,
      nvmePort: exp.nvmePort ?? 4420,
      nqn: exp.nqn ?? "",
      allowHost: exp.allowHost ?? "",
      password: exp.password ?? "",
    };
    checkNqnUnique(store, disk);

    const parent = await store.statName(dirname(name));
    if (!parent?.isDirectory()) throw failure(FAILURES.parentMissing);
    const existing = await store.statName(name);
    if (existing?.isDirectory()) throw failure(FAILURES.invalidPath);
    if (size === undefined) {
      // Attach an existing file (the documented "mount images" form).
      if (!existing) throw failure(FAILURES.fileMissing);
      disk.fileSize = existing.size;
    } else if (existing) {
      if (size < existing.size) throw failure(FAILURES.smallerThanFile);
      if (size - existing.size > (await poolFree(ctx, pool))) throw failure(FAILURES.notEnoughSpace);
      if (size > existing.size) await store.resizeFile(name, size);
      disk.fileSize = size;
    } else {
      if (size > (await poolFree(ctx, pool))) throw failure(FAILURES.notEnoughSpace);
      await store.createSparseFile(name, size);
      disk.fileSize = size;
    }
    disk.id = store.allocateId();
    store.disks.push(disk);
    await store.save();
    return id(disk.id);
  },
};

/** The file disks behind the selected items; any pool in the selection is refused. */
async function selectFileDisks(ctx: ExecContext, call: Call, src: ListSource): Promise<FileDiskState[]> {
  const store = ctx.services.store;
  const items = await selectItems(ctx, call, src);
  if (items.some((i) => isPool(store, i))) throw failure(FAILURES.poolReadOnly);
  return items.map((i) => store.disks.find((d) => d.id === i.id)).filter((d) => d !== undefined);
}

function setCommand(src: ListSource): CommandDef {
  return {
    args: COMMON_ARGS,
    positionals: ["numbers"],
    async run(ctx, call) {
      const store = ctx.services.store;
      const disks = await selectFileDisks(ctx, call, src);
      checkOffOnly(call);
      const exp = exportArgs(call);
      const size = argFileSize(call, "file-size");
      const disabled = argBool(call, "disabled");
      const slot = argText(call, "slot");
      const comment = argText(call, "comment");
      if (call.named.has("file-offset")) throw failure(`file-offset: ${FAILURES.unsupported}`);
      for (const disk of disks) {
        const next: FileDiskState = {
          ...disk,
          slot: slot || disk.slot,
          disabled: disabled ?? disk.disabled,
          comment: comment === undefined ? disk.comment : comment || undefined,
          nvmeExport: exp.nvmeExport ?? disk.nvmeExport,
          nvmePort: exp.nvmePort ?? disk.nvmePort,
          nqn: exp.nqn ?? disk.nqn,
          allowHost: exp.allowHost ?? disk.allowHost,
          password: exp.password ?? disk.password,
        };
        if (next.slot !== disk.slot) checkSlotFree(store, next.slot, disk.id);
        checkNqnUnique(store, next);
        if (size !== undefined && size !== disk.fileSize) {
          if (size < disk.fileSize) throw failure(FAILURES.shrink);
          const pool = store.poolOf(disk.filePath);
          if (!pool || size - disk.fileSize > (await poolFree(ctx, pool)))
            throw failure(FAILURES.notEnoughSpace);
          await store.resizeFile(disk.filePath, size);
          next.fileSize = size;
        }
        Object.assign(disk, next);
      }
      await store.save();
      return NIL;
    },
  };
}

function removeCommand(src: ListSource): CommandDef {
  return {
    args: {},
    positionals: ["numbers"],
    async run(ctx, call) {
      const store = ctx.services.store;
      const gone = new Set((await selectFileDisks(ctx, call, src)).map((d) => d.id));
      if (gone.size === 0) return NIL;
      store.disks = store.disks.filter((d) => !gone.has(d.id));
      await store.save();
      return NIL;
    },
  };
}

function enableCommand(src: ListSource, disabled: boolean): CommandDef {
  return {
    args: {},
    positionals: ["numbers"],
    async run(ctx, call) {
      const disks = await selectFileDisks(ctx, call, src);
      for (const d of disks) d.disabled = disabled;
      await ctx.services.store.save();
      return NIL;
    },
  };
}

export function diskMenu(): MenuNode {
  const src = diskSource();
  return menuNode(
    "disk",
    {
      add: addCommand,
      set: setCommand(src),
      remove: removeCommand(src),
      enable: enableCommand(src, false),
      disable: enableCommand(src, true),
      print: printCommand(src),
      find: findCommand(src),
      get: getCommand(src),
    },
    [],
    DISK_PROP_KEYS,
  );
}
