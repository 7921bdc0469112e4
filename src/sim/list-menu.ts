// Commands every list menu shares (`print`, `find`, `get`) and how `numbers` selects items: a name, a print
// number, an internal id `*1A`, a comma list of those, or the ids returned by `[find ...]`.
import type { Call, CommandDef, ExecContext } from "./commands.ts";
import { noMatchingValue, noSuchItem } from "./errors.ts";
import {
  cellText,
  type Item,
  itemValue,
  scriptValue,
  toDetailRecord,
  toRecordValue,
  type ViewOptions,
} from "./items.ts";
import { CRLF, type FlagDef, renderDetail, renderTable, renderTerse, type TableColumn } from "./render.ts";
import { arr, id, NIL, num, toText, type Value } from "./values.ts";
import { compileWhere } from "./where.ts";

export interface ListSource {
  flagDefs: readonly FlagDef[];
  columns: ReadonlyArray<TableColumn & { key: string }>;
  /** Property that names an item for `numbers` (`slot`, `name`). */
  nameKey: string;
  /** All items, numbered by position. */
  items(ctx: ExecContext): Promise<Item[]>;
}

/** Items selected by a `numbers` value; unknown names/ids/numbers → `no such item`; `[find]` may be empty. */
export function resolveNumbers(value: Value, items: readonly Item[], nameKey: string): Item[] {
  const out = new Map<string, Item>();
  const one = (token: string): void => {
    let hit: Item | undefined;
    if (/^\*[0-9A-Fa-f]+$/.test(token)) hit = items.find((i) => i.id.toUpperCase() === token.toUpperCase());
    else if (/^\d+$/.test(token)) hit = items.find((i) => i.number === Number(token));
    else hit = items.find((i) => toText(itemValue(i, nameKey) ?? NIL) === token);
    if (!hit) throw noSuchItem();
    out.set(hit.id, hit);
  };
  const visit = (v: Value): void => {
    if (v.t === "arr") {
      for (const e of v.v) visit(e);
    } else if (v.t === "id") {
      one(v.v);
    } else if (v.t === "str" || v.t === "num") {
      for (const t of toText(v).split(",")) one(t.trim());
    } else {
      throw noSuchItem();
    }
  };
  visit(value);
  return [...out.values()];
}

export async function selectItems(
  ctx: ExecContext,
  call: Call,
  src: ListSource,
  argName = "numbers",
): Promise<Item[]> {
  const numbers = call.named.get(argName);
  if (!numbers) throw noSuchItem();
  return resolveNumbers(numbers.value, await src.items(ctx), src.nameKey);
}

async function filtered(ctx: ExecContext, call: Call, src: ListSource): Promise<Item[]> {
  const items = await src.items(ctx);
  if (!call.where) return items;
  const pred = await compileWhere(call.where, (n) => ctx.evalValue(n));
  return items.filter(pred);
}

export const PRINT_MODIFIERS = {
  detail: "flag",
  "as-value": "flag",
  "count-only": "flag",
  terse: "flag",
  brief: "flag",
  "without-paging": "flag",
  "show-sensitive": "flag",
  proplist: "value",
} as const;

export function printCommand(src: ListSource): CommandDef {
  return {
    args: PRINT_MODIFIERS,
    where: true,
    async run(ctx, call) {
      const items = await filtered(ctx, call, src);
      const f = call.flags;
      if (f.has("count-only")) {
        if (!ctx.inSubstitution && !f.has("as-value")) ctx.print(`${items.length}${CRLF}`);
        return num(items.length);
      }
      const proplistText = call.named.get("proplist");
      const proplist = proplistText ? new Set(toText(proplistText.value).split(",")) : undefined;
      const view: ViewOptions = { showSensitive: f.has("show-sensitive"), proplist };
      if (f.has("as-value")) return arr(items.map((i) => toRecordValue(i, view)));
      if (f.has("terse")) {
        ctx.print(
          renderTerse(
            items.map((i) => toDetailRecord(i, view)),
            { flagDefs: src.flagDefs },
          ),
        );
      } else if (f.has("detail")) {
        ctx.print(
          renderDetail(
            items.map((i) => toDetailRecord(i, view)),
            { width: ctx.width, flagDefs: src.flagDefs },
          ),
        );
      } else {
        const columns = proplist
          ? [...proplist].map((key) => {
              const kind = items[0]?.props.find((p) => p.key === key)?.kind;
              const numeric = kind === "int" || kind === "bytes" || kind === "size" || kind === "percent";
              return {
                key,
                title: key.toUpperCase(),
                align: numeric ? ("right" as const) : ("left" as const),
              };
            })
          : src.columns;
        const rows = items.map((i) => ({
          number: i.number,
          flags: i.flags,
          comment: i.comment,
          cells: columns.map((c) => {
            const p = i.props.find((x) => x.key === c.key);
            return p ? cellText(p) : "";
          }),
        }));
        ctx.print(renderTable(columns, rows, { width: ctx.width, flagDefs: src.flagDefs }));
      }
      return NIL;
    },
  };
}

export function findCommand(src: ListSource): CommandDef {
  return {
    args: {},
    expression: true,
    async run(ctx, call) {
      return arr((await filtered(ctx, call, src)).map((i) => id(i.id)));
    },
  };
}

/** `get <item> [<property>]`: one property's value, or the whole record without a property name. */
export function getCommand(src: ListSource): CommandDef {
  return {
    args: {},
    positionals: ["number", "value-name"],
    async run(ctx, call) {
      const [item] = await selectItems(ctx, call, src, "number");
      if (!item) throw noSuchItem();
      const name = call.named.get("value-name");
      if (!name) return toRecordValue(item);
      const key = toText(name.value);
      if (key === "comment") return item.comment === undefined ? NIL : { t: "str", v: item.comment };
      const p = item.props.find((x) => x.key === key && !x.sensitive);
      if (!p) throw noMatchingValue("value-name");
      return scriptValue(p);
    },
  };
}
