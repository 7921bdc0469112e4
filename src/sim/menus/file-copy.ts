// `/file copy <source> name=<destination>` (RouterOS 7.23+, docs/routeros.md §4–5): copies a file, or a
// directory recursively. The source is named like any `/file` item (a name, `*id`, or `[find ...]`); the
// destination is a new name on a mounted disk. RouterOS does not document whether it reflinks; the
// simulator reflinks when the host file system can and makes a full copy otherwise (copy.ts), and counts
// the copy thick on the destination pool either way.
//
// **[chosen]** behaviour where RouterOS is undocumented: an existing destination is refused (no
// overwrite); a destination inside a read-only btrfs subvolume fails with `read-only file system`.
import { dirname } from "node:path/posix";
import { argText } from "../args.ts";
import { BtrfsState } from "../btrfs.ts";
import type { Call, CommandDef, ExecContext } from "../commands.ts";
import { copyTree, treeBytes } from "../copy.ts";
import { FAILURES, failure, noSuchItem } from "../errors.ts";
import { resolveNumbers } from "../list-menu.ts";
import { NIL } from "../values.ts";
import { BTRFS_FAILURES } from "./btrfs.ts";
import { poolFree } from "./disk.ts";
import { fileSource } from "./file.ts";

const files = fileSource();

/** The one source entry: its name and type. A typed name may carry a leading slash. */
async function sourceOf(ctx: ExecContext, call: Call): Promise<{ name: string; type: string }> {
  const arg = call.named.get("numbers");
  if (!arg) throw failure("source file must be specified");
  const value =
    arg.value.t === "str"
      ? { ...arg.value, v: ctx.services.store.normalizeName(arg.value.v) ?? arg.value.v }
      : arg.value;
  const [item, ...more] = resolveNumbers(value, await files.items(ctx), "name");
  if (!item) throw noSuchItem();
  if (more.length > 0) throw failure("only one source can be copied at a time");
  const text = (key: string) => String(item.props.find((p) => p.key === key)?.value ?? "");
  return { name: text("name"), type: text("type") };
}

export const fileCopyCommand: CommandDef = {
  args: { name: "value" },
  positionals: ["numbers"],
  async run(ctx, call) {
    const store = ctx.services.store;
    const source = await sourceOf(ctx, call);
    if (source.type === "disk") throw failure("can not copy a disk mount point");
    const typed = argText(call, "name");
    if (!typed) throw failure("file name must be specified");
    const dst = store.normalizeName(typed);
    const pool = dst ? store.poolOf(dst) : undefined;
    if (!dst || !pool || dst === pool.name) throw failure(FAILURES.invalidPath);
    if (dst === source.name || dst.startsWith(`${source.name}/`)) throw failure(FAILURES.invalidPath);
    if (await store.statName(dst)) throw failure(FAILURES.fileExists);
    if (!(await store.statName(dirname(dst)))?.isDirectory()) throw failure(FAILURES.parentMissing);
    if (await (await BtrfsState.of(store)).readOnlyContaining(dst)) throw failure(BTRFS_FAILURES.readOnly);
    if ((await treeBytes(store, source.name)) > (await poolFree(ctx, pool)))
      throw failure(FAILURES.notEnoughSpace);
    await copyTree(store, source.name, dst);
    return NIL;
  },
};
