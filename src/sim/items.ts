// Menu items as typed properties, and how each print form shows them: `print detail` (quoted strings,
// yes/no, grouped numbers, humanized sizes), table cells, and the scripting value (`as-value`, JSON, where).
import { type DetailRecord, groupDigits, humanSize, quoteString, type RenderProp } from "./render.ts";
import { bool, id, map, num, str, type Value } from "./values.ts";

/**
 * - `str`: free text, double-quoted in detail even when empty (`slot="x"`, `parent=""`)
 * - `word`: enums, paths, dates: unquoted (`type=file`, `fs=-`, `file-path=/pool/x.img`)
 * - `bool`: `yes`/`no` in print, `true`/`false` in scripts
 * - `int`: plain number (`nvme-tcp-server-port=4420`, `sector-size=512`)
 * - `bytes`: space-grouped exact number (`size=1 099 511 627 776`)
 * - `size`: humanized bytes in print (`file-size=1024.0GiB`), raw bytes in scripts
 * - `percent`: `use=8%` in print, `8` in scripts
 */
export type PropKind = "str" | "word" | "bool" | "int" | "bytes" | "size" | "percent";

export interface Prop {
  key: string;
  kind: PropKind;
  value: string | number | boolean;
  /** Not shown by `print detail`/table (flags as booleans, unexported server settings); scripts see it. */
  hidden?: boolean;
  /** Shown only with `show-sensitive`, never in scripts (tik4net §1: secrets are write-only over the CLI). */
  sensitive?: boolean;
}

export interface Item {
  /** Internal id, e.g. `*1A`. */
  id: string;
  /** Position in the whole menu list (print numbers). */
  number: number;
  /** Flag letters set, e.g. `Bt`. */
  flags: string;
  comment?: string;
  props: Prop[];
}

/** A property as `print detail` shows it. */
export function detailText(p: Prop): string {
  switch (p.kind) {
    case "str":
      return quoteString(String(p.value));
    case "bool":
      return p.value ? "yes" : "no";
    case "bytes":
      return groupDigits(Number(p.value));
    case "size":
      return humanSize(Number(p.value));
    case "percent":
      return `${p.value}%`;
    default:
      return String(p.value);
  }
}

/** A property as a table cell shows it: like detail, but strings unquoted. */
export function cellText(p: Prop): string {
  return p.kind === "str" ? String(p.value) : detailText(p);
}

/** A property as scripts see it (`as-value`, `:serialize`, `where`). */
export function scriptValue(p: Prop): Value {
  switch (p.kind) {
    case "bool":
      return bool(Boolean(p.value));
    case "int":
    case "bytes":
    case "size":
    case "percent":
      return num(Number(p.value));
    default:
      return str(String(p.value));
  }
}

export interface ViewOptions {
  showSensitive?: boolean;
  /** `proplist=`: only these keys (canonical order kept). */
  proplist?: ReadonlySet<string>;
}

export function toDetailRecord(item: Item, opts: ViewOptions = {}): DetailRecord {
  const props: RenderProp[] = item.props
    .filter(
      (p) =>
        !p.hidden && (!p.sensitive || opts.showSensitive) && (!opts.proplist || opts.proplist.has(p.key)),
    )
    .map((p) => ({ key: p.key, text: detailText(p) }));
  return { number: item.number, flags: item.flags, comment: item.comment, props };
}

/** One record for scripts: `.id` first, then every property in alphabetical order (as RouterOS does). */
export function toRecordValue(item: Item, opts: ViewOptions = {}): Value {
  const fields: Array<[string, Value]> = item.props
    .filter((p) => !p.sensitive && (!opts.proplist || opts.proplist.has(p.key)))
    .map((p) => [p.key, scriptValue(p)]);
  if (item.comment !== undefined && (!opts.proplist || opts.proplist.has("comment"))) {
    fields.push(["comment", str(item.comment)]);
  }
  fields.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return map([[".id", id(item.id)], ...fields]);
}

/** The value of `key` on an item for `where`; undefined when the item does not have the property. */
export function itemValue(item: Item, key: string): Value | undefined {
  if (key === ".id") return id(item.id);
  if (key === "comment") return item.comment === undefined ? undefined : str(item.comment);
  const p = item.props.find((x) => x.key === key);
  return p ? scriptValue(p) : undefined;
}
