// `/file` (docs/routeros.md §4): the real files under each pool. `remove` deletes the real file and so
// gives its space back to the pool; a file still used by a `/disk` item is refused.
import { dirname } from "node:path/posix";
import { argText } from "../args.ts";
import type { CommandDef, MenuNode } from "../commands.ts";
import { menuNode } from "../commands.ts";
import { FAILURES, failure, noMatchingValue, noSuchItem } from "../errors.ts";
import { findCommand, getCommand, type ListSource, printCommand, selectItems } from "../list-menu.ts";
import { FILE_COLUMNS, FILE_PROP_KEYS, fileItem } from "../records.ts";
import { id, NIL, str, toText } from "../values.ts";

/** `/file` items as a list menu sees them (also the source of `/file copy`). */
export function fileSource(): ListSource {
  return {
    flagDefs: [],
    columns: FILE_COLUMNS,
    nameKey: "name",
    async items(ctx) {
      return (await ctx.services.store.listFiles()).map((f, i) => fileItem(f, i));
    },
  };
}

const addCommand: CommandDef = {
  args: { name: "value", type: "value", contents: "value" },
  async run(ctx, call) {
    const store = ctx.services.store;
    const type = argText(call, "type") ?? "file";
    if (type !== "file" && type !== "directory") throw noMatchingValue("type");
    const typed = argText(call, "name");
    if (!typed) throw failure("file name must be specified");
    const name = store.normalizeName(typed);
    const pool = name ? store.poolOf(name) : undefined;
    if (!name || !pool || name === pool.name) throw failure(FAILURES.invalidPath);
    if (await store.statName(name)) throw failure(FAILURES.fileExists);
    const parent = await store.statName(dirname(name));
    if (!parent?.isDirectory()) throw failure(FAILURES.parentMissing);
    if (type === "directory") await store.makeDirectory(name);
    else await store.writeFileContents(name, argText(call, "contents") ?? "");
    const created = (await store.listFiles()).find((f) => f.name === name);
    return created ? id(created.id) : NIL;
  },
};

function removeCommand(src: ListSource): CommandDef {
  return {
    args: {},
    positionals: ["numbers"],
    async run(ctx, call) {
      const store = ctx.services.store;
      const items = await selectItems(ctx, call, src);
      for (const item of items) {
        const name = String(item.props.find((p) => p.key === "name")?.value);
        const type = String(item.props.find((p) => p.key === "type")?.value);
        if (type === "disk") throw failure(FAILURES.removeDisk);
        if (type === "directory") {
          try {
            await store.removeDirectory(name);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "ENOTEMPTY") throw failure(FAILURES.dirNotEmpty);
            throw err;
          }
          continue;
        }
        if (store.disks.some((d) => d.filePath === name)) throw failure(FAILURES.fileInUse);
        await store.removeFile(name);
      }
      if (items.length > 0) await store.save();
      return NIL;
    },
  };
}

/** Largest file whose `contents` `get` returns **[chosen]**: key and text files, never a disk image. */
const CONTENTS_LIMIT = 64 * 1024;

/** `get <file> contents` reads the file; every other property comes from the listing. */
function fileGetCommand(src: ListSource): CommandDef {
  const get = getCommand(src);
  return {
    ...get,
    async run(ctx, call) {
      const valueName = call.named.get("value-name");
      if (!valueName || toText(valueName.value) !== "contents") return get.run(ctx, call);
      const [item] = await selectItems(ctx, call, src, "number");
      if (!item) throw noSuchItem();
      const name = String(item.props.find((p) => p.key === "name")?.value);
      const text = await ctx.services.store.readSmallFile(name, CONTENTS_LIMIT);
      if (text === undefined) throw failure("file is too big or not a file");
      return str(text);
    },
  };
}

export function fileMenu(): MenuNode {
  const src = fileSource();
  return menuNode(
    "file",
    {
      add: addCommand,
      remove: removeCommand(src),
      print: printCommand(src),
      find: findCommand(src),
      get: fileGetCommand(src),
    },
    [],
    FILE_PROP_KEYS,
  );
}
